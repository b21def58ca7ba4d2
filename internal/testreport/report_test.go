package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestReport replays testdata/events.json, the output of a real `go test
// -json` over packages that pass, skip (a test and a subtest), fail, do
// not build, panic and have no tests.
func TestReport(t *testing.T) {
	f, err := os.Open("testdata/events.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	skips, failed := report(f, &out)
	if !failed {
		t.Error("failed: got false; want true")
	}
	want := []skipped{
		{"example.com/sample/a", "TestSkip", "a_test.go:6: dig not installed (apt-get install bind9-dnsutils); skipping"},
		{"example.com/sample/a", "TestSub/needs_tool", "a_test.go:9: kdig not installed; skipping"},
	}
	if !slices.Equal(skips, want) {
		t.Errorf("skipped:\ngot  %q\nwant %q", skips, want)
	}
	text := out.String()
	for _, s := range []string{
		"c/c.go:3:23: cannot use", "FAIL\texample.com/sample/c [build failed]", // the build error
		"a_test.go:11: got 1; want 2", "--- FAIL: TestFail", "FAIL\texample.com/sample/a", // the failing test, whole
		"ok  \texample.com/sample/b", "?   \texample.com/sample/e\t[no test files]", // results
		"panic: assignment to entry in nil map", "d_test.go:5: about to", // the panic and the log before it
	} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q", s)
		}
	}
	for _, s := range []string{"some log", "=== RUN   TestPass", "dig not installed", "\nPASS\n"} {
		if strings.Contains(text, s) {
			t.Errorf("output has %q, which plain go test would not print", s)
		}
	}

	var sum strings.Builder
	summary(&sum, "example.com/sample", skips)
	wantSum := "  a TestSkip: a_test.go:6: dig not installed (apt-get install bind9-dnsutils); skipping\n" +
		"  a TestSub/needs_tool: a_test.go:9: kdig not installed; skipping\n"
	if got := sum.String(); !strings.HasPrefix(got, "skipped tests (2)") || !strings.HasSuffix(got, wantSum) {
		t.Errorf("summary:\n%s\nwant it to end with:\n%s", got, wantSum)
	}
	sum.Reset()
	summary(&sum, "example.com/sample", nil)
	if got := sum.String(); got != "skipped tests: none\n" {
		t.Errorf("summary with nothing skipped: got %q", got)
	}
}

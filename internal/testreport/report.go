package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent, with
// the build events of the go command).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail
	Test       string
	Output     string
}

// skipped is a test that called t.Skip, and what it said.
type skipped struct {
	Package, Test, Reason string
}

// report reads `go test -json` from r and writes what plain `go test`
// would: each package's result line, and the whole output of every test
// that failed (passing and skipped tests print nothing). Lines that are
// not JSON are copied as they are. It returns the tests that were
// skipped, with their reasons, and whether anything failed.
func report(r io.Reader, w io.Writer) (skips []skipped, failed bool) {
	type key struct{ pkg, test string }
	running := map[key][]string{} // output of tests not finished yet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		k := key{e.Package, e.Test}
		switch {
		case e.Action == "build-output":
			io.WriteString(w, e.Output)
		case e.Action == "build-fail":
			failed = true
		case e.Test == "" && e.Action == "output":
			if e.Output != "PASS\n" && e.Output != "FAIL\n" {
				io.WriteString(w, e.Output)
			}
		case e.Test == "" && e.Action == "fail":
			failed = true
			// A test binary that died (panic, timeout) may leave tests
			// that never ended: their output is the evidence.
			for rk, out := range running {
				if rk.pkg == e.Package {
					io.WriteString(w, strings.Join(out, ""))
					delete(running, rk)
				}
			}
		case e.Test == "":
		case e.Action == "output":
			if !strings.HasPrefix(e.Output, "=== ") { // RUN, PAUSE, CONT: only -v shows them
				running[k] = append(running[k], e.Output)
			}
		case e.Action == "fail":
			failed = true
			io.WriteString(w, strings.Join(running[k], ""))
			delete(running, k)
		case e.Action == "skip":
			skips = append(skips, skipped{Package: e.Package, Test: e.Test, Reason: skipReason(running[k])})
			delete(running, k)
		case e.Action == "pass":
			delete(running, k)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(w, "testreport: reading go test -json: %v\n", err)
		failed = true
	}
	return skips, failed
}

// skipReason is what a skipped test logged: its indented lines, the
// file:line prefix kept, joined into one line.
func skipReason(out []string) string {
	var parts []string
	for _, l := range out {
		if !strings.HasPrefix(l, "    ") {
			continue // --- SKIP
		}
		parts = append(parts, strings.TrimSpace(l))
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}

// summary writes the skipped tests, one a line, package paths relative to
// the module.
func summary(w io.Writer, module string, skips []skipped) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "skipped tests: none")
		return
	}
	fmt.Fprintf(w, "skipped tests (%d), each with its reason:\n", len(skips))
	for _, s := range skips {
		pkg := strings.TrimPrefix(strings.TrimPrefix(s.Package, module), "/")
		if pkg == "" {
			pkg = "."
		}
		fmt.Fprintf(w, "  %s %s: %s\n", pkg, s.Test, s.Reason)
	}
}

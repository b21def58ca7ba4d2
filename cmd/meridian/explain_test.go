package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
)

// TestExplainGolden runs every case of testdata/explain/cases.txt through
// the real binary and compares the trace with testdata/explain/NAME.golden.
func TestExplainGolden(t *testing.T) {
	bin := testbin.Build(t)
	dir := filepath.Join("testdata", "explain")
	f, err := os.Open(filepath.Join(dir, "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, args, _ := strings.Cut(line, "|")
		name, args = strings.TrimSpace(name), strings.TrimSpace(args)
		n++
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"explain", "--config", "meridian.yaml"}, strings.Fields(args)...)...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			code := exitCode(t, err)
			got := "$ meridian explain " + args + "\n" + string(out) + "exit: " + string(rune('0'+code)) + "\n"
			golden := filepath.Join(dir, name+".golden")
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no explain cases")
	}
}

// TestExplainShowsHealth probes real origins: one up, one refusing.
func TestExplainShowsHealth(t *testing.T) {
	up := testorigin.NewHTTP(t, "127.0.0.2:0", "ok\n")
	_, port, _ := net.SplitHostPort(up.Addr)
	down := testorigin.NewHTTP(t, "127.0.0.3:"+port, "ok\n")
	down.Stop()
	dir := t.TempDir()
	testbin.WriteFile(t, filepath.Join(dir, "meridian.yaml"), "zones: {dir: zones}\n")
	testbin.WriteFile(t, filepath.Join(dir, "zones", "example.com.yaml"), failoverZone(port))
	cmd := exec.Command(testbin.Build(t), "explain", "--config", filepath.Join(dir, "meridian.yaml"),
		"app.example.com", "--client", "192.0.2.1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"health (one live probe of each endpoint, now):",
		"http://127.0.0.2:" + port + "/health: up at one probe, ",
		"(status 200, ",
		"http://127.0.0.3:" + port + "/health: down at one probe, ",
		"(connection refused, ",
		"pool primary: 127.0.0.2 weight 1 status obey: serviceable (health up)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	// The primary down: explain shows the fallback.
	up.Stop()
	out, _ = exec.Command(testbin.Build(t), "explain", "--config", filepath.Join(dir, "meridian.yaml"),
		"app.example.com", "--client", "192.0.2.1").CombinedOutput()
	if !strings.Contains(string(out), "every pool exhausted: fail-open") {
		t.Errorf("with both origins down: got\n%s", out)
	}
}

package main

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

func TestVersion(t *testing.T) {
	out, err := exec.Command(testbin.Build(t), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "meridian v0.0.0-test ") {
		t.Errorf("version: got %q; want the version embedded with -ldflags -X", out)
	}
}

func TestBadConfigAtStartIsFatal(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "meridian.yaml")
	if err := os.WriteFile(cfg, []byte("dns:\n  listen: [\"127.0.0.1:0\"]\n  udp_sise: 1232\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testbin.Build(t), "serve", "--config", cfg)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: got %v; want status 1", err)
	}
	if want := cfg + `:3: unknown key "dns.udp_sise"`; !strings.Contains(string(out), want) {
		t.Errorf("output: got %q; want it to contain %q", out, want)
	}
}

func TestTCPLimits(t *testing.T) {
	cfg := testbin.Config(`dns:
  listen: ["127.0.0.1:0"]
  tcp: {max_connections: 2, idle_timeout: 300ms, read_timeout: 300ms}
`)
	n := testbin.Start(t, cfg, map[string]string{"zones/example.org.yaml": orgYAML})

	// Two connections are held open by idle clients.
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", n.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Wait until the server has accepted both: a third client takes the
	// place of the idlest (which the server closes) and is answered, while
	// UDP is answered too.
	time.Sleep(100 * time.Millisecond)
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	if r, _, err := c.Exchange(q("web.example.org.", dns.TypeA), n.Addr); err != nil || len(r.Answer) != 1 {
		t.Fatalf("a new TCP client while idle ones fill the limit: %v %v", r, err)
	}
	if a, _ := firstA(t, n.Addr, "web.example.org."); a != "192.0.2.80" {
		t.Errorf("UDP while TCP is full: got %q", a)
	}
	// Idle connections are closed by the server after the timeout.
	for i, c := range held {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("idle connection %d: got %v; want closed by the server", i, err)
		}
	}
	// With the idle ones gone, TCP is served again.
	testbin.Eventually(t, 5*time.Second, func() bool {
		c := &dns.Client{Net: "tcp", Timeout: time.Second}
		r, _, err := c.Exchange(q("web.example.org.", dns.TypeA), n.Addr)
		return err == nil && len(r.Answer) == 1
	}, "TCP to be served after idle connections closed")
}

// TestHelp runs every sub-command with --help and -h: each prints its
// usage and examples on standard output and exits 0. A bad flag points to
// --help and exits 2; -v and --version print the version.
func TestHelp(t *testing.T) {
	bin := testbin.Build(t)
	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir() // no ./meridian.yaml
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		return o.String(), e.String(), exitCode(t, err)
	}
	for _, c := range []string{"serve", "check", "status", "explain", "drain", "keygen", "version"} {
		for _, flag := range []string{"--help", "-h"} {
			t.Run(c+" "+flag, func(t *testing.T) {
				out, errOut, code := run(c, flag)
				if code != 0 || !strings.HasPrefix(out, "usage: meridian "+c) || errOut != "" {
					t.Errorf("got exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", code, out, errOut)
				}
				if c != "version" && !strings.Contains(out, "example") {
					t.Errorf("got %q; want examples", out)
				}
			})
		}
	}
	tests := []struct {
		args           []string
		wantCode       int
		wantOut        string // prefix of stdout
		wantErr        string // substring of stderr
		wantErrMissing bool   // stderr must be empty
	}{
		{[]string{"help", "drain"}, 0, "usage: meridian drain TARGET", "", true},
		{[]string{"--help"}, 0, "usage: meridian <command>", "", true},
		{[]string{"-v"}, 0, "meridian v0.0.0-test ", "", true},
		{[]string{"--version"}, 0, "meridian v0.0.0-test ", "", true},
		{[]string{"explain", "app.example.com", "--client"}, 2, "", "meridian explain: flag --client needs a value\nRun 'meridian explain --help' for usage.", false},
		{[]string{"serve", "--bogus"}, 2, "", "meridian serve: unknown flag --bogus\nRun 'meridian serve --help'", false},
		{[]string{"check", "extra"}, 2, "", `meridian check: unexpected argument "extra"`, false},
		{[]string{"bogus"}, 2, "", `meridian: unknown command "bogus"`, false},
		{[]string{"check"}, 1, "no config file: none of ./meridian.yaml, /etc/meridian/meridian.yaml exists; pass --config FILE", "", false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := run(tt.args...)
			if code != tt.wantCode || !strings.HasPrefix(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) || (tt.wantErrMissing && errOut != "") {
				t.Errorf("got exit %d, stdout %q, stderr %q; want %d, stdout starting %q, stderr with %q",
					code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}

// TestDefaultConfig: without --config, check reads ./meridian.yaml; status
// without flags and without a config asks the default API address.
func TestDefaultConfig(t *testing.T) {
	bin := testbin.Build(t)
	dir := t.TempDir()
	testbin.WriteFile(t, filepath.Join(dir, "meridian.yaml"), "zones: {dir: zones}\n")
	testbin.WriteFile(t, filepath.Join(dir, "zones", "example.com.yaml"), "'':\n  - {type: NS, values: [ns1.example.com.]}\nns1: {type: A, value: 192.0.2.53}\n")
	cmd := exec.Command(bin, "check")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Errorf("check in a directory with meridian.yaml: got %v, %q; want ok", err, out)
	}

	cmd = exec.Command(bin, "status")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	// A node of this machine may listen there; either way the default
	// address is the one asked.
	switch code := exitCode(t, err); {
	case code == 0 && strings.Contains(string(out), "api:    http://127.0.0.1:8053\n"):
	case code == 1 && strings.Contains(string(out), "cannot reach the API at http://127.0.0.1:8053 (the default address"):
	default:
		t.Errorf("status without a config: got exit %d, %q; want the default address asked", code, out)
	}
}

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

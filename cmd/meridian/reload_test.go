package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// firstA returns the first A answer for name, or "" (with the rcode).
func firstA(t *testing.T, addr, name string) (string, int) {
	t.Helper()
	r := exchange(t, addr, "udp", q(name, dns.TypeA))
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String(), r.Rcode
		}
	}
	return "", r.Rcode
}

func serial(t *testing.T, addr, zone string) uint32 {
	t.Helper()
	r := exchange(t, addr, "udp", q(zone, dns.TypeSOA))
	if len(r.Answer) != 1 {
		t.Fatalf("SOA %s: got %v", zone, r)
	}
	return r.Answer[0].(*dns.SOA).Serial
}

func TestReloadOnFileChange(t *testing.T) {
	n := startNode(t)
	orgPath := filepath.Join(n.Dir, "zones", "example.org.yaml")
	s1 := serial(t, n.Addr, "example.org.")

	// A good change is applied without a signal, and the serial goes up.
	testbin.WriteFile(t, orgPath, strings.Replace(orgYAML, "192.0.2.80", "192.0.2.81", 1))
	testbin.Eventually(t, 5*time.Second, func() bool { a, _ := firstA(t, n.Addr, "web.example.org."); return a == "192.0.2.81" },
		"the changed answer\n%s", n.Logs)
	s2 := serial(t, n.Addr, "example.org.")
	if s2 <= s1 {
		t.Errorf("serial after change: got %d; want more than %d", s2, s1)
	}

	// A broken change keeps the last good zone serving, while other zones
	// still update, and the error names the file and line.
	bad := strings.Replace(orgYAML, "192.0.2.25", "192.0.2.300", 1)
	testbin.WriteFile(t, orgPath, bad)
	testbin.WriteFile(t, filepath.Join(n.Dir, "zones", "example.net.zone"), strings.Replace(netZone, "203.0.113.10", "203.0.113.11", 1))
	testbin.Eventually(t, 5*time.Second, func() bool { a, _ := firstA(t, n.Addr, "example.net."); return a == "203.0.113.11" },
		"example.net to update\n%s", n.Logs)
	n.WaitLog(`example.org.yaml:10: invalid IPv4 address \"192.0.2.300\"`, 5*time.Second)
	if a, _ := firstA(t, n.Addr, "web.example.org."); a != "192.0.2.81" {
		t.Errorf("after a bad change: got %q; want the last good answer 192.0.2.81", a)
	}
	if a, _ := firstA(t, n.Addr, "mail.example.org."); a != "192.0.2.25" {
		t.Errorf("after a bad change: got %q; want the last good answer 192.0.2.25", a)
	}
	if s := serial(t, n.Addr, "example.org."); s != s2 {
		t.Errorf("serial after a bad change: got %d; want %d", s, s2)
	}

	// A new zone file is picked up; a removed one stops being served.
	extra := filepath.Join(n.Dir, "zones", "example.com.zone")
	testbin.WriteFile(t, extra, strings.ReplaceAll(netZone, "example.net.", "example.com."))
	testbin.Eventually(t, 5*time.Second, func() bool { a, _ := firstA(t, n.Addr, "example.com."); return a == "203.0.113.10" },
		"the new zone\n%s", n.Logs)
	if err := os.Remove(extra); err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, 5*time.Second, func() bool { _, rc := firstA(t, n.Addr, "example.com."); return rc == dns.RcodeRefused },
		"the removed zone to be refused\n%s", n.Logs)
}

func TestReloadConfigOnSIGHUP(t *testing.T) {
	n := startNode(t)
	version := func() string {
		m := q("version.bind.", dns.TypeTXT)
		m.Question[0].Qclass = dns.ClassCHAOS
		r := exchange(t, n.Addr, "udp", m)
		if len(r.Answer) != 1 {
			return ""
		}
		return r.Answer[0].(*dns.TXT).Txt[0]
	}
	if v := version(); v != "meridian test" {
		t.Fatalf("version.bind: got %q", v)
	}
	// A broken config is reported and the running one kept.
	testbin.WriteFile(t, n.Config, baseConfig+"bogus_key: 1\n")
	n.Signal(syscall.SIGHUP)
	n.WaitLog("config reload failed", 5*time.Second)
	if !strings.Contains(n.Logs(), `unknown key \"bogus_key\"`) {
		t.Errorf("logs: got\n%s\nwant the unknown key named", n.Logs())
	}
	if a, _ := firstA(t, n.Addr, "web.example.org."); a != "192.0.2.80" {
		t.Errorf("after a bad config: got %q; want answers to go on", a)
	}
	// A good config applies.
	testbin.WriteFile(t, n.Config, strings.Replace(baseConfig, "meridian test", "meridian reloaded", 1))
	n.Signal(syscall.SIGHUP)
	testbin.Eventually(t, 5*time.Second, func() bool { return version() == "meridian reloaded" }, "the new version string\n%s", n.Logs)
}

func TestBrokenZoneAtStart(t *testing.T) {
	n := testbin.Start(t, baseConfig, map[string]string{
		"zones/example.org.yaml": "www: {type: A, value: nope}\n",
		"zones/example.net.zone": netZone,
	})
	n.WaitLog("example.org.yaml:1", 5*time.Second)
	if a, _ := firstA(t, n.Addr, "example.net."); a != "203.0.113.10" {
		t.Errorf("good zone: got %q; want it served", a)
	}
	if _, rc := firstA(t, n.Addr, "www.example.org."); rc != dns.RcodeRefused {
		t.Errorf("broken zone: got rcode %d; want REFUSED (not served)", rc)
	}
}

func TestSerialSurvivesRestart(t *testing.T) {
	cfg := testbin.Config(baseConfig + "state_dir: state\n")
	n := testbin.Start(t, cfg, map[string]string{"zones/example.org.yaml": orgYAML})
	s1 := serial(t, n.Addr, "example.org.")
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n.Restart()
	if s := serial(t, n.Addr, "example.org."); s != s1 {
		t.Errorf("serial after restart with the same content: got %d; want %d", s, s1)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	testbin.WriteFile(t, filepath.Join(n.Dir, "zones", "example.org.yaml"), strings.Replace(orgYAML, "192.0.2.80", "192.0.2.82", 1))
	n.Restart()
	if s := serial(t, n.Addr, "example.org."); s <= s1 {
		t.Errorf("serial after restart with new content: got %d; want more than %d", s, s1)
	}
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// handTyped are records of the types most often written by hand, one name
// each, with the least data a well-formed one of the type has on the wire.
var handTyped = []struct {
	name, typ, data string
	qtype           uint16
	minRdata        int
}{
	{"cname", "CNAME", "www.example.org.", dns.TypeCNAME, 1},
	{"a", "A", "203.0.113.1", dns.TypeA, 4},
	{"aaaa", "AAAA", "2001:db8::1", dns.TypeAAAA, 16},
	{"mx", "MX", "10 mail.example.org.", dns.TypeMX, 3},
	{"txt", "TXT", `"hello"`, dns.TypeTXT, 1},
	{"ns", "NS", "ns1.example.org.", dns.TypeNS, 1},
	{"srv", "SRV", "10 5 443 web.example.org.", dns.TypeSRV, 7},
	{"ptr", "PTR", "web.example.org.", dns.TypePTR, 1},
}

// wellFormed fails t when a record of r has less data than its type
// needs, which resolvers and dig reject as a bad packet.
func wellFormed(t *testing.T, what string, r *dns.Msg) {
	t.Helper()
	for _, rr := range slices.Concat(r.Answer, r.Ns, r.Extra) {
		for _, h := range handTyped {
			if rr.Header().Rrtype == h.qtype && int(rr.Header().Rdlength) < h.minRdata {
				t.Errorf("%s: %s has %d bytes of data; want at least %d", what, rr, rr.Header().Rdlength, h.minRdata)
			}
		}
	}
}

// TestReloadMasterEmptyRdata: a master file whose records have their type
// and no data is refused with a problem at each such record's line, be
// it last in the file (the parser once took it for a deletion and the
// zone loaded); the zone's previous version keeps serving, and no
// malformed answer goes out.
func TestReloadMasterEmptyRdata(t *testing.T) {
	good, every := netZone, netZone
	for _, h := range handTyped {
		good += fmt.Sprintf("%s IN %s %s\n", h.name, h.typ, h.data)
		every += fmt.Sprintf("%s IN %s\n", h.name, h.typ)
	}
	n := testbin.Start(t, baseConfig, map[string]string{"zones/example.net.zone": good})
	ask := func(t *testing.T, prefix string) map[string]string {
		got := map[string]string{}
		for _, h := range handTyped {
			for _, network := range []string{"udp", "tcp"} {
				what := network + " " + prefix + h.name + " " + h.typ
				r := exchange(t, n.Addr, network, q(prefix+h.name+".example.net.", h.qtype))
				wellFormed(t, what, r)
				got[what] = fmt.Sprint(dns.RcodeToString[r.Rcode], answers(r), r.Ns)
			}
		}
		return got
	}
	before := ask(t, "")

	first := strings.Count(netZone, "\n") + 1
	bad := func(name, text string, lines ...string) {
		t.Run(name, func(t *testing.T) {
			testbin.WriteFile(t, filepath.Join(n.Dir, "zones", "example.net.zone"), text)
			for _, l := range lines {
				logged(t, n, "example.net.zone:"+l+" record has no data")
			}
			after := ask(t, "")
			for what, want := range before {
				if after[what] != want {
					t.Errorf("%s: got %s; want %s, as before", what, after[what], want)
				}
			}
			for what, got := range ask(t, "x") {
				if !strings.HasPrefix(got, "NXDOMAIN") {
					t.Errorf("%s: got %s; want NXDOMAIN, as before", what, got)
				}
			}
		})
	}
	var lines []string
	for i, h := range handTyped {
		lines = append(lines, fmt.Sprintf("%d: %s", first+i, h.typ))
	}
	bad("every type", every, lines...)
	for _, h := range handTyped {
		last := fmt.Sprintf("%d: %s", first+len(handTyped), h.typ)
		bad("last "+h.typ, good+"x"+h.name+" IN "+h.typ+"\n", last)
	}

	t.Run("dig", func(t *testing.T) {
		dig := lookTool(t, "dig")
		for _, h := range handTyped {
			for name, status := range map[string]string{h.name: "NOERROR", "x" + h.name: "NXDOMAIN"} {
				o := runTool(t, dig, n.Addr, "+norec", name+".example.net", h.typ)
				if o.status != status || strings.Contains(o.raw, "bad packet") {
					t.Errorf("dig %s %s: got\n%s\nwant %s", name, h.typ, o.raw, status)
				}
			}
		}
	})
}

// TestZoneLinkOutside: a zone file that is a symbolic link leading out
// of the zones directory is refused, unread: the status API, which
// anyone may call, shows the problem and nothing of the file. A link
// that stays inside, as a ConfigMap mount's into "..data", is served.
func TestZoneLinkOutside(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "example.com.yaml")
	if err := os.WriteFile(outside, []byte("www: {type: A, value: s3cr3t-token}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := testbin.Start(t, baseConfig, map[string]string{
		"zones/example.org.yaml":         orgYAML,
		"zones/..data/example.info.yaml": strings.ReplaceAll(orgYAML, "example.org.", "example.info."),
	})
	zones := filepath.Join(n.Dir, "zones")
	rel, err := filepath.Rel(zones, outside)
	if err != nil {
		t.Fatal(err)
	}
	for target, link := range map[string]string{rel: "example.com.yaml", "..data/example.info.yaml": "example.info.yaml"} {
		if err := os.Symlink(target, filepath.Join(zones, link)); err != nil {
			t.Fatal(err)
		}
	}

	const want = `example.com.yaml: symbolic link leads outside the zones directory"`
	var status []byte
	testbin.Eventually(t, 5*time.Second, func() bool {
		_, status = apiCall(t, n, "GET", "/api/v1/status", "")
		return bytes.Contains(status, []byte(want))
	}, "the problem in the status\n%s", func() string { return string(status) })
	if bytes.Contains(status, []byte("s3cr3t")) || strings.Contains(n.Logs(), "s3cr3t") {
		t.Errorf("the outside file shows: status\n%s\nlogs\n%s", status, n.Logs())
	}
	if _, rc := firstA(t, n.Addr, "www.example.com."); rc != dns.RcodeRefused {
		t.Errorf("www.example.com: got rcode %d; want REFUSED (the zone is not served)", rc)
	}
	if a, _ := firstA(t, n.Addr, "web.example.info."); a != "192.0.2.80" {
		t.Errorf("web.example.info through a link inside: got %q; want 192.0.2.80", a)
	}
}

// logged waits until n has logged s; unlike WaitLog it lets the test go
// on when it has not, to check what is served all the same.
func logged(t *testing.T, n *testbin.Node, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(n.Logs(), s) {
		if time.Now().After(deadline) {
			t.Errorf("no log line %q after 5s", s)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

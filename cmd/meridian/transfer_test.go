package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/notifytest"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

const (
	xfrKey    = "xfr-key."
	xfrSecret = "c2VjcmV0LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OWFiY2RlZg=="
)

// xfrZoneYAML has static records of several types and a dynamic record
// whose pool values must not leave the fleet: only its top-level values
// are transferred.
const xfrZoneYAML = `'':
  - {type: NS, values: [ns1.example.org., ns2.example.org.]}
  - {type: MX, value: {preference: 10, exchange: mail.example.org.}}
  - {type: TXT, value: v=spf1 -all}
ns1: {type: A, value: 192.0.2.53}
ns2: {type: AAAA, value: "2001:db8::53"}
mail: {type: A, ttl: 120, value: 192.0.2.25}
www: {type: CNAME, value: web.example.org.}
web: {type: A, ttl: 60, value: 192.0.2.80}
_sip._tcp: {type: SRV, value: {priority: 10, weight: 5, port: 5060, target: web.example.org.}}
app:
  type: A
  values: [192.0.2.10, 192.0.2.11]
  dynamic:
    pools:
      eu: {values: [{value: 198.51.100.1, status: up}]}
      us: {values: [{value: 203.0.113.1, status: up}]}
    rules:
      - {geos: [EU], pool: eu}
      - {pool: us}
`

// xfrWant lists what a transfer of example.org must hold besides the SOA
// (name, TTL, type, rdata): every static record, and the dynamic record
// as its top-level values with dynamic_ttl.
var xfrWant = []string{
	"example.org. 3600 IN NS ns1.example.org.",
	"example.org. 3600 IN NS ns2.example.org.",
	"example.org. 3600 IN MX 10 mail.example.org.",
	`example.org. 3600 IN TXT "v=spf1 -all"`,
	"_sip._tcp.example.org. 3600 IN SRV 10 5 5060 web.example.org.",
	"app.example.org. 30 IN A 192.0.2.10",
	"app.example.org. 30 IN A 192.0.2.11",
	"mail.example.org. 120 IN A 192.0.2.25",
	"ns1.example.org. 3600 IN A 192.0.2.53",
	"ns2.example.org. 3600 IN AAAA 2001:db8::53",
	"web.example.org. 60 IN A 192.0.2.80",
	"www.example.org. 3600 IN CNAME web.example.org.",
}

// xfrTool finds dig or kdig; with CI (or MERIDIAN_REQUIRE_TOOLS) set a
// missing tool fails the test instead of skipping it.
func xfrTool(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil && os.Getenv("CI") != "" {
		t.Fatalf("%s not installed but CI is set", name)
	}
	return lookTool(t, name)
}

// xfrRun runs dig or kdig against the node and returns what it printed
// (both streams); a transfer that fails is not a test failure here.
func xfrRun(t *testing.T, tool, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	base := []string{"@" + host, "-p", port, "+time=3", "+tries=1"}
	if strings.HasSuffix(tool, "kdig") {
		base = []string{"@" + host, "-p", port, "+timeout=3", "+retry=0"}
	}
	out, _ := exec.Command(tool, append(base, args...)...).CombinedOutput()
	return string(out)
}

// xfrRecords returns the records a tool printed, whitespace-normalised,
// without comments and the TSIG pseudo-record.
func xfrRecords(out string) []string {
	var rrs []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || strings.HasPrefix(f[0], ";") || f[3] == "TSIG" {
			continue
		}
		rrs = append(rrs, strings.Join(f, " "))
	}
	return rrs
}

// checkFullZone: the SOA first and last, everything in xfrWant in
// between, and no pool value.
func checkFullZone(t *testing.T, out string) {
	t.Helper()
	rrs := xfrRecords(out)
	if len(rrs) < 2 || !strings.Contains(rrs[0], " IN SOA ") || rrs[len(rrs)-1] != rrs[0] {
		t.Fatalf("want the SOA first and last; got\n%s", out)
	}
	got := map[string]bool{}
	for _, rr := range rrs[1 : len(rrs)-1] {
		if strings.Contains(rr, " IN SOA ") {
			t.Errorf("a SOA inside the transfer: %s", rr)
		}
		got[rr] = true
	}
	for _, w := range xfrWant {
		if !got[w] {
			t.Errorf("missing %q; got\n%s", w, out)
		}
	}
	if len(got) != len(xfrWant) {
		t.Errorf("got %d records between the SOAs; want %d\n%s", len(got), len(xfrWant), out)
	}
	for _, pool := range []string{"198.51.100.1", "203.0.113.1"} {
		if strings.Contains(out, pool) {
			t.Errorf("pool value %s transferred; want only top-level values", pool)
		}
	}
}

func xfrConfig(transfer string) testbin.Config {
	return testbin.Config(baseConfig + transfer)
}

func TestTransferAXFR(t *testing.T) {
	dig := xfrTool(t, "dig")
	n := testbin.Start(t, xfrConfig("transfer: {allow: [127.0.0.1/32]}\n"), map[string]string{
		"zones/example.org.yaml": xfrZoneYAML,
		"zones/example.net.zone": netZone,
	})

	out := xfrRun(t, dig, n.Addr, "AXFR", "example.org.")
	checkFullZone(t, out)
	if !strings.Contains(out, "XFR size: 14 records (messages 1") {
		t.Errorf("dig's summary: want 14 records in one message\n%s", out)
	}
	// A master-file zone comes out as written.
	netOut := xfrRun(t, dig, n.Addr, "AXFR", "example.net.")
	for _, w := range []string{"example.net. 300 IN A 203.0.113.10", "alias.example.net. 300 IN CNAME www.example.org."} {
		if !slices.Contains(xfrRecords(netOut), w) {
			t.Errorf("example.net: missing %q\n%s", w, netOut)
		}
	}

	// IXFR from an older serial: the whole zone in AXFR form. From the
	// current serial: the SOA alone.
	s := serial(t, n.Addr, "example.org.")
	checkFullZone(t, xfrRun(t, dig, n.Addr, fmt.Sprintf("IXFR=%d", s-1), "example.org."))
	if rrs := xfrRecords(xfrRun(t, dig, n.Addr, fmt.Sprintf("IXFR=%d", s), "example.org.")); len(rrs) != 1 || !strings.Contains(rrs[0], " SOA ") {
		t.Errorf("IXFR from the current serial: got %q; want the SOA alone", rrs)
	}

	// Over UDP an IXFR gets the SOA alone (come back over TCP) and an AXFR
	// FORMERR.
	if rrs := xfrRecords(xfrRun(t, dig, n.Addr, "+notcp", fmt.Sprintf("IXFR=%d", s-1), "example.org.")); len(rrs) != 1 || !strings.Contains(rrs[0], " SOA ") {
		t.Errorf("IXFR over UDP: got %q; want the SOA alone", rrs)
	}
	if r := exchange(t, n.Addr, "udp", q("example.org.", dns.TypeAXFR)); r.Rcode != dns.RcodeFormatError {
		t.Errorf("AXFR over UDP: got %s; want FORMERR", dns.RcodeToString[r.Rcode])
	}
	// A name that is not a zone apex is NOTAUTH.
	if r := exchange(t, n.Addr, "tcp", q("www.example.org.", dns.TypeAXFR)); r.Rcode != dns.RcodeNotAuth {
		t.Errorf("AXFR of a non-apex name: got %s; want NOTAUTH", dns.RcodeToString[r.Rcode])
	}
	waitTransfers(t, n, 4, 1)
}

// waitTransfers waits for meridian_transfers_total to show ok and refused
// (a transfer is counted after its last message, which the client may have
// read already).
func waitTransfers(t *testing.T, n *testbin.Node, ok, refused float64) {
	t.Helper()
	var m map[string]float64
	testbin.Eventually(t, 5*time.Second, func() bool {
		m = scrapeMetrics(t, n)
		return m[mkey("meridian_transfers_total", "result", "ok")] == ok &&
			m[mkey("meridian_transfers_total", "result", "refused")] == refused
	}, "meridian_transfers_total ok=%v refused=%v; got %v", ok, refused, func() string {
		return fmt.Sprint(withPrefix(m, "meridian_transfers_total"))
	})
}

func TestTransferLargeZone(t *testing.T) {
	dig := xfrTool(t, "dig")
	var b strings.Builder
	b.WriteString(xfrZoneYAML)
	for i := range 2000 {
		fmt.Fprintf(&b, "host%04d: {type: TXT, value: %s}\n", i, strings.Repeat("z", 100))
	}
	n := testbin.Start(t, xfrConfig("transfer: {allow: [127.0.0.0/8]}\n"), map[string]string{"zones/example.org.yaml": b.String()})
	out := xfrRun(t, dig, n.Addr, "AXFR", "example.org.")
	rrs := xfrRecords(out)
	if len(rrs) != 2000+len(xfrWant)+2 || rrs[0] != rrs[len(rrs)-1] {
		t.Fatalf("got %d records; want %d, SOA first and last\n%.2000s", len(rrs), 2000+len(xfrWant)+2, out)
	}
	msgs := regexp.MustCompile(`XFR size: \d+ records \(messages (\d+)`).FindStringSubmatch(out)
	if msgs == nil || msgs[1] == "1" {
		t.Errorf("want the zone split over several messages; dig said %v", msgs)
	}
}

func TestTransferTSIG(t *testing.T) {
	kdig := xfrTool(t, "kdig")
	tsig := fmt.Sprintf("  tsig: {name: %s, algorithm: hmac-sha256, secret: %q}\n", xfrKey, xfrSecret)
	n := testbin.Start(t, xfrConfig("transfer:\n  allow: [127.0.0.1/32]\n"+tsig), map[string]string{
		"zones/example.org.yaml": xfrZoneYAML,
	})
	key := "hmac-sha256:" + strings.TrimSuffix(xfrKey, ".") + ":" + xfrSecret

	// Signed with the key: the zone, and kdig checked every message's TSIG.
	out := xfrRun(t, kdig, n.Addr, "-y", key, "AXFR", "example.org.")
	checkFullZone(t, out)
	if !strings.Contains(out, xfrKey) || strings.Contains(out, "WARNING") {
		t.Errorf("want a verified TSIG on the transfer\n%s", out)
	}
	// IXFR answered as AXFR, signed.
	s := serial(t, n.Addr, "example.org.")
	checkFullZone(t, xfrRun(t, kdig, n.Addr, "-y", key, fmt.Sprintf("IXFR=%d", s-1), "example.org."))

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unsigned", nil, "REFUSED"},
		{"wrong secret", []string{"-y", "hmac-sha256:xfr-key:" + "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="}, "BADSIG"},
		{"unknown key", []string{"-y", "hmac-sha256:other-key:" + xfrSecret}, "BADKEY"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := xfrRun(t, kdig, n.Addr, append(tt.args, "AXFR", "example.org.")...)
			if !strings.Contains(out, tt.want) || strings.Contains(out, "192.0.2.") {
				t.Errorf("want %s and no records\n%s", tt.want, out)
			}
		})
	}
	n.WaitLog(`msg="zone transfer refused" client=127.0.0.1 zone=example.org. type=AXFR reason="request not signed with transfer.tsig"`, 5*time.Second)

	// From outside transfer.allow even the right key is REFUSED; the
	// change applies on SIGHUP.
	testbin.WriteFile(t, n.Config, string(xfrConfig("transfer:\n  allow: [127.0.0.2/32]\n"+tsig)))
	n.Signal(syscall.SIGHUP)
	n.WaitLog("config reloaded", 5*time.Second)
	out = xfrRun(t, kdig, n.Addr, "-y", key, "AXFR", "example.org.")
	if !strings.Contains(out, "REFUSED") || strings.Contains(out, "192.0.2.") {
		t.Errorf("outside allow: want REFUSED\n%s", out)
	}
	n.WaitLog(`reason="client not in transfer.allow"`, 5*time.Second)
	waitTransfers(t, n, 2, 4)
}

func TestTransferNotify(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("tsig=%v", signed), func(t *testing.T) {
			sec := notifytest.Start(t, 1, map[string]string{xfrKey: xfrSecret}) // the first NOTIFY of each serial goes unanswered
			transfer := fmt.Sprintf("transfer:\n  allow: [127.0.0.1/32]\n  notify: [%q]\n", sec.Addr)
			if signed {
				transfer += fmt.Sprintf("  tsig: {name: %s, algorithm: hmac-sha256, secret: %q}\n", xfrKey, xfrSecret)
			}
			n := testbin.Start(t, xfrConfig(transfer), map[string]string{
				"zones/example.org.yaml": xfrZoneYAML,
				"zones/example.net.zone": netZone,
			})
			// At start every zone is notified; the unanswered first try is
			// retried.
			s1 := serial(t, n.Addr, "example.org.")
			testbin.Eventually(t, 10*time.Second, func() bool {
				a := len(sec.Of("example.org.", s1))
				b := len(sec.Of("example.net.", 2026010101))
				return a == 2 && b == 2
			}, "two NOTIFYs of each zone at start\n%s", n.Logs)

			// A changed zone is notified with its new serial; the reply to
			// the second try stops the retries.
			testbin.WriteFile(t, filepath.Join(n.Dir, "zones", "example.org.yaml"), strings.Replace(xfrZoneYAML, "192.0.2.80", "192.0.2.81", 1))
			var s2 uint32
			testbin.Eventually(t, 5*time.Second, func() bool { s2 = serial(t, n.Addr, "example.org."); return s2 != s1 },
				"the serial to change\n%s", n.Logs)
			testbin.Eventually(t, 10*time.Second, func() bool { return len(sec.Of("example.org.", s2)) == 2 },
				"two NOTIFYs of serial %d\n%s", s2, n.Logs)
			time.Sleep(2500 * time.Millisecond) // a third try would come 2s after the second
			all := sec.Of("example.org.", s2)
			if c := len(all); c != 2 {
				t.Errorf("got %d NOTIFYs of serial %d; want 2: the reply stops the retries", c, s2)
			}
			for _, g := range all {
				if g.Signed != signed || (signed && g.TSIG != nil) {
					t.Errorf("NOTIFY %+v (TSIG check: %v); want signed=%v and verified", g, g.TSIG, signed)
				}
			}
			if c := len(sec.Of("example.net.", 2026010101)); c != 2 {
				t.Errorf("example.net.: got %d NOTIFYs; want still 2 (its serial did not change)", c)
			}
			// The secondary can now fetch the new version.
			if signed {
				out := xfrRun(t, xfrTool(t, "kdig"), n.Addr, "-y", "hmac-sha256:xfr-key:"+xfrSecret, "AXFR", "example.org.")
				if !strings.Contains(out, "192.0.2.81") {
					t.Errorf("the transfer after the NOTIFY lacks the change\n%s", out)
				}
			}
			m := scrapeMetrics(t, n)
			if got := m[mkey("meridian_notifies_total", "result", "acked")]; got != 3 {
				t.Errorf("meridian_notifies_total{result=acked}: got %v; want 3", got)
			}
		})
	}
}

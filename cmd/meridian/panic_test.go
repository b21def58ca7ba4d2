package main

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// TestPanicContained arms the test-only hook (MERIDIAN_TEST_PANIC_NAME) of
// the built binary and sends it the poison query over UDP, on the fast
// path and the general path, and over TCP: each time the answer is
// SERVFAIL, the node answers the next query as usual, and the panic is
// logged with the query in hex and counted. Without the hook the name is
// an ordinary one.
func TestPanicContained(t *testing.T) {
	files := map[string]string{"zones/example.org.yaml": orgYAML}
	n := testbin.StartEnv(t, []string{"MERIDIAN_TEST_PANIC_NAME=boom.example.org"}, baseConfig, files)
	n.WaitLog(`msg="test hook armed`, 5*time.Second)

	fast := q("boom.example.org.", dns.TypeA)
	general := withOption(q("Boom.Example.org.", dns.TypeA), &dns.EDNS0_EXPIRE{Code: dns.EDNS0EXPIRE}) // an option the fast path leaves alone
	for _, tt := range []struct {
		name, network string
		m             *dns.Msg
	}{
		{"udp fast path", "udp", fast},
		{"udp general path", "udp", general},
		{"tcp", "tcp", fast},
		{"tcp again", "tcp", general},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := exchange(t, n.Addr, tt.network, tt.m.Copy())
			if r.Rcode != dns.RcodeServerFailure || r.Id != tt.m.Id || len(r.Question) != 1 || r.Question[0] != tt.m.Question[0] {
				t.Errorf("got\n%v\nwant SERVFAIL with the question", r)
			}
			r = exchange(t, n.Addr, tt.network, q("web.example.org.", dns.TypeA))
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				t.Errorf("after the panic: got\n%v\nwant the answer", r)
			}
			wire, err := tt.m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			n.WaitLog(hex.EncodeToString(wire), 5*time.Second)
		})
	}
	if !strings.Contains(n.Logs(), `level=ERROR msg="panic while answering a query`) {
		t.Errorf("no error line for the panics:\n%s", n.Logs())
	}
	m := scrapeMetrics(t, n)
	diffMetrics(t, "panics", withPrefix(m, "meridian_dns_panics_total"), map[string]float64{
		mkey("meridian_dns_panics_total", "transport", "udp"): 2,
		mkey("meridian_dns_panics_total", "transport", "tcp"): 2,
	})

	// Off by default: the same name is answered as any other.
	plain := testbin.Start(t, baseConfig, files)
	for _, network := range []string{"udp", "tcp"} {
		if r := exchange(t, plain.Addr, network, fast.Copy()); r.Rcode != dns.RcodeNameError {
			t.Errorf("%s without the hook: got %s; want NXDOMAIN", network, dns.RcodeToString[r.Rcode])
		}
	}
	if strings.Contains(plain.Logs(), "test hook") {
		t.Errorf("hook reported armed without the variable:\n%s", plain.Logs())
	}
}

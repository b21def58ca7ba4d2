package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// TestRRL floods the binary over UDP from a non-exempt client: answers
// beyond the budget are truncated (slip 1), dig then gets the answer over
// TCP, which is never limited, and the metrics count what was held back.
func TestRRL(t *testing.T) {
	dig := lookTool(t, "dig")
	n := testbin.Start(t, `node: {name: rrl-1, region: test}
dns:
  listen: ["127.0.0.1:0"]
  rrl: {responses_per_second: 5, slip: 1, window: 5s, exempt: []}
zones: {dir: zones, debounce: 50ms}
`, map[string]string{"zones/example.org.yaml": orgYAML})

	c := &dns.Client{Net: "udp", Timeout: time.Second}
	full, truncated := 0, 0
	for range 50 {
		r, _, err := c.Exchange(q("web.example.org.", dns.TypeA), n.Addr)
		if err != nil {
			t.Fatalf("UDP query: %v (slip 1 answers every limited query)", err)
		}
		switch {
		case r.Truncated && len(r.Answer) == 0 && len(r.Ns) == 0:
			truncated++
		case !r.Truncated && len(r.Answer) == 1:
			full++
		default:
			t.Fatalf("unexpected response: %v", r)
		}
	}
	// 5 a second with a burst of 5: a flood of 50 gets a handful in full.
	if full < 5 || full > 15 || truncated != 50-full {
		t.Errorf("50 queries: %d answered in full, %d truncated; want about 5 in full, the rest truncated", full, truncated)
	}
	out := runTool(t, dig, n.Addr, "web.example.org.", "A", "+norec")
	if len(out.answer) != 1 || !strings.Contains(out.answer[0], "192.0.2.80") {
		t.Fatalf("dig during the flood: %s", out.raw)
	}
	if !strings.Contains(out.raw, "Truncated, retrying in TCP mode") {
		t.Errorf("dig was answered over UDP although the flood had used the budget:\n%s", out.raw)
	}
	m := scrapeMetrics(t, n)
	if m[mkey("meridian_dns_rrl_responses_total", "action", "slipped")] < float64(truncated) {
		t.Errorf("slipped responses counted: %v; want at least %d", withPrefix(m, "meridian_dns_rrl"), truncated)
	}
}

// TestTCPIdleClients holds many idle TCP connections open against the
// binary, from many addresses: UDP and new TCP clients are still answered.
func TestTCPIdleClients(t *testing.T) {
	dig := lookTool(t, "dig")
	n := testbin.Start(t, `node: {name: tcp-1, region: test}
dns:
  listen: ["127.0.0.1:0"]
  tcp: {max_connections: 40, max_connections_per_client: 4, idle_timeout: 60s, read_timeout: 60s}
zones: {dir: zones, debounce: 50ms}
`, map[string]string{"zones/example.org.yaml": orgYAML})
	held := 0
	for i := range 50 {
		for range 6 {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.9.%d", i+1))}, Timeout: 2 * time.Second}
			c, err := d.Dial("tcp", n.Addr)
			if err != nil {
				continue // the kernel's backlog may refuse some; that is the point
			}
			defer c.Close()
			held++
		}
	}
	if held < 100 {
		t.Fatalf("only %d idle connections opened", held)
	}
	for i := range 5 {
		out := runTool(t, dig, n.Addr, "web.example.org.", "A", "+norec")
		if len(out.answer) != 1 {
			t.Fatalf("UDP query %d with %d idle TCP clients: %s", i, held, out.raw)
		}
		out = runTool(t, dig, n.Addr, "web.example.org.", "A", "+norec", "+tcp")
		if len(out.answer) != 1 {
			t.Fatalf("TCP query %d with %d idle TCP clients: %s", i, held, out.raw)
		}
	}
	m := scrapeMetrics(t, n)
	if open := m["meridian_dns_tcp_connections"]; open > 40 {
		t.Errorf("%v TCP connections open; the limit is 40", open)
	}
	if m[mkey("meridian_dns_tcp_limited_total", "action", "refused")] < 50*2 {
		t.Errorf("per-client refusals: %v", withPrefix(m, "meridian_dns_tcp_limited"))
	}
}

// TestAmplification: answers never grow beyond what the question warrants.
func TestAmplification(t *testing.T) {
	n := startNode(t)
	// ANY gets one RRset (RFC 8482), not everything at the name.
	r := exchange(t, n.Addr, "udp", q("example.org.", dns.TypeANY))
	if len(r.Answer) == 0 {
		t.Fatalf("ANY at the apex: no answer: %v", r)
	}
	for _, rr := range r.Answer {
		if rr.Header().Rrtype != r.Answer[0].Header().Rrtype {
			t.Errorf("ANY answered with more than one RRset: %v", r.Answer)
		}
	}
	// Outside our zones: REFUSED and nothing else.
	r = exchange(t, n.Addr, "udp", q("www.example.com.", dns.TypeA))
	if r.Rcode != dns.RcodeRefused || len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 {
		t.Errorf("out-of-zone query: %v", r)
	}
	// A large answer to a query without EDNS: truncated within 512 bytes.
	m := q("big.example.org.", dns.TypeTXT)
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, UDPSize: 512}
	r, _, err := c.Exchange(m, n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if packed, _ := r.Pack(); !r.Truncated || len(packed) > 512 {
		t.Errorf("large answer without EDNS: TC %v, %d bytes", r.Truncated, len(packed))
	}
}

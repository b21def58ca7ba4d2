package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// TestRRLRandomNames floods the binary from one /24 with names and types
// made up so that each would be a new rate-limiting key if the key were
// the query name and type: random labels under a wildcard, and random
// types at a name that exists. Each flood gets at most rate × window
// answers in full (the rest truncated, slip 1), on the fast path, on the
// general path (a query with an EDNS option the fast path leaves to it)
// and on both at once, which share one budget; a client in another /24
// is still answered.
func TestRRLRandomNames(t *testing.T) {
	const rate, window, queries = 5, 2, 200
	n := testbin.Start(t, `node: {name: rrl-walk-1, region: test}
dns:
  listen: ["127.0.0.1:0"]
  rrl: {responses_per_second: 5, slip: 1, window: 2s, exempt: []}
zones: {dir: zones, debounce: 50ms}
`, map[string]string{"zones/example.org.yaml": orgYAML})

	r := rand.New(rand.NewPCG(19, 19))
	wildcard := func() (string, uint16) { return fmt.Sprintf("w%x.wild.example.org.", r.Uint64()), dns.TypeA }
	types := func() (string, uint16) { return "web.example.org.", uint16(1000 + r.IntN(60000)) }
	fast := func(*dns.Msg) {}
	general := func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1}})
	}
	both := func(m *dns.Msg) {
		if m.Id%2 == 0 {
			general(m)
		}
	}
	for i, tt := range []struct {
		name     string
		question func() (string, uint16)
		path     func(*dns.Msg)
	}{
		{"wildcard/fast", wildcard, fast},
		{"wildcard/general", wildcard, general},
		{"wildcard/both", wildcard, both},
		{"types/fast", types, fast},
		{"types/general", types, general},
		{"types/both", types, both},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A /24 of our own per flood, and another that does not flood.
			flooder := fmt.Sprintf("127.0.%d.1", 10+2*i)
			bystander := fmt.Sprintf("127.0.%d.1", 11+2*i)
			full, truncated := udpFlood(t, n.Addr, flooder, queries, func(id uint16) *dns.Msg {
				m := q(tt.question())
				m.Id = id
				tt.path(m)
				return m
			})
			t.Logf("%d queries from %s/24: %d answered in full, %d truncated", queries, flooder, full, truncated)
			if full < rate || full > rate*window+2 || full+truncated != queries {
				t.Errorf("%d queries from %s/24: %d answered in full, %d truncated; want %d to %d in full, the rest truncated",
					queries, flooder, full, truncated, rate, rate*window+2)
			}
			if f, _ := udpFlood(t, n.Addr, bystander, 1, func(id uint16) *dns.Msg {
				m := q(tt.question())
				m.Id = id
				tt.path(m)
				return m
			}); f != 1 {
				t.Errorf("a client in another /24 (%s) was not answered in full during the flood", bystander)
			}
		})
	}
}

// udpFlood sends count queries made by query, one after the other, from
// a UDP socket bound to the loopback address from, and counts the
// responses in full and those truncated and empty (RRL's slip).
func udpFlood(t *testing.T, server, from string, count int, query func(id uint16) *dns.Msg) (full, truncated int) {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: time.Second,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
	conn, err := c.Dial(server)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	defer conn.Close()
	for i := range count {
		m := query(uint16(i))
		r, _, err := c.ExchangeWithConn(m, conn)
		switch {
		case err != nil:
			t.Fatalf("query %d (%v) from %s: %v (slip 1 answers every limited query)", i, m.Question[0], from, err)
		case r.Truncated && len(r.Answer)+len(r.Ns) == 0:
			truncated++
		case !r.Truncated && r.Rcode == dns.RcodeSuccess:
			full++
		default:
			t.Fatalf("unexpected response to %v: %v", m.Question[0], r)
		}
	}
	return full, truncated
}

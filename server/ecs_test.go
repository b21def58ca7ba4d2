package server

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/geotest"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

const dynZone = `'':
  - {type: NS, value: ns1.example.org.}
ns1: {type: A, value: 192.0.2.53}
static: {type: A, value: 192.0.2.7}
app:
  - type: A
    values: [192.0.2.100]
    dynamic:
      pools:
        eu: {values: [{value: 198.51.100.100}]}
        us: {values: [{value: 192.0.2.100}]}
      rules:
        - {geos: [EU], pool: eu}
        - {pool: us}
  - type: AAAA
    values: ["2001:db8:1::100"]
    dynamic:
      pools:
        eu: {values: [{value: "2001:db8:2::100"}]}
        us: {values: [{value: "2001:db8:1::100"}]}
      rules:
        - {geos: [EU], pool: eu}
        - {pool: us}
`

func newDynServer(t *testing.T) *Server {
	t.Helper()
	return newGeoServer(t, DefaultOptions(), map[string]string{"example.org.yaml": dynZone})
}

// newGeoServer serves files (name → content) from a fresh zones
// directory, with a GeoIP database that puts 198.51.100.0/24 and
// 2001:db8:2::/48 in Germany and 192.0.2.0/24 in the US.
func newGeoServer(t testing.TB, o Options, files map[string]string) *Server {
	t.Helper()
	l, _ := testLoader(t, zones.Options{DynamicTTL: 30, DegradedTTL: 10,
		SOA: zones.SOAValues{RName: "h", Refresh: 1, Retry: 1, Expire: 1, Minimum: 60, TTL: 300}}, files)
	g, err := geo.Open([]string{geotest.WriteT(t, []geotest.Entry{
		{Network: "198.51.100.0/24", Country: "DE", Lat: 50.1, Lon: 8.7},
		{Network: "192.0.2.0/24", Country: "US", Lat: 38.9, Lon: -77},
		{Network: "2001:db8:2::/48", Country: "DE", Lat: 50.1, Lon: 8.7},
	})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	s := New(o, l, slog.New(slog.DiscardHandler))
	s.SetGeo(g)
	return s
}

func withECS(family uint16, addr string, source uint8) func(*dns.Msg) {
	return func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: source, Address: net.ParseIP(addr),
		})
	}
}

func replyECS(r *dns.Msg) *dns.EDNS0_SUBNET {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				return e
			}
		}
	}
	return nil
}

func TestECS(t *testing.T) {
	s := newDynServer(t)
	tests := []struct {
		name   string
		req    *dns.Msg
		src    string
		rcode  int
		answer string // first answer's address
		scope  int    // -1: no ECS in the reply
	}{
		{"ECS address decides", query("app.example.org.", dns.TypeA, withECS(1, "198.51.100.0", 24)), "192.0.2.1", dns.RcodeSuccess, "198.51.100.100", 24},
		{"packet source without ECS", query("app.example.org.", dns.TypeA), "198.51.100.9", dns.RcodeSuccess, "198.51.100.100", -1},
		{"source prefix 0: the packet source", query("app.example.org.", dns.TypeA, withECS(1, "0.0.0.0", 0)), "198.51.100.9", dns.RcodeSuccess, "198.51.100.100", 0},
		{"family 0 with prefix 0 (dig +subnet=0)", query("app.example.org.", dns.TypeA, withECS(0, "0.0.0.0", 0)), "192.0.2.1", dns.RcodeSuccess, "192.0.2.100", 0},
		{"IPv6 ECS", query("app.example.org.", dns.TypeAAAA, withECS(2, "2001:db8:2::", 48)), "192.0.2.1", dns.RcodeSuccess, "2001:db8:2::100", 48},
		{"static answer has scope 0", query("static.example.org.", dns.TypeA, withECS(1, "198.51.100.0", 24)), "192.0.2.1", dns.RcodeSuccess, "192.0.2.7", 0},
		{"unknown family is FORMERR", query("app.example.org.", dns.TypeA, withECS(3, "198.51.100.0", 24)), "192.0.2.1", dns.RcodeFormatError, "", -2},
		{"IPv4 prefix beyond 32 is FORMERR", query("app.example.org.", dns.TypeA, withECS(1, "198.51.100.0", 33)), "192.0.2.1", dns.RcodeFormatError, "", -2},
		{"IPv6 prefix beyond 128 is FORMERR", query("app.example.org.", dns.TypeA, withECS(2, "2001:db8::", 129)), "192.0.2.1", dns.RcodeFormatError, "", -2},
		{"address bits beyond the source prefix are FORMERR", query("app.example.org.", dns.TypeA, withECS(1, "198.51.100.7", 24)), "192.0.2.1", dns.RcodeFormatError, "", -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Respond(tt.req, netip.MustParseAddr(tt.src), false)
			if r.Rcode != tt.rcode {
				t.Fatalf("rcode: got %d; want %d", r.Rcode, tt.rcode)
			}
			if tt.answer != "" {
				if len(r.Answer) == 0 {
					t.Fatalf("got no answer")
				}
				var got string
				switch a := r.Answer[0].(type) {
				case *dns.A:
					got = a.A.String()
				case *dns.AAAA:
					got = a.AAAA.String()
				}
				if got != tt.answer {
					t.Errorf("answer: got %s; want %s", got, tt.answer)
				}
			}
			e := replyECS(r)
			switch {
			case tt.scope == -2:
			case tt.scope == -1 && e != nil:
				t.Errorf("got ECS %v in a reply to a query without it", e)
			case tt.scope >= 0 && e == nil:
				t.Errorf("got no ECS; want scope /%d", tt.scope)
			case tt.scope >= 0 && int(e.SourceScope) != tt.scope:
				t.Errorf("scope: got /%d; want /%d", e.SourceScope, tt.scope)
			case tt.scope >= 0 && e.SourceNetmask != tt.req.IsEdns0().Option[0].(*dns.EDNS0_SUBNET).SourceNetmask:
				t.Errorf("source prefix: got /%d; want it echoed", e.SourceNetmask)
			}
		})
	}
}

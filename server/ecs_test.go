package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

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

// TestECSMappedScope: an IPv4-mapped IPv6 source is the IPv4 client it
// stands for, and its scope comes back in IPv6 bits, the family it is
// echoed in. Every address inside the echoed address/scope gets the same
// answer, on the fast path and the general one alike.
func TestECSMappedScope(t *testing.T) {
	s := newFastServer(t, Options{UDPSize: 1232})
	fw, gw := newWorker(s), newWorker(s)
	src := netip.MustParseAddr("192.0.2.33")
	ask := func(t *testing.T, w *worker, general bool, addr netip.Addr, bits uint8) (string, *dns.EDNS0_SUBNET) {
		t.Helper()
		pkt := pack(t, query("app.example.com.", dns.TypeA, withECS(2, addr.String(), bits)))
		var out []byte
		if general {
			out = w.general(pkt, src)
		} else {
			out = w.answer(pkt, src)
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("%v/%d: got rcode %s, answer %v", addr, bits, dns.RcodeToString[r.Rcode], r.Answer)
		}
		return r.Answer[0].(*dns.A).A.String(), replyECS(r)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for _, tt := range []struct {
		source string
		answer string
		scope  int
	}{
		{"::ffff:198.51.100.0/120", "198.51.100.100", 120}, // the geo network, /24 in IPv4
		{"::ffff:203.0.113.0/121", "203.0.113.10", 121},    // the subnet rule, /25 in IPv4
		{"::ffff:203.0.113.128/121", "", 0},                // outside it: scope excludes it
		{"::ffff:0.0.0.0/96", "", 0},                       // every IPv4 address asked at once
		{"::ffff:192.0.2.0/120", "192.0.2.100", 0},         // the catch-all
	} {
		p := netip.MustParsePrefix(tt.source)
		for _, general := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/general=%v", tt.source, general), func(t *testing.T) {
				w := fw
				if general {
					w = gw
				}
				got, e := ask(t, w, general, p.Addr(), uint8(p.Bits()))
				if tt.answer != "" && got != tt.answer {
					t.Errorf("answer: got %s; want %s", got, tt.answer)
				}
				if e == nil || e.Family != 2 || int(e.SourceNetmask) != p.Bits() {
					t.Fatalf("echo: got %v; want family 2 with source /%d", e, p.Bits())
				}
				scope := int(e.SourceScope)
				if tt.scope != 0 && scope != tt.scope {
					t.Errorf("scope: got /%d; want /%d", scope, tt.scope)
				}
				if scope < 96 {
					t.Fatalf("scope /%d reaches beyond the IPv4-mapped addresses", scope)
				}
				in := netip.PrefixFrom(p.Addr(), scope).Masked()
				for range 20 {
					other := randomAddrIn(rng, in)
					if o, _ := ask(t, w, general, other, 128); o != got {
						t.Fatalf("%v inside the echoed %v got %s; %v got %s", other, in, o, p, got)
					}
				}
			})
		}
	}
}

// randomAddrIn returns a random address inside p.
func randomAddrIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	a := p.Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 96
	}
	for bit := off + p.Bits(); bit < 128; bit++ {
		if rng.IntN(2) == 1 {
			a[bit/8] |= 0x80 >> (bit % 8)
		} else {
			a[bit/8] &^= 0x80 >> (bit % 8)
		}
	}
	if p.Addr().Is4() {
		return netip.AddrFrom16(a).Unmap()
	}
	return netip.AddrFrom16(a)
}

// TestECSOctets: an ECS address must come in the fewest octets that hold
// its source prefix (RFC 7871 6). Unpacking hides the count, so the check
// reads the query as received, over UDP (fast and general path) and TCP.
func TestECSOctets(t *testing.T) {
	s := newFastServer(t, Options{Listen: []string{"127.0.0.1:0"}, UDPSize: 1232, TCPMaxConns: 8,
		TCPMaxPerClient: 8, TCPIdleTimeout: time.Second, TCPReadTimeout: time.Second})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	addr := s.Addrs()[0].String()
	w := newWorker(s)
	src := netip.MustParseAddr("192.0.2.33")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	overTCP := func(t *testing.T, pkt []byte) *dns.Msg {
		t.Helper()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)); err != nil {
			t.Fatal(err)
		}
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tt := range []struct {
		name string
		data []byte // the ECS option's data
		ok   bool
	}{
		{"/24 in three octets", []byte{0, 1, 24, 0, 198, 51, 100}, true},
		{"/20 in three octets", []byte{0, 1, 20, 0, 198, 51, 96}, true},
		{"/0 in none", []byte{0, 1, 0, 0}, true},
		{"/48 in six octets", []byte{0, 2, 48, 0, 0x20, 1, 0xd, 0xb8, 0, 2}, true},
		{"/24 in four octets", []byte{0, 1, 24, 0, 198, 51, 100, 0}, false},
		{"/24 in two octets", []byte{0, 1, 24, 0, 198, 51}, false},
		{"/0 in one octet", []byte{0, 1, 0, 0, 0}, false},
		{"/48 in sixteen octets", []byte{0, 2, 48, 0, 0x20, 1, 0xd, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},
		{"family 0 with an address", []byte{0, 0, 0, 0, 0, 0, 0, 0}, false},
		{"bits beyond the prefix", []byte{0, 1, 20, 0, 198, 51, 100}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := dns.RcodeFormatError
			if tt.ok {
				want = dns.RcodeSuccess
			}
			pkt := optQuery(option(dns.EDNS0SUBNET, tt.data...))
			for _, path := range []string{"udp", "udp general", "tcp"} {
				r := new(dns.Msg)
				switch path {
				case "udp":
					if err := r.Unpack(w.answer(pkt, src)); err != nil {
						t.Fatal(err)
					}
				case "udp general":
					if err := r.Unpack(w.general(pkt, src)); err != nil {
						t.Fatal(err)
					}
				case "tcp":
					r = overTCP(t, pkt)
				}
				if r.Rcode != want {
					t.Errorf("%s: got rcode %s; want %s", path, dns.RcodeToString[r.Rcode], dns.RcodeToString[want])
				}
				if want == dns.RcodeFormatError && (len(r.Question) != 1 || r.IsEdns0() == nil) {
					t.Errorf("%s: FORMERR without the question and OPT:\n%v", path, r)
				}
			}
		})
	}
	// The mark a TCP query with a bad ECS leaves is its own: the next
	// query on the connection, a transfer included, is answered as usual.
	overTCP(t, optQuery(option(dns.EDNS0SUBNET, 0, 1, 24, 0, 198, 51, 100, 0)))
	if r := overTCP(t, optQuery(nil)); r.Rcode != dns.RcodeSuccess {
		t.Errorf("the query after a bad one: got rcode %s", dns.RcodeToString[r.Rcode])
	}
	if n := s.ecsTCP.n.Load(); n != 0 {
		t.Errorf("%d connection marks left", n)
	}
}

// TestECSOption: the ECS option is found in raw messages however the
// message is laid out, and nothing is found where there is none.
func TestECSOption(t *testing.T) {
	ecs := option(dns.EDNS0SUBNET, 0, 1, 24, 0, 198, 51, 100)
	plain := optQuery(ecs)
	// The question name compressed (a pointer to itself is not a name,
	// but a pointer is where a name ends), an A record before the OPT,
	// and ECS after another option.
	withA := pack(t, query("www.example.org.", dns.TypeA, func(m *dns.Msg) {
		m.Extra = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "www.example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4(192, 0, 2, 1)}}
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID},
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(198, 51, 100, 0)}}
	}))
	for _, tt := range []struct {
		name string
		msg  []byte
		want []byte
	}{
		{"after the question", plain, ecs[4:]},
		{"after an A record and NSID", withA, ecs[4:]},
		{"no OPT", pack(t, query("www.example.org.", dns.TypeA)), nil},
		{"OPT without ECS", optQuery(option(dns.EDNS0NSID)), nil},
		{"cut short", plain[:len(plain)-2], nil},
		{"no header", plain[:11], nil},
	} {
		if got := ecsOption(tt.msg); !bytes.Equal(got, tt.want) {
			t.Errorf("%s: got %x; want %x", tt.name, got, tt.want)
		}
	}
}

// BenchmarkBadECSOctets is the scan the UDP general path adds to each
// query: a dig query with ECS, a cookie and padding.
func BenchmarkBadECSOctets(b *testing.B) {
	pkt, err := hex.DecodeString(capturedQueries[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if badECSOctets(pkt) {
			b.Fatal("a well-formed ECS option reads as bad")
		}
	}
}

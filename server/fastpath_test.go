package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/querylog"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// fastZoneStatic covers every kind of lookup result the fast path meets.
const fastZoneStatic = `$ORIGIN example.org.
$TTL 300
@ 3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 1800 1209600 60
@ NS ns1.example.org.
@ MX 10 mail.example.org.
ns1 A 192.0.2.53
mail A 192.0.2.25
www A 192.0.2.80
www AAAA 2001:db8::80
alias CNAME www.example.org.
out CNAME www.example.net.
loop1 CNAME loop2.example.org.
loop2 CNAME loop1.example.org.
*.wild A 192.0.2.99
dn DNAME example.net.
dn2 DNAME example.org.
txt TXT "hello" "world"
_sip._udp SRV 10 5 5060 www.example.org.
deleg NS ns.deleg.example.org.
ns.deleg A 192.0.2.200
a.b.c.ent A 192.0.2.1
`

// fastZoneDynamic has geo, failover and nearest records (no weights, so
// both paths choose the same values).
const fastZoneDynamic = `'':
  - {type: NS, value: ns1.example.com.}
ns1: {type: A, value: 192.0.2.53}
static: {type: A, value: 192.0.2.7}
app:
  - type: A
    values: [192.0.2.100]
    dynamic:
      pools:
        eu: {fallback: us, values: [{value: 198.51.100.100}]}
        us: {values: [{value: 192.0.2.100}]}
        lab: {values: [{value: 203.0.113.10}]}
      rules:
        - {subnets: [203.0.113.0/25], pool: lab}
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
cdn:
  type: CNAME
  value: app.example.com.
  dynamic:
    pools:
      eu: {values: [{value: app.example.com.}]}
      us: {values: [{value: static.example.com.}]}
    rules:
      - {geos: [EU], pool: eu}
      - {pool: us}
multi:
  type: A
  values: [192.0.2.1]
  dynamic:
    pools:
      all: {values: [{value: 192.0.2.11, weight: 2}, {value: 192.0.2.12}, {value: 192.0.2.13}]}
    rules:
      - {pool: all}
  octodns: {meridian: {answers: 2}}
sticky:
  type: A
  values: [192.0.2.1]
  dynamic:
    pools:
      all: {values: [{value: 192.0.2.21}, {value: 192.0.2.22}, {value: 192.0.2.23}]}
    rules:
      - {pool: all}
  octodns: {meridian: {answers: 2, sticky: true}}
`

func newFastServer(t testing.TB, o Options) *Server {
	t.Helper()
	return newGeoServer(t, o, map[string]string{
		"example.org.zone": fastZoneStatic + bigTXT(3),
		"example.com.yaml": fastZoneDynamic,
	})
}

func pack(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fastCorpus returns queries the fast path must answer itself.
func fastCorpus(t testing.TB) [][]byte {
	names := []string{"www.example.org.", "WwW.ExAmPlE.oRg.", "example.org.", "alias.example.org.",
		"out.example.org.", "loop1.example.org.", "x.wild.example.org.", "y.dn.example.org.", "txt.example.org.",
		"www.dn2.example.org.", "nope.dn2.example.org.",
		"_sip._udp.example.org.", "nope.example.org.", "c.ent.example.org.", "big.example.org.",
		"app.example.com.", "APP.example.com.", "cdn.example.com.", "static.example.com.", "none.example.com.",
		"sticky.example.com.", // not multi: a weighted draw differs between the paths
		"example.net.", "www.example.net."}
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeNS, dns.TypeSOA, dns.TypeSRV,
		dns.TypeCNAME, dns.TypeANY, dns.TypeCAA}
	variants := []func(*dns.Msg){
		func(*dns.Msg) {},
		func(m *dns.Msg) { m.RecursionDesired, m.CheckingDisabled = true, true },
		withEDNS(512),
		withEDNS(4096),
		withEDNS(1232, &dns.EDNS0_NSID{Code: dns.EDNS0NSID}),
		withEDNS(1232, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}),
		withECS(1, "198.51.100.0", 24),
		withECS(1, "192.0.2.0", 24),
		withECS(1, "203.0.113.0", 24),
		withECS(1, "203.0.113.64", 26),
		withECS(1, "198.51.100.128", 25),
		withECS(1, "0.0.0.0", 0),
		withECS(2, "2001:db8:2::", 48),
		withECS(2, "2001:db8:2:8000::", 49),
		withECS(2, "::ffff:198.51.100.0", 120), // IPv4-mapped: scope in IPv6 bits
		withECS(2, "::ffff:0.0.0.0", 96),
		func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET})
		},
	}
	var out [][]byte
	for _, n := range names {
		for _, qt := range types {
			for _, v := range variants {
				m := query(n, qt, v)
				m.Id = uint16(len(out))
				out = append(out, pack(t, m))
			}
		}
	}
	return out
}

// generalCorpus returns queries the fast path hands to the general path.
func generalCorpus(t testing.TB) [][]byte {
	ms := []*dns.Msg{
		query("deleg.example.org.", dns.TypeA),
		query("x.deleg.example.org.", dns.TypeA, withEDNS(1232)),
		query("big.example.org.", dns.TypeTXT),
		query("www.example.org.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }),
		query("version.bind.", dns.TypeTXT, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }),
		query("www.example.org.", dns.TypeAXFR),
		query("www.example.org.", dns.TypeOPT),
		query(".", dns.TypeNS),
		query("w\\.x.example.org.", dns.TypeA),
		query("www.example.org.", dns.TypeA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }),
		query("www.example.org.", dns.TypeA, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }),
		query("www.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_EXPIRE{Code: dns.EDNS0EXPIRE})),
		query("www.example.org.", dns.TypeA, withEDNS(1232), withEDNS(1232)),
		query("www.example.org.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.IsEdns0().Hdr.Name = "org." }),
		query("www.example.org.", dns.TypeA, func(m *dns.Msg) {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4(1, 2, 3, 4)}}
		}),
		query("www.example.org.", dns.TypeA, func(m *dns.Msg) { m.Response = true }),
	}
	var out [][]byte
	for _, m := range ms {
		out = append(out, pack(t, m))
	}
	// ECS with address bits set beyond the source prefix (/20 of 198.51.100.0).
	ecs := pack(t, query("www.example.org.", dns.TypeA, withECS(1, "198.51.96.0", 20)))
	ecs[len(ecs)-1] = 100
	return append(out, ecs, []byte{1, 2, 3}, []byte{})
}

// TestFastPathMatchesGeneral checks that the UDP fast path answers every
// query exactly as the general path would: the same message, even if
// packed differently (the fast path does not compress).
func TestFastPathMatchesGeneral(t *testing.T) {
	s := newFastServer(t, Options{UDPSize: 1232, NSID: "node-1"})
	fw, gw := newWorker(s), newWorker(s)
	src := netip.MustParseAddr("192.0.2.33")
	check := func(t *testing.T, pkt []byte, wantFast bool) {
		t.Helper()
		_, v := fw.fast(pkt, src)
		if got := v == fastAnswer; got != wantFast {
			t.Errorf("%x: fast path answered %v; want %v", pkt, got, wantFast)
		}
		fast := append([]byte(nil), fw.answer(pkt, src)...)
		general := gw.general(pkt, src)
		if (fast == nil) != (general == nil) {
			t.Fatalf("%x: fast %x; general %x", pkt, fast, general)
		}
		if fast == nil {
			return
		}
		fm, gm := new(dns.Msg), new(dns.Msg)
		if err := fm.Unpack(fast); err != nil {
			t.Fatalf("fast answer does not unpack: %v", err)
		}
		if err := gm.Unpack(general); err != nil {
			t.Fatalf("general answer does not unpack: %v", err)
		}
		if fm.String() != gm.String() {
			t.Errorf("fast:\n%s\ngeneral:\n%s", fm, gm)
		}
		sameRRLKey(t, pkt, fw.rrl, gw.rrl)
	}
	t.Run("fast", func(t *testing.T) {
		for _, pkt := range fastCorpus(t) {
			// Truncation is left to the general path.
			r := new(dns.Msg)
			r.Unpack(gw.general(pkt, src))
			check(t, pkt, !r.Truncated)
		}
	})
	t.Run("general", func(t *testing.T) {
		for _, pkt := range generalCorpus(t) {
			check(t, pkt, false)
		}
	})
	t.Run("mutations", func(t *testing.T) {
		// Damaged queries: whichever path answers, the answer must be the same.
		r := rand.New(rand.NewPCG(1, 2))
		corpus := fastCorpus(t)
		for range 20000 {
			pkt := append([]byte(nil), corpus[r.IntN(len(corpus))]...)
			switch r.IntN(3) {
			case 0:
				pkt[r.IntN(len(pkt))] = byte(r.Uint32())
			case 1:
				pkt = pkt[:r.IntN(len(pkt))]
			case 2:
				pkt = append(pkt, byte(r.Uint32()))
			}
			_, v := fw.fast(pkt, src)
			if v == fastAnswer {
				check(t, pkt, true)
			} else {
				check(t, pkt, false)
			}
		}
	})
}

// TestFastPathAllocs checks that answering from the fast path allocates
// nothing, for static answers, dynamic answers (with and without ECS) and
// NXDOMAIN.
func TestFastPathAllocs(t *testing.T) {
	// Rate limiting at one answer a second puts most of the runs through
	// its drop and slip paths, which must not allocate either.
	s := newFastServer(t, Options{UDPSize: 1232, NSID: "node-1", RRL: RRL{Rate: 1, Slip: 2, Window: time.Second}})
	w := newWorker(s)
	src := netip.MustParseAddr("192.0.2.33")
	for _, tt := range []struct {
		name string
		m    *dns.Msg
	}{
		{"static", query("www.example.org.", dns.TypeA)},
		{"static edns mixed case", query("WWW.example.org.", dns.TypeAAAA, withEDNS(1232, &dns.EDNS0_NSID{Code: dns.EDNS0NSID}))},
		{"dynamic", query("app.example.com.", dns.TypeA)},
		{"dynamic ecs", query("app.example.com.", dns.TypeA, withECS(1, "198.51.100.0", 24))},
		{"dynamic ecs IPv4-mapped", query("app.example.com.", dns.TypeA, withECS(2, "::ffff:198.51.100.0", 120))},
		{"dynamic cname", query("cdn.example.com.", dns.TypeA, withECS(2, "2001:db8:2::", 48))},
		{"dynamic two answers", query("multi.example.com.", dns.TypeA)},
		{"dynamic two sticky answers", query("sticky.example.com.", dns.TypeA, withECS(1, "198.51.100.0", 24))},
		{"nxdomain", query("nope.example.org.", dns.TypeA, withEDNS(1232))},
		{"nodata", query("www.example.org.", dns.TypeMX)},
		{"refused", query("www.example.net.", dns.TypeA)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkt := pack(t, tt.m)
			if _, v := w.fast(pkt, src); v != fastAnswer {
				t.Fatalf("not answered by the fast path")
			}
			if n := testing.AllocsPerRun(200, func() { w.answer(pkt, src) }); n != 0 {
				t.Errorf("got %v allocations per query; want 0", n)
			}
		})
	}
}

func benchAnswer(b *testing.B, m *dns.Msg, general bool) {
	s := newFastServer(b, Options{UDPSize: 1232})
	w := newWorker(s)
	pkt := pack(b, m)
	src := netip.MustParseAddr("192.0.2.33")
	b.ReportAllocs()
	for b.Loop() {
		if general {
			w.general(pkt, src)
		} else {
			w.answer(pkt, src)
		}
	}
}

func BenchmarkAnswer(b *testing.B) {
	for _, tt := range []struct {
		name string
		m    *dns.Msg
	}{
		{"static", query("www.example.org.", dns.TypeA, withEDNS(1232))},
		{"dynamic-ecs", query("app.example.com.", dns.TypeA, withECS(1, "198.51.100.0", 24))},
		{"nxdomain", query("nope.example.org.", dns.TypeA, withEDNS(1232))},
	} {
		b.Run("fast/"+tt.name, func(b *testing.B) { benchAnswer(b, tt.m, false) })
		b.Run("general/"+tt.name, func(b *testing.B) { benchAnswer(b, tt.m, true) })
	}
}

// TestUDPConcurrent runs real UDP sockets (several per address) with
// clients querying in parallel while the zones reload, so that the race
// detector sees the fast path, the general path and reloads together.
func TestUDPConcurrent(t *testing.T) {
	s := newFastServer(t, Options{Listen: []string{"127.0.0.1:0"}, UDPSize: 1232, UDPSockets: 3,
		TCPMaxConns: 8, TCPIdleTimeout: time.Second, TCPReadTimeout: time.Second})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	addr := s.Addrs()[0].String()
	queries := []*dns.Msg{
		query("www.example.org.", dns.TypeA),
		query("app.example.com.", dns.TypeA, withECS(1, "198.51.100.0", 24)),
		query("cdn.example.com.", dns.TypeA),
		query("nope.example.org.", dns.TypeA, withEDNS(1232)),
		query("deleg.example.org.", dns.TypeA),
		query("big.example.org.", dns.TypeTXT), // truncated
	}
	want := make([]string, len(queries))
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for i, q := range queries {
		r, _, err := c.Exchange(q, addr)
		if err != nil {
			t.Fatal(err)
		}
		r.Id = 0
		want[i] = r.String()
	}
	done := make(chan struct{})
	go func() { // reloads while queries run
		defer close(done)
		for range 20 {
			s.zones.(*zones.Loader).Reload()
		}
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			for i := range 200 {
				k := (g + i) % len(queries)
				r, _, err := c.Exchange(queries[k].Copy(), addr)
				if err != nil {
					t.Error(err)
					return
				}
				r.Id = 0
				if r.String() != want[k] {
					t.Errorf("got\n%s\nwant\n%s", r, want[k])
					return
				}
			}
		}()
	}
	wg.Wait()
	<-done
}

// TestUDPLargeResponse: a response longer than the batched send's slots
// is sent on its own, whole.
func TestUDPLargeResponse(t *testing.T) {
	l, _ := testLoader(t, zones.Options{}, map[string]string{"example.org.zone": testZone + bigTXT(26)})
	s := New(Options{Listen: []string{"127.0.0.1:0"}, UDPSize: 8192, UDPSockets: 1,
		TCPMaxConns: 8, TCPIdleTimeout: time.Second, TCPReadTimeout: time.Second}, l, slog.New(slog.DiscardHandler))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c := &dns.Client{Net: "udp", UDPSize: 8192, Timeout: 2 * time.Second}
	for _, name := range []string{"big.example.org.", "www.example.org.", "big.example.org."} {
		r, _, err := c.Exchange(query(name, dns.TypeTXT, withEDNS(8192)), s.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if name == "big.example.org." {
			want = 26 // about 5.5 KB
		}
		if r.Truncated || len(r.Answer) != want {
			t.Errorf("%s: got tc=%v and %d answers; want no tc and %d", name, r.Truncated, len(r.Answer), want)
		}
	}
}

// TestFastPathLogsOwnValues checks that a sampled query's logged values
// are its own answer even though the fast path assembles answers of
// several values in memory it reuses for the next query.
func TestFastPathLogsOwnValues(t *testing.T) {
	s := newFastServer(t, Options{UDPSize: 1232})
	path := filepath.Join(t.TempDir(), "queries.log")
	l, err := querylog.Open(querylog.Options{Path: path, Sample: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.SetQueryLog(l)
	w := newWorker(s)
	var want []string
	for i := range 64 {
		pkt := pack(t, query("sticky.example.com.", dns.TypeA, withECS(1, fmt.Sprintf("198.51.%d.0", i), 24)))
		r := new(dns.Msg)
		if err := r.Unpack(w.answer(pkt, netip.MustParseAddr("192.0.2.1"))); err != nil {
			t.Fatal(err)
		}
		var vals []string
		for _, rr := range r.Answer {
			vals = append(vals, rr.(*dns.A).A.String())
		}
		b, _ := json.Marshal(vals)
		want = append(want, string(b))
	}
	s.SetQueryLog(nil)
	l.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d log lines; want %d", len(lines), len(want))
	}
	for i, ln := range lines {
		var e struct{ Values json.RawMessage }
		if err := json.Unmarshal([]byte(ln), &e); err != nil {
			t.Fatal(err)
		}
		if string(e.Values) != want[i] {
			t.Errorf("query %d: logged values %s; answered %s", i, e.Values, want[i])
		}
	}
}

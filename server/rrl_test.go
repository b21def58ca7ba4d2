package server

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// elapse moves t's clock forward by d.
func (t *rrlTable) elapse(d time.Duration) { t.start = t.start.Add(-d) }

func TestRRLBucket(t *testing.T) {
	tab := newRRLTable(RRL{Rate: 5, Slip: 2, Window: 3 * time.Second,
		Exempt: []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25")}})
	a := netip.MustParseAddr("198.51.100.7")
	www := &rrlKey{class: rrlAnswer, name: "www.example.org.", rtype: dns.TypeA}
	run := func(src netip.Addr, k *rrlKey, n int) (sent, dropped, slipped int) {
		for range n {
			switch tab.check(src, k) {
			case rrlSend:
				sent++
			case rrlDrop:
				dropped++
			case rrlSlip:
				slipped++
			}
		}
		return
	}
	if s, d, sl := run(a, www, 12); s != 5 || d != 4 || sl != 3 {
		t.Fatalf("12 answers at rate 5, slip 2: sent %d, dropped %d, slipped %d; want 5, 4, 3", s, d, sl)
	}
	// The same /24 shares the budget; case does not make a new key.
	if s, _, _ := run(netip.MustParseAddr("198.51.100.200"), &rrlKey{class: rrlAnswer, name: "WWW.example.org.", rtype: dns.TypeA}, 3); s != 0 {
		t.Errorf("another host of the same /24 got %d answers; want 0", s)
	}
	// Another name, type, class or network has its own budget.
	for _, tt := range []struct {
		src netip.Addr
		k   *rrlKey
	}{
		{a, &rrlKey{class: rrlAnswer, name: "api.example.org.", rtype: dns.TypeA}},
		{a, &rrlKey{class: rrlAnswer, name: "www.example.org.", rtype: dns.TypeAAAA}},
		{a, &rrlKey{class: rrlNXDomain, name: "example.org."}},
		{netip.MustParseAddr("198.51.101.7"), www},
		{netip.MustParseAddr("2001:db8:0:ff::1"), www},
	} {
		if s, _, _ := run(tt.src, tt.k, 5); s != 5 {
			t.Errorf("%v %+v: %d of 5 answers sent; want all", tt.src, *tt.k, s)
		}
	}
	// IPv6 networks are /56: another /64 inside shares, another /56 does not.
	if s, _, _ := run(netip.MustParseAddr("2001:db8:0:fe::1"), www, 1); s != 0 {
		t.Errorf("another /64 of the same /56 was answered")
	}
	if s, _, _ := run(netip.MustParseAddr("2001:db8:0:100::1"), www, 1); s != 1 {
		t.Errorf("another /56 was not answered")
	}
	// Exempt networks are never limited.
	if s, _, _ := run(netip.MustParseAddr("192.0.2.200"), www, 100); s != 100 {
		t.Errorf("exempt client: %d of 100 sent", s)
	}

	// A second later the bucket has refilled by the rate, but the flood
	// left a debt: 12+3 responses against 5, so 10 owed, two seconds' worth.
	tab.elapse(time.Second)
	if s, _, _ := run(a, www, 1); s != 0 {
		t.Errorf("answered one second into the debt")
	}
	tab.elapse(2 * time.Second)
	if s, _, _ := run(a, www, 3); s != 3 {
		t.Errorf("after the debt is paid: %d of 3 sent", s)
	}

	// However long the flood, the debt is at most window × rate: after
	// the window the network is answered again.
	run(a, www, 10000)
	tab.elapse(3*time.Second + time.Second)
	if s, _, _ := run(a, www, 5); s != 5 {
		t.Errorf("one window after a long flood: %d of 5 sent", s)
	}
}

func TestRRLSlipSettings(t *testing.T) {
	for _, tt := range []struct{ slip, wantSlipped int }{{0, 0}, {1, 10}, {3, 3}} {
		tab := newRRLTable(RRL{Rate: 1, Slip: tt.slip, Window: time.Second})
		k := &rrlKey{class: rrlError}
		src := netip.MustParseAddr("203.0.113.1")
		tab.check(src, k) // the budget
		slipped := 0
		for range 10 {
			if tab.check(src, k) == rrlSlip {
				slipped++
			}
		}
		if slipped != tt.wantSlipped {
			t.Errorf("slip %d: %d of 10 limited responses slipped; want %d", tt.slip, slipped, tt.wantSlipped)
		}
	}
}

func TestRRLClassify(t *testing.T) {
	a := []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "a.example.org.", Rrtype: dns.TypeA}}}
	cname := []dns.RR{&dns.CNAME{Hdr: dns.RR_Header{Name: "a.example.org.", Rrtype: dns.TypeCNAME}}, a[0]}
	for _, tt := range []struct {
		name     string
		rcode    int
		answer   []dns.RR
		referral bool
		synth    string
		want     rrlKey
	}{
		{"answer", 0, a, false, "", rrlKey{class: rrlAnswer, name: "a.example.org.", rtype: dns.TypeA}},
		{"answer by CNAME", 0, cname, false, "", rrlKey{class: rrlAnswer, name: "a.example.org.", rtype: dns.TypeCNAME}},
		{"wildcard answer", 0, a, false, "*.example.org.", rrlKey{class: rrlAnswer, name: "*.example.org.", rtype: dns.TypeA}},
		{"NODATA", 0, nil, false, "", rrlKey{class: rrlNoData, name: "a.example.org."}},
		{"wildcard NODATA", 0, nil, false, "*.example.org.", rrlKey{class: rrlNoData, name: "*.example.org."}},
		{"referral", 0, nil, true, "", rrlKey{class: rrlReferral, name: "example.org."}},
		{"NXDOMAIN", dns.RcodeNameError, nil, false, "", rrlKey{class: rrlNXDomain, name: "example.org."}},
		{"NXDOMAIN after a CNAME", dns.RcodeNameError, cname[:1], false, "", rrlKey{class: rrlNXDomain, name: "example.org."}},
		{"REFUSED", dns.RcodeRefused, nil, false, "", rrlKey{class: rrlError}},
		{"FORMERR", dns.RcodeFormatError, nil, false, "", rrlKey{class: rrlError}},
		{"YXDOMAIN from a DNAME", dns.RcodeYXDomain, a, false, "dn.example.org.", rrlKey{class: rrlError}},
	} {
		if got := classify(tt.rcode, tt.answer, tt.referral, "example.org.", tt.synth, "a.example.org."); got != tt.want {
			t.Errorf("%s: %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

// collidingKey returns an answer key for src, other than k, whose first
// slot is slot.
func collidingKey(t *testing.T, src netip.Addr, slot uint64) *rrlKey {
	t.Helper()
	for i := range 1 << 24 {
		c := &rrlKey{class: rrlAnswer, name: fmt.Sprintf("c%d.example.org.", i), rtype: dns.TypeA}
		if rrlHash(src, c)&(rrlSlots-1) == slot {
			return c
		}
	}
	t.Fatal("no colliding key found")
	return nil
}

// TestRRLCollision checks that a key being limited keeps its slot and its
// debt, whatever collides with it: a newcomer whose other slot is free
// goes there with its own budget; one whose slots are both busy shares a
// budget and is limited at once. Neither resets the limited bucket.
func TestRRLCollision(t *testing.T) {
	src := netip.MustParseAddr("198.51.100.7")
	a := &rrlKey{class: rrlAnswer, name: "www.example.org.", rtype: dns.TypeA}
	ha := rrlHash(src, a)
	b := collidingKey(t, src, ha&(rrlSlots-1)) // shares a's slot, has another
	c := collidingKey(t, src, (rrlHash(src, b)>>rrlBits)&(rrlSlots-1))
	sent := func(tab *rrlTable, k *rrlKey, n int) int {
		s := 0
		for range n {
			if tab.check(src, k) == rrlSend {
				s++
			}
		}
		return s
	}

	tab := newRRLTable(RRL{Rate: 5, Slip: 2, Window: 2 * time.Second})
	if got := sent(tab, a, 20); got != 5 {
		t.Fatalf("a: %d of 20 sent; want 5", got)
	}
	if got := sent(tab, b, 20); got != 5 {
		t.Errorf("b, colliding with a limited key but with a free slot: %d of 20 sent; want its own 5", got)
	}
	if got := sent(tab, a, 5); got != 0 {
		t.Errorf("a after b: %d of 5 sent; want 0 (b must not reset a's bucket)", got)
	}

	// Both of b's slots held by keys being limited: b shares.
	tab = newRRLTable(RRL{Rate: 5, Slip: 2, Window: 2 * time.Second})
	sent(tab, a, 20)
	if got := sent(tab, c, 20); got != 5 {
		t.Fatalf("c: %d of 20 sent; want 5", got)
	}
	for i := range 10 {
		// Taking turns does not help either.
		if tab.check(src, b) == rrlSend || tab.check(src, a) == rrlSend || tab.check(src, c) == rrlSend {
			t.Fatalf("round %d: a key of a full pair of slots was answered", i)
		}
	}
	// Once the debt is paid, every key is answered again, b in a slot of
	// its own.
	tab.elapse(2*time.Second + time.Second)
	for _, k := range []*rrlKey{a, b, c} {
		if got := sent(tab, k, 5); got != 5 {
			t.Errorf("%s after the window: %d of 5 sent", k.name, got)
		}
	}
}

// TestRRLRandomNames floods the UDP answer path, fast and general, with
// names and types made up to get a fresh budget each: random labels under
// a wildcard, random types at a name, at a CNAME and under a DNAME. Each
// flood gets one budget, while another network is still answered.
func TestRRLRandomNames(t *testing.T) {
	// An option the fast path leaves to the general path.
	general := withEDNS(1232, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1}})
	for _, tt := range []struct {
		name  string
		query func(i int) *dns.Msg
	}{
		{"wildcard", func(i int) *dns.Msg { return query(fmt.Sprintf("r%d.wild.example.org.", i), dns.TypeA, withEDNS(1232)) }},
		{"wildcard NODATA", func(i int) *dns.Msg { return query(fmt.Sprintf("r%d.wild.example.org.", i), dns.TypeAAAA) }},
		{"types", func(i int) *dns.Msg { return query("www.example.org.", uint16(1000+i), withEDNS(1232)) }},
		{"CNAME", func(i int) *dns.Msg { return query("alias.example.org.", uint16(1000+i)) }},
		{"DNAME", func(i int) *dns.Msg { return query(fmt.Sprintf("r%d.dn.example.org.", i), dns.TypeA) }},
		{"wildcard general", func(i int) *dns.Msg { return query(fmt.Sprintf("r%d.wild.example.org.", i), dns.TypeA, general) }},
		{"types general", func(i int) *dns.Msg { return query("www.example.org.", uint16(1000+i), general) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newFastServer(t, Options{UDPSize: 1232, RRL: RRL{Rate: 10, Slip: 2, Window: 2 * time.Second}})
			w := newWorker(s)
			src, other := netip.MustParseAddr("198.51.100.9"), netip.MustParseAddr("198.51.101.9")
			full := 0
			for i := range 100 {
				out := w.answer(pack(t, tt.query(i)), src)
				if out != nil && out[2]&0x02 == 0 { // not slipped
					full++
				}
			}
			if full != 10 {
				t.Errorf("100 queries: %d answered in full; want one budget of 10", full)
			}
			if out := w.answer(pack(t, tt.query(1000)), other); out == nil || out[2]&0x02 != 0 {
				t.Errorf("another network was not answered")
			}
		})
	}
}

// TestRRLKeysAgree checks that the fast path and the general path draw
// the same query from the same budget, and that it is the budget the
// documentation promises.
func TestRRLKeysAgree(t *testing.T) {
	s := newFastServer(t, Options{UDPSize: 1232})
	fw, gw := newWorker(s), newWorker(s)
	src := netip.MustParseAddr("192.0.2.33")
	answer := func(name string, t uint16) rrlKey { return rrlKey{class: rrlAnswer, name: name, rtype: t} }
	nodata := func(name string) rrlKey { return rrlKey{class: rrlNoData, name: name} }
	r := rand.New(rand.NewPCG(3, 4))
	label := func() string { return fmt.Sprintf("r%x", r.Uint32()) }
	for _, tt := range []struct {
		qname string
		qtype uint16
		fast  bool // the fast path answers it
		want  rrlKey
	}{
		{"www.example.org.", dns.TypeA, true, answer("www.example.org.", dns.TypeA)},
		{"WWW.example.ORG.", dns.TypeAAAA, true, answer("www.example.org.", dns.TypeAAAA)},
		{"example.org.", dns.TypeANY, true, answer("example.org.", dns.TypeNS)},
		{"www.example.org.", uint16(1000 + r.IntN(60000)), true, nodata("www.example.org.")},
		{"www.example.org.", dns.TypeMX, true, nodata("www.example.org.")},
		{"c.ent.example.org.", dns.TypeA, true, nodata("c.ent.example.org.")},
		{"alias.example.org.", dns.TypeA, true, answer("alias.example.org.", dns.TypeCNAME)},
		{"alias.example.org.", dns.TypeMX, true, answer("alias.example.org.", dns.TypeCNAME)},
		{label() + ".wild.example.org.", dns.TypeA, true, answer("*.wild.example.org.", dns.TypeA)},
		{label() + "." + label() + ".WILD.example.org.", dns.TypeA, true, answer("*.wild.example.org.", dns.TypeA)},
		{label() + ".wild.example.org.", uint16(1000 + r.IntN(60000)), true, nodata("*.wild.example.org.")},
		{"*.wild.example.org.", dns.TypeA, true, answer("*.wild.example.org.", dns.TypeA)},
		{label() + ".dn.example.org.", dns.TypeA, true, answer("dn.example.org.", dns.TypeDNAME)},
		{label() + ".example.org.", dns.TypeA, true, rrlKey{class: rrlNXDomain, name: "example.org."}},
		{label() + ".example.org.", uint16(1000 + r.IntN(60000)), true, rrlKey{class: rrlNXDomain, name: "example.org."}},
		{"deleg.example.org.", dns.TypeA, false, rrlKey{class: rrlReferral, name: "example.org."}},
		{label() + ".deleg.example.org.", dns.TypeAAAA, false, rrlKey{class: rrlReferral, name: "example.org."}},
		{"app.example.com.", dns.TypeA, true, answer("app.example.com.", dns.TypeA)},
		{"cdn.example.com.", dns.TypeAAAA, true, answer("cdn.example.com.", dns.TypeCNAME)},
		{label() + ".example.net.", dns.TypeA, true, rrlKey{class: rrlError}},
	} {
		for _, v := range []func(*dns.Msg){func(*dns.Msg) {}, withEDNS(1232), withECS(1, "198.51.100.0", 24)} {
			pkt := pack(t, query(tt.qname, tt.qtype, v))
			gw.general(pkt, src)
			if got := foldKey(gw.rrl); got != tt.want {
				t.Errorf("%s %s, general path: %+v; want %+v", tt.qname, dns.Type(tt.qtype), got, tt.want)
			}
			if _, verdict := fw.fast(pkt, src); (verdict == fastAnswer) != tt.fast {
				t.Errorf("%s %s: fast path answered %v; want %v", tt.qname, dns.Type(tt.qtype), verdict == fastAnswer, tt.fast)
				continue
			}
			if tt.fast {
				sameRRLKey(t, pkt, fw.rrl, gw.rrl)
			}
		}
	}
	// A response truncated for want of room (the general path's) has no
	// answer left: NODATA.
	gw.general(pack(t, query("big.example.org.", dns.TypeTXT)), src)
	if got, want := gw.rrl, nodata("big.example.org."); got != want {
		t.Errorf("truncated answer: %+v; want %+v", got, want)
	}
}

// foldKey is k with its name in lower case: the case a name was asked in
// does not change its budget (rrlHash folds it).
func foldKey(k rrlKey) rrlKey {
	k.name = strings.ToLower(k.name)
	return k
}

// sameRRLKey checks that the fast path classed pkt as the general path
// did.
func sameRRLKey(t *testing.T, pkt []byte, fast, general rrlKey) {
	t.Helper()
	if foldKey(fast) != foldKey(general) {
		t.Errorf("%x: fast path keyed %+v; general path %+v", pkt, fast, general)
	}
}

// TestRRLAnswers drives the UDP answer path: a flood for one name is
// limited after the budget with every second limited response truncated;
// NXDOMAINs for random names share their zone's budget; the metrics count.
func TestRRLAnswers(t *testing.T) {
	s := newFastServer(t, Options{UDPSize: 1232, RRL: RRL{Rate: 10, Slip: 2, Window: 2 * time.Second}})
	w := newWorker(s)
	src := netip.MustParseAddr("198.51.100.9")
	flood := func(name func(i int) string, qtype uint16, n int) (full, slipped, dropped int) {
		for i := range n {
			q := query(name(i), qtype, withEDNS(1232))
			q.Id = uint16(i)
			out := w.answer(pack(t, q), src)
			if out == nil {
				dropped++
				continue
			}
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil {
				t.Fatalf("unpack: %v", err)
			}
			if r.Id != q.Id || len(r.Question) != 1 || r.Question[0] != q.Question[0] {
				t.Fatalf("response does not match its query: %v", r)
			}
			if r.Truncated {
				if len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 {
					t.Fatalf("slipped response has records: %v", r)
				}
				slipped++
				continue
			}
			full++
		}
		return
	}
	www := func(int) string { return "www.example.org." }
	if f, sl, d := flood(www, dns.TypeA, 30); f != 10 || sl != 10 || d != 10 {
		t.Errorf("30 queries for one name: %d full, %d slipped, %d dropped; want 10, 10, 10", f, sl, d)
	}
	random := func(i int) string { return fmt.Sprintf("r%d.example.org.", i) }
	if f, _, _ := flood(random, dns.TypeA, 30); f != 10 {
		t.Errorf("30 NXDOMAINs for random names: %d answered in full; want the zone's 10", f)
	}
	// Refused queries (outside our zones) are errors: limited too.
	other := func(i int) string { return fmt.Sprintf("x%d.example.net.", i) }
	if f, _, _ := flood(other, dns.TypeA, 30); f != 10 {
		t.Errorf("30 REFUSED: %d answered in full; want 10", f)
	}
	got := series(t, s.Collector(), "meridian_dns_rrl_responses_total")
	diffSeries(t, "meridian_dns_rrl_responses_total", got, map[string]float64{
		`action="dropped"`: 30, `action="slipped"`: 30,
	})

	// Turning RRL off by a reload answers everything again; the same
	// settings keep the buckets.
	o := *s.opts.Load()
	tab := s.rrl.Load()
	s.SetOptions(o)
	if s.rrl.Load() != tab {
		t.Errorf("a reload with the same settings replaced the buckets")
	}
	o.RRL.Rate = 0
	s.SetOptions(o)
	if f, _, _ := flood(www, dns.TypeA, 30); f != 30 {
		t.Errorf("with RRL off: %d of 30 answered", f)
	}
}

func TestRRLExemptByDefaultConfig(t *testing.T) {
	s := newFastServer(t, Options{UDPSize: 1232, RRL: RRL{Rate: 1, Slip: 2, Window: time.Second,
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}})
	w := newWorker(s)
	for _, src := range []string{"127.0.0.1", "::1"} {
		for i := range 50 {
			if w.answer(pack(t, query("www.example.org.", dns.TypeA)), netip.MustParseAddr(src)) == nil {
				t.Fatalf("%s: query %d dropped", src, i)
			}
		}
	}
}

// BenchmarkAnswerRRL answers on the fast path with rate limiting on and
// never reached: the cost of classifying and spending a token, for a
// static answer, a wildcard answer, NODATA and NXDOMAIN, from clients
// spread over many networks.
func BenchmarkAnswerRRL(b *testing.B) {
	for _, tt := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"static", "www.example.org.", dns.TypeA},
		{"wildcard", "x.wild.example.org.", dns.TypeA},
		{"nodata", "www.example.org.", dns.TypeMX},
		{"nxdomain", "nope.example.org.", dns.TypeA},
	} {
		b.Run(tt.name, func(b *testing.B) {
			s := newFastServer(b, Options{UDPSize: 1232, RRL: RRL{Rate: 1 << 30, Slip: 2, Window: time.Second}})
			w := newWorker(s)
			pkt := pack(b, query(tt.qname, tt.qtype, withEDNS(1232)))
			var srcs [256]netip.Addr
			for i := range srcs {
				srcs[i] = netip.AddrFrom4([4]byte{198, 51, byte(i), 7})
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if w.answer(pkt, srcs[i&255]) == nil {
					b.Fatal("dropped")
				}
				i++
			}
		})
	}
}

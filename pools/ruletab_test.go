package pools

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/meridiandns/meridian/geo"
)

// TestRuleTab checks the laid-out rules against Rule.match, rule by rule
// as Select traces them, over random rule lists and clients: the same
// first rule and the same number of address bits the decision depends on.
func TestRuleTab(t *testing.T) {
	g := testGeo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	bases := []string{"192.0.2.0", "198.51.100.0", "203.0.113.0", "100.64.0.0", "100.66.0.0", "10.0.0.0", "2001:db8:1::", "2001:db8:2::", "2001:db8::"}
	codes := []string{"EU", "AS", "NA", "NA-US", "NA-US-VA", "EU-DE", "EU-GB", "AS-JP", "OC", "SA"}
	randAddr := func(base string) netip.Addr {
		b := netip.MustParseAddr(base).AsSlice()
		for i := len(b) / 2; i < len(b); i++ {
			if rng.IntN(2) == 0 {
				b[i] = byte(rng.IntN(256))
			}
		}
		a, _ := netip.AddrFromSlice(b)
		return a
	}
	compared := 0
	for range 300 {
		var rules []*Rule
		for i := range 1 + rng.IntN(6) {
			ru := &Rule{Index: i, PoolID: "p"}
			for range rng.IntN(3) {
				a := randAddr(bases[rng.IntN(len(bases))])
				ru.Subnets = append(ru.Subnets, netip.PrefixFrom(a, rng.IntN(a.BitLen()+1)).Masked())
			}
			for range rng.IntN(3) {
				c, err := geo.ParseCode(codes[rng.IntN(len(codes))])
				if err != nil {
					t.Fatal(err)
				}
				ru.Geos = append(ru.Geos, c)
			}
			rules = append(rules, ru)
		}
		r := &Record{Rules: rules}
		r.Prepare(10)
		if r.tab == nil {
			t.Fatal("no rule table")
		}
		for range 40 {
			var addr netip.Addr
			if rng.IntN(20) > 0 {
				addr = randAddr(bases[rng.IntN(len(bases))])
			}
			gr := g
			if rng.IntN(10) == 0 {
				gr = nil
			}
			c1, c2 := NewClient(addr, gr), NewClient(addr, gr)
			var want *Rule
			wantNeed := 0
			for _, ru := range rules {
				ok, bits := ru.match(&c1)
				wantNeed = max(wantNeed, bits)
				if ok {
					want = ru
					break
				}
			}
			got, gotNeed := r.firstRule(&c2)
			if got != want || gotNeed != wantNeed {
				t.Fatalf("client %v: table gives rule %v, %d bits; match gives %v, %d bits", addr, got, gotNeed, want, wantNeed)
			}
			compared++
		}
	}
	if compared < 10000 {
		t.Fatalf("only %d comparisons", compared)
	}
}

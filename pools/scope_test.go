package pools

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// randomIn returns a random address inside p.
func randomIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
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
	addr := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		return addr.Unmap()
	}
	return addr
}

func decisionKey(d Decision) (int, string) {
	rule, pool := -1, ""
	if d.Rule != nil {
		rule = d.Rule.Index
	}
	if d.Pool != nil {
		pool = d.Pool.ID
	}
	return rule, pool
}

// TestScopeProperty checks the ECS scope invariant: every address inside
// client/scope gets the same rule and pool as the client. IPv4-mapped IPv6
// clients are among them: their scope is read in IPv6 bits, the family an
// ECS option with such an address is echoed in.
func TestScopeProperty(t *testing.T) {
	g := testGeo(t)
	records := map[string]*Record{
		"geo and subnets": mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, `
pools:
  office: {values: [{value: 100.64.9.9}]}
  lab: {values: [{value: 100.64.9.8}]}
  eu: {fallback: us, values: [{value: 198.51.100.10}]}
  ap: {values: [{value: 203.0.113.10}]}
  us: {values: [{value: 192.0.2.10}]}
  v6: {values: [{value: 192.0.2.66}]}
rules:
  - {subnets: [100.64.2.0/24, 198.51.100.128/25], pool: office}
  - {subnets: [100.64.0.0/20, "2001:db8:2:8000::/49"], pool: lab}
  - {subnets: ["2001:db8:1::/56"], geos: [AS-JP], pool: v6}
  - {geos: [EU], pool: eu}
  - {geos: [AS], pool: ap}
  - {pool: us}
`, ""),
		"nearest": mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, nearestRecord,
			`{meridian: {nearest: true, locations: {us: [39.0, -77.5], eu: [50.1, 8.7], ap: [35.7, 139.7]}}}`),
		"sticky": mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, geoRecord, `{meridian: {sticky: true}}`),
	}
	ranges := []netip.Prefix{
		netip.MustParsePrefix("100.64.0.0/14"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.112.0/22"),
		netip.MustParsePrefix("192.0.0.0/16"),
		netip.MustParsePrefix("0.0.0.0/0"),
		netip.MustParsePrefix("2001:db8::/44"),
		netip.MustParsePrefix("::/0"),
		netip.MustParsePrefix("::ffff:100.64.0.0/110"),
		netip.MustParsePrefix("::ffff:198.51.100.0/120"),
		netip.MustParsePrefix("::ffff:0.0.0.0/96"),
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for name, r := range records {
		t.Run(name, func(t *testing.T) {
			for range 3000 {
				addr := randomIn(rng, ranges[rng.IntN(len(ranges))])
				c := NewClient(addr, g)
				d := r.Select(&c, AllUp{}, nil)
				if d.Scope < 0 || d.Scope > addr.BitLen() {
					t.Fatalf("%v: scope /%d out of range", addr, d.Scope)
				}
				rule, pool := decisionKey(d)
				scope := netip.PrefixFrom(addr, d.Scope).Masked()
				for range 20 {
					other := randomIn(rng, scope)
					oc := NewClient(other, g)
					orule, opool := decisionKey(r.Select(&oc, AllUp{}, nil))
					if orule != rule || opool != pool {
						t.Fatalf("%v got rule %d pool %q with scope %v, but %v in that scope gets rule %d pool %q",
							addr, rule, pool, scope, other, orule, opool)
					}
				}
			}
		})
	}
}

func TestScopeValues(t *testing.T) {
	g := testGeo(t)
	catchAll := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, `
pools:
  all: {values: [{value: 192.0.2.10}, {value: 192.0.2.11}]}
rules:
  - {pool: all}
`, "")
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, geoRecord, "")
	for _, tt := range []struct {
		name   string
		r      *Record
		client string
		want   int
	}{
		{"single catch-all does not depend on the client", catchAll, "198.51.100.7", 0},
		{"inside a /24 subnet rule", r, "100.64.2.7", 24},
		{"geo match: the database network", r, "198.51.100.7", 24},
		{"outside the subnet, in a /16 geo network: narrow enough to exclude the /24", r, "100.64.3.7", 24},
		{"IPv4-mapped: the IPv4 scope in IPv6 bits", r, "::ffff:198.51.100.7", 120},
		{"IPv4-mapped catch-all: every mapped address, not every IPv6 one", catchAll, "::ffff:198.51.100.7", 96},
	} {
		c := NewClient(netip.MustParseAddr(tt.client), g)
		if got := tt.r.Select(&c, AllUp{}, nil).Scope; got != tt.want {
			t.Errorf("%s: got /%d; want /%d", tt.name, got, tt.want)
		}
	}
}

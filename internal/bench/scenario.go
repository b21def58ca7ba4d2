package bench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
)

// Spec sizes a scenario. Per-zone counts are multiplied by Zones.
type Spec struct {
	Zones    int    // zones bench-0.test., bench-1.test., ...
	Static   int    // static names per zone: each has A; some also AAAA, MX, TXT
	Geo      int    // geo-dynamic A records per zone
	Weighted int    // weighted A records per zone
	Failover int    // failover (primary/secondary) A records per zone
	Queries  int    // distinct queries in the query file
	Seed     uint64 // seeds every random choice: the same Spec gives the same files
	// OnlyA gives every static name one A RRset and nothing else, so the
	// static record count is exactly Zones × Static.
	OnlyA bool
}

// DefaultSpec is the scenario of the side-by-side benchmark.
func DefaultSpec() Spec {
	return Spec{Zones: 4, Static: 1000, Geo: 150, Weighted: 50, Failover: 50, Queries: 10000, Seed: 1}
}

// BigZoneSpec is the load and reload scenario: 100,000 static and 10,000
// dynamic records.
func BigZoneSpec() Spec {
	return Spec{Zones: 10, Static: 10000, Geo: 1000, Queries: 20000, Seed: 2, OnlyA: true}
}

// Scenario is one generated GSLB setup, independent of any server's file
// format.
type Scenario struct {
	Spec     Spec
	Policies []*Policy
	Zones    []*Zone
	Networks []Network // the GeoIP database
	Queries  []Query   // distinct, shuffled
}

// Zone is one generated zone.
type Zone struct {
	Origin   string // e.g. "bench-0.test."
	Static   []*StaticName
	Geo      []*GeoRecord
	Weighted []*WeightedRecord
	Failover []*FailoverRecord
}

// StaticName is a name with static records only.
type StaticName struct {
	Name string // relative to the zone
	A    []netip.Addr
	AAAA []netip.Addr // empty = none
	MX   string       // exchange, outside every zone so no server adds glue; "" = none
	TXT  string       // "" = none
}

// RRsets counts the name's RRsets.
func (n *StaticName) RRsets() int {
	c := 1
	for _, has := range []bool{len(n.AAAA) > 0, n.MX != "", n.TXT != ""} {
		if has {
			c++
		}
	}
	return c
}

// GeoRecord is a geo-dynamic A record: its policy picks a pool by the
// client's location, and every value of the pool is answered.
type GeoRecord struct {
	Name     string
	Policy   *Policy
	Pools    map[string][]netip.Addr // pool id → values
	Resource string                  // gdnsd geoip resource name
}

// WeightedRecord answers one of its values, drawn by weight.
type WeightedRecord struct {
	Name     string
	Values   []netip.Addr
	Weights  []int
	Resource string // gdnsd weighted resource name
}

// FailoverRecord answers its primary while it is up (always, here: the
// benchmark runs no health checks), else its secondary.
type FailoverRecord struct {
	Name               string
	Primary, Secondary netip.Addr
	Resource           string // gdnsd simplefo resource name
}

// Policy is a set of geo rules shared by many records: a Meridian rules
// list and pool fallback chains, a gdnsd geoip map.
type Policy struct {
	Name     string            // gdnsd map name
	Rules    []Rule            // in order; the last is the catch-all
	Fallback map[string]string // pool → the pool it falls back to
}

// Rule sends clients in Subnets or Geos (octoDNS codes) to Pool. A rule
// with neither is the catch-all.
type Rule struct {
	Subnets []string
	Geos    []string
	Pool    string
}

// Pools returns the policy's pool ids: the catch-all pool first (gdnsd's
// default datacenter order), then the others in rule order.
func (p *Policy) Pools() []string {
	ids := []string{p.Rules[len(p.Rules)-1].Pool}
	for _, r := range p.Rules {
		if !slices.Contains(ids, r.Pool) {
			ids = append(ids, r.Pool)
		}
	}
	return ids
}

// Chain returns pool followed by its fallbacks, in order.
func (p *Policy) Chain(pool string) []string {
	var c []string
	for id := pool; id != "" && !slices.Contains(c, id); id = p.Fallback[id] {
		c = append(c, id)
	}
	return c
}

// policies are the geo rule sets. They follow octoDNS's ordering rules:
// subnet rules first, narrower geos before the broader ones, each pool
// targeted by one rule, a catch-all last.
func policies() []*Policy {
	return []*Policy{
		{
			Name: "world",
			Rules: []Rule{
				{Subnets: []string{corpSubnet.String()}, Pool: "corp"},
				{Geos: []string{"NA-US-CA", "NA-US-OR", "NA-US-WA"}, Pool: "usw"},
				{Geos: []string{"AS-JP", "AS-KR"}, Pool: "apne"},
				{Geos: []string{"AF", "EU"}, Pool: "eu"},
				{Geos: []string{"AS", "OC"}, Pool: "apse"},
				{Geos: []string{"SA"}, Pool: "sa"},
				{Pool: "use"},
			},
			Fallback: map[string]string{"corp": "use", "usw": "use", "apne": "apse", "apse": "use", "eu": "use", "sa": "use"},
		},
		{
			Name: "continents",
			Rules: []Rule{
				{Geos: []string{"EU"}, Pool: "eu"},
				{Geos: []string{"AS"}, Pool: "ap"},
				{Pool: "us"},
			},
			Fallback: map[string]string{"ap": "eu", "eu": "us"},
		},
	}
}

// addrs hands out distinct answer addresses.
type addrs struct{ v4, v6 netip.Addr }

func newAddrs() *addrs {
	return &addrs{v4: netip.MustParseAddr("172.16.0.0"), v6: netip.MustParseAddr("2001:db8:ff00::")}
}

func (a *addrs) next4() netip.Addr { a.v4 = a.v4.Next(); return a.v4 }
func (a *addrs) next6() netip.Addr { a.v6 = a.v6.Next(); return a.v6 }

// NewScenario builds the scenario spec describes. The same spec always
// gives the same scenario.
func NewScenario(spec Spec) *Scenario {
	r := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))
	s := &Scenario{Spec: spec, Policies: policies()}
	s.Networks = makeNetworks(r)
	a := newAddrs()
	for zi := range spec.Zones {
		z := &Zone{Origin: fmt.Sprintf("bench-%d.test.", zi)}
		for i := range spec.Static {
			z.Static = append(z.Static, newStatic(i, a, spec.OnlyA))
		}
		for i := range spec.Geo {
			p := s.Policies[i%len(s.Policies)]
			g := &GeoRecord{Name: fmt.Sprintf("geo-%d", i), Policy: p, Pools: map[string][]netip.Addr{},
				Resource: fmt.Sprintf("g%d_%d", zi, i)}
			for j, id := range p.Pools() {
				for range 1 + (i+j)%2 {
					g.Pools[id] = append(g.Pools[id], a.next4())
				}
			}
			z.Geo = append(z.Geo, g)
		}
		for i := range spec.Weighted {
			w := &WeightedRecord{Name: fmt.Sprintf("w-%d", i), Resource: fmt.Sprintf("w%d_%d", zi, i)}
			for j := range 2 + i%3 {
				w.Values = append(w.Values, a.next4())
				w.Weights = append(w.Weights, []int{1, 2, 3, 5}[(i+j)%4])
			}
			z.Weighted = append(z.Weighted, w)
		}
		for i := range spec.Failover {
			z.Failover = append(z.Failover, &FailoverRecord{Name: fmt.Sprintf("fo-%d", i),
				Primary: a.next4(), Secondary: a.next4(), Resource: fmt.Sprintf("f%d_%d", zi, i)})
		}
		s.Zones = append(s.Zones, z)
	}
	s.Queries = makeQueries(s, r)
	return s
}

func newStatic(i int, a *addrs, onlyA bool) *StaticName {
	n := &StaticName{Name: fmt.Sprintf("host-%d", i)}
	for range 1 + i%2 {
		n.A = append(n.A, a.next4())
	}
	if onlyA {
		return n
	}
	if i%3 == 0 {
		n.AAAA = append(n.AAAA, a.next6())
	}
	if i%5 == 0 {
		n.MX = fmt.Sprintf("mx%d.mail.example.net.", i%7)
	}
	if i%4 == 0 {
		n.TXT = fmt.Sprintf("v=spf1 ip4:%s -all", n.A[0])
	}
	return n
}

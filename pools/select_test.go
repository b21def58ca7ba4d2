package pools

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/geotest"
	"github.com/meridiandns/meridian/internal/packed"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// testGeo is a small City database: US, DE, JP, GB, FR (no coordinates)
// and an IPv6 DE network.
func testGeo(t testing.TB) *geo.Reader {
	t.Helper()
	path := geotest.WriteT(t, []geotest.Entry{
		{Network: "192.0.2.0/24", Country: "US", Continent: "NA", Subdivision: "VA", Lat: 38.9, Lon: -77.0},
		{Network: "198.51.100.0/24", Country: "DE", Continent: "EU", Lat: 50.1, Lon: 8.7},
		{Network: "203.0.113.0/24", Country: "JP", Continent: "AS", Lat: 35.7, Lon: 139.7},
		{Network: "100.64.0.0/16", Country: "GB", Continent: "EU", Lat: 51.5, Lon: -0.1},
		{Network: "100.65.0.0/16", Country: "FR", Continent: "EU", NoCoords: true},
		{Network: "100.66.0.0/17", Country: "RU", Continent: "AS", Lat: 55.7, Lon: 37.6},
		{Network: "2001:db8:2::/48", Country: "DE", Continent: "EU", Lat: 50.1, Lon: 8.7},
		{Network: "2001:db8:1::/48", Country: "US", Continent: "NA", Lat: 38.9, Lon: -77.0},
	})
	g, err := geo.Open([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// mustRecord parses a dynamic record as the zone loader does.
func mustRecord(t testing.TB, typ uint16, values []string, dynamic, octodns string) *Record {
	t.Helper()
	node := func(s string) *yaml.Node {
		if s == "" {
			return nil
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Content[0]
	}
	var vs []*Value
	for _, v := range values {
		val := &Value{Value: v}
		if a, err := netip.ParseAddr(v); err == nil {
			val.Addr = a
		}
		vs = append(vs, val)
	}
	r, probs := Parse("app.example.com.", typ, 60, vs, node(dynamic), node(octodns))
	if len(probs) > 0 {
		t.Fatalf("parse: %v", probs)
	}
	r.Prepare(10)
	return r
}

const geoRecord = `
pools:
  office: {values: [{value: 100.64.9.9}]}
  eu:
    fallback: us
    values:
      - {value: 198.51.100.10}
      - {value: 198.51.100.11, weight: 3}
  ap: {fallback: eu, values: [{value: 203.0.113.10}]}
  us: {values: [{value: 192.0.2.10}, {value: 192.0.2.11, status: up}, {value: 192.0.2.12, status: down}]}
rules:
  - {subnets: [100.64.2.0/24], pool: office}
  - {geos: [EU], pool: eu}
  - {geos: [AS], pool: ap}
  - {pool: us}
`

// fakeHealth marks values down and drains values or pools.
type fakeHealth struct {
	down, drained, drainedPools map[string]bool
}

func (f fakeHealth) State(_ *Record, v *Value) State {
	if f.down[v.Value] {
		return Unhealthy
	}
	return Healthy
}

func (f fakeHealth) Drained(_ *Record, p *Pool, v *Value) bool {
	return f.drained[v.Value] || (p != nil && f.drainedPools[p.ID])
}

func set(vs ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func answerValues(d Decision) string {
	var out []string
	for _, rr := range d.Answer {
		switch x := rr.(type) {
		case *dns.A:
			out = append(out, x.A.String())
		case *dns.AAAA:
			out = append(out, x.AAAA.String())
		case *dns.CNAME:
			out = append(out, x.Target)
		}
	}
	return strings.Join(out, " ")
}

func TestSelect(t *testing.T) {
	g := testGeo(t)
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1", "198.51.100.1"}, geoRecord, "")
	tests := []struct {
		name    string
		client  string
		health  fakeHealth
		rule    int // 1-based; 0 = none
		pool    string
		outcome Outcome
		answer  string // "" = any single value of the pool
		ttl     uint32
	}{
		{name: "subnet rule first", client: "100.64.2.7", rule: 1, pool: "office", outcome: FromPool, answer: "100.64.9.9", ttl: 60},
		{name: "same country outside the subnet goes by geo", client: "100.64.3.7", rule: 2, pool: "eu", outcome: FromPool, ttl: 60},
		{name: "geo EU", client: "198.51.100.7", rule: 2, pool: "eu", outcome: FromPool, ttl: 60},
		{name: "RU is in EU for octoDNS", client: "100.66.1.1", rule: 2, pool: "eu", outcome: FromPool, ttl: 60},
		{name: "geo AS", client: "203.0.113.7", rule: 3, pool: "ap", outcome: FromPool, answer: "203.0.113.10", ttl: 60},
		{name: "unknown location: catch-all", client: "127.0.0.1", rule: 4, pool: "us", outcome: FromPool, ttl: 60},
		{name: "pool down: fallback with degraded TTL", client: "203.0.113.7", health: fakeHealth{down: set("203.0.113.10")},
			rule: 3, pool: "eu", outcome: FromFallback, ttl: 10},
		{name: "fallback chain of two", client: "203.0.113.7", health: fakeHealth{down: set("203.0.113.10", "198.51.100.10", "198.51.100.11")},
			rule: 3, pool: "us", outcome: FromFallback, ttl: 10},
		{name: "status up served though unhealthy, status down never", client: "192.0.2.7",
			health: fakeHealth{down: set("192.0.2.10", "192.0.2.11", "192.0.2.12")}, rule: 4, pool: "us", outcome: FromPool, answer: "192.0.2.11", ttl: 60},
		{name: "drain beats status up: fail-open", client: "192.0.2.7",
			health: fakeHealth{down: set("192.0.2.10"), drained: set("192.0.2.11")}, rule: 4, outcome: FailOpen, answer: "192.0.2.1 198.51.100.1", ttl: 10},
		{name: "pool drained: fallback", client: "198.51.100.7", health: fakeHealth{drainedPools: set("eu")},
			rule: 2, pool: "us", outcome: FromFallback, ttl: 10},
		{name: "drained value never served even by fail-open", client: "127.0.0.1",
			health: fakeHealth{drainedPools: set("us"), drained: set("198.51.100.1")}, rule: 4, outcome: FailOpen, answer: "192.0.2.1", ttl: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(netip.MustParseAddr(tt.client), g)
			h := tt.health
			if h.down == nil {
				h.down = map[string]bool{}
			}
			d := r.Select(&c, h, nil)
			rule := 0
			if d.Rule != nil {
				rule = d.Rule.Index + 1
			}
			pool := ""
			if d.Pool != nil {
				pool = d.Pool.ID
			}
			if rule != tt.rule || pool != tt.pool || d.Outcome != tt.outcome || d.TTL != tt.ttl {
				t.Errorf("got rule %d pool %q outcome %v ttl %d; want rule %d pool %q outcome %v ttl %d",
					rule, pool, d.Outcome, d.TTL, tt.rule, tt.pool, tt.outcome, tt.ttl)
			}
			if tt.answer != "" && answerValues(d) != tt.answer {
				t.Errorf("answer: got %q; want %q", answerValues(d), tt.answer)
			}
			for _, rr := range d.Answer {
				if rr.Header().Ttl != tt.ttl {
					t.Errorf("RR TTL: got %d; want %d", rr.Header().Ttl, tt.ttl)
				}
			}
		})
	}
}

func TestSelectWeights(t *testing.T) {
	g := testGeo(t)
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, geoRecord, "")
	c := NewClient(netip.MustParseAddr("198.51.100.7"), g)
	const n = 40000
	count := map[string]int{}
	for range n {
		count[answerValues(r.Select(&c, AllUp{}, nil))]++
	}
	// weights 1 and 3: expect 25% and 75%; allow 5 standard deviations.
	p := 0.25
	sd := math.Sqrt(n * p * (1 - p))
	if got := float64(count["198.51.100.10"]); math.Abs(got-n*p) > 5*sd {
		t.Errorf("weight 1 of 4: got %v of %d; want about %v", got, n, n*p)
	}
	if count["198.51.100.10"]+count["198.51.100.11"] != n {
		t.Errorf("got answers outside the pool: %v", count)
	}
}

func TestSelectSeveralAnswers(t *testing.T) {
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, `
pools:
  all: {values: [{value: 192.0.2.10}, {value: 192.0.2.11}, {value: 192.0.2.12, weight: 5}, {value: 192.0.2.13}]}
rules:
  - {pool: all}
`, `{meridian: {answers: 3}}`)
	c := NewClient(netip.MustParseAddr("192.0.2.9"), nil)
	for range 200 {
		d := r.Select(&c, AllUp{}, nil)
		vs := strings.Fields(answerValues(d))
		seen := set(vs...)
		if len(vs) != 3 || len(seen) != 3 {
			t.Fatalf("got %v; want 3 distinct values", vs)
		}
	}
	// Fewer serviceable values than answers: all of them.
	d := r.Select(&c, fakeHealth{down: set("192.0.2.10", "192.0.2.11", "192.0.2.13")}, nil)
	if got := answerValues(d); got != "192.0.2.12" {
		t.Errorf("got %q; want the one serviceable value", got)
	}
}

func TestSelectStickyMinimalDisruption(t *testing.T) {
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, `
pools:
  all:
    values:
      - {value: 192.0.2.10}
      - {value: 192.0.2.11}
      - {value: 192.0.2.12}
      - {value: 192.0.2.13}
      - {value: 192.0.2.14}
rules:
  - {pool: all}
`, `{meridian: {sticky: true}}`)
	rng := rand.New(rand.NewPCG(1, 2))
	before := map[netip.Addr]string{}
	counts := map[string]int{}
	var clients []netip.Addr
	for range 2000 {
		a := netip.AddrFrom4([4]byte{byte(rng.IntN(223) + 1), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		c := NewClient(a, nil)
		v := answerValues(r.Select(&c, AllUp{}, nil))
		// The same client, and any address in its /24, keeps its value.
		other := NewClient(netip.AddrFrom4([4]byte{a.As4()[0], a.As4()[1], a.As4()[2], byte(rng.IntN(256))}), nil)
		if again := answerValues(r.Select(&other, AllUp{}, nil)); again != v {
			t.Fatalf("client %v got %s then %s from its /24", a, v, again)
		}
		before[a] = v
		counts[v]++
		clients = append(clients, a)
	}
	for v, n := range counts {
		if n < 2000/5/2 {
			t.Errorf("value %s got %d of 2000 clients; want roughly a fifth", v, n)
		}
	}
	// Take one value out: only its clients move.
	h := fakeHealth{down: set("192.0.2.12")}
	moved := 0
	for _, a := range clients {
		c := NewClient(a, nil)
		now := answerValues(r.Select(&c, h, nil))
		if before[a] == "192.0.2.12" {
			moved++
			if now == "192.0.2.12" {
				t.Fatalf("client %v still gets the down value", a)
			}
			continue
		}
		if now != before[a] {
			t.Errorf("client %v moved from %s to %s though its value is up", a, before[a], now)
		}
	}
	if moved == 0 {
		t.Error("no client had the removed value; test is vacuous")
	}
	c := NewClient(clients[0], nil)
	if d := r.Select(&c, AllUp{}, nil); d.Scope != 24 {
		t.Errorf("sticky scope: got /%d; want /24", d.Scope)
	}
}

// nearestRecord sends JP and US clients to their pools by geo; everyone
// else reaches the catch-all and, with nearest, the closest pool.
const nearestRecord = `
pools:
  us: {values: [{value: 192.0.2.10}]}
  eu: {values: [{value: 198.51.100.10}]}
  ap: {values: [{value: 203.0.113.10}]}
rules:
  - {geos: [AS-JP], pool: ap}
  - {geos: [NA-US], pool: us}
  - {pool: eu}
`

func TestSelectNearest(t *testing.T) {
	g := testGeo(t)
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, nearestRecord,
		`{meridian: {nearest: true, locations: {us: [39.0, -77.5], eu: [50.1, 8.7], ap: [35.7, 139.7]}}}`)
	tests := []struct {
		name, client string
		down         []string
		pool         string
		outcome      Outcome
		ttl          uint32
	}{
		{"London gets Frankfurt", "100.64.1.1", nil, "eu", FromPool, 60},
		{"Moscow gets Frankfurt", "100.66.1.1", nil, "eu", FromPool, 60},
		{"London with eu down gets the next nearest: Virginia", "100.64.1.1", []string{"198.51.100.10"}, "us", FromNearest, 10},
		{"Moscow with eu down gets the next nearest: Tokyo", "100.66.1.1", []string{"198.51.100.10"}, "ap", FromNearest, 10},
		{"everything down: fail-open", "100.64.1.1", []string{"203.0.113.10", "198.51.100.10", "192.0.2.10"}, "", FailOpen, 10},
		{"a geo rule before the catch-all is not nearest", "203.0.113.1", nil, "ap", FromPool, 60},
		{"no coordinates: the catch-all pool", "100.65.1.1", nil, "eu", FromPool, 60},
		{"no coordinates, catch-all down: its fallback chain (none): fail-open", "100.65.1.1", []string{"198.51.100.10"}, "", FailOpen, 10},
		{"unknown client: the catch-all pool", "127.0.0.1", nil, "eu", FromPool, 60},
		{"IPv6 client in DE", "2001:db8:2::1", nil, "eu", FromPool, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(netip.MustParseAddr(tt.client), g)
			d := r.Select(&c, fakeHealth{down: set(tt.down...)}, nil)
			pool := ""
			if d.Pool != nil {
				pool = d.Pool.ID
			}
			if pool != tt.pool || d.Outcome != tt.outcome || d.TTL != tt.ttl {
				t.Errorf("got pool %q outcome %v ttl %d; want %q %v %d", pool, d.Outcome, d.TTL, tt.pool, tt.outcome, tt.ttl)
			}
		})
	}
}

func TestSelectIPv6AndCNAME(t *testing.T) {
	g := testGeo(t)
	r6 := mustRecord(t, dns.TypeAAAA, []string{"2001:db8::1"}, `
pools:
  eu: {values: [{value: "2001:db8:2::10"}]}
  us: {values: [{value: "2001:db8:1::10"}]}
rules:
  - {subnets: ["2001:db8:2:ff::/64"], pool: us}
  - {geos: [EU], pool: eu}
  - {pool: us}
`, "")
	for _, tt := range []struct{ client, want string }{
		{"2001:db8:2::7", "2001:db8:2::10"},
		{"2001:db8:2:ff::7", "2001:db8:1::10"},
		{"2001:db8:1::7", "2001:db8:1::10"},
		{"198.51.100.7", "2001:db8:2::10"}, // an IPv4 client can ask for AAAA
	} {
		c := NewClient(netip.MustParseAddr(tt.client), g)
		if got := answerValues(r6.Select(&c, AllUp{}, nil)); got != tt.want {
			t.Errorf("AAAA for %s: got %s; want %s", tt.client, got, tt.want)
		}
	}
	rc := mustRecord(t, dns.TypeCNAME, []string{"lb.example.net."}, `
pools:
  eu: {values: [{value: eu-lb.example.net.}]}
  us: {values: [{value: us-lb.example.net.}]}
rules:
  - {geos: [EU], pool: eu}
  - {pool: us}
`, "")
	c := NewClient(netip.MustParseAddr("198.51.100.7"), g)
	d := rc.Select(&c, AllUp{}, nil)
	if got := answerValues(d); got != "eu-lb.example.net." || d.Answer[0].Header().Rrtype != dns.TypeCNAME {
		t.Errorf("CNAME: got %v", d.Answer)
	}
}

func TestSelectDoesNotAllocate(t *testing.T) {
	g := testGeo(t)
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, geoRecord, "")
	sticky := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, geoRecord, `{meridian: {sticky: true}}`)
	near := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, nearestRecord,
		`{meridian: {nearest: true, locations: {us: [39.0, -77.5], eu: [50.1, 8.7], ap: [35.7, 139.7]}}}`)
	for _, tt := range []struct {
		name   string
		r      *Record
		client string
		h      Health
	}{
		{"geo", r, "198.51.100.7", AllUp{}},
		{"subnet", r, "100.64.2.7", AllUp{}},
		{"fallback", r, "203.0.113.7", fakeHealth{down: set("203.0.113.10")}},
		{"fail-open", r, "192.0.2.7", fakeHealth{down: set("192.0.2.10"), drained: set("192.0.2.11")}},
		{"sticky", sticky, "198.51.100.7", AllUp{}},
		{"nearest", near, "100.64.1.1", AllUp{}},
	} {
		addr := netip.MustParseAddr(tt.client)
		allocs := testing.AllocsPerRun(200, func() {
			c := NewClient(addr, g)
			tt.r.Select(&c, tt.h, nil)
		})
		if allocs != 0 {
			t.Errorf("%s: got %v allocations per Select; want 0", tt.name, allocs)
		}
	}
}

// TestCounterIndex: every (rule, pool, outcome) a decision of a prepared
// record can name has a cell of its own.
func TestCounterIndex(t *testing.T) {
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1", "198.51.100.1"}, geoRecord, "")
	seen := map[int]string{}
	rules := append([]*Rule{nil}, r.Rules...)
	pls := append([]*Pool{nil}, r.Pools...)
	for _, ru := range rules {
		for _, p := range pls {
			for o := FromPool; o <= NoRule; o++ {
				d := Decision{Record: r, Rule: ru, Pool: p, Outcome: o}
				name := fmt.Sprintf("%v/%v/%v", ru, p, o)
				i := r.CounterIndex(&d)
				if i < 0 || i >= r.cells {
					t.Fatalf("%s: index %d outside the %d cells", name, i, r.cells)
				}
				if prev, dup := seen[i]; dup {
					t.Fatalf("%s and %s share cell %d", name, prev, i)
				}
				seen[i] = name
			}
		}
	}
	var unprepared Record
	if i := unprepared.CounterIndex(&Decision{Record: &unprepared}); i != -1 {
		t.Errorf("unprepared record: got index %d; want -1", i)
	}
	if c := unprepared.Cell(&Decision{Record: &unprepared}); c != nil {
		t.Errorf("unprepared record: got a cell")
	}
}

// TestCellsOnFirstUse: a prepared record has no counter cells until a
// decision asks for one; then every decision gets its own cell, the same
// one each time.
func TestCellsOnFirstUse(t *testing.T) {
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1", "198.51.100.1"}, geoRecord, "")
	if r.counters.Load() != nil {
		t.Fatal("cells made before any decision")
	}
	a := Decision{Record: r, Rule: r.Rules[0], Pool: r.Pools[0], Outcome: FromPool}
	b := Decision{Record: r, Pool: r.Pools[0], Outcome: FailOpen}
	ca, cb := r.Cell(&a), r.Cell(&b)
	if ca == nil || cb == nil || ca == cb {
		t.Fatalf("cells %p and %p; want two distinct cells", ca, cb)
	}
	if r.Cell(&a) != ca {
		t.Error("a decision's cell moved")
	}
	// Every cell index has its own cell, inside the one array.
	first := r.counters.Load()
	seen := map[*atomic.Pointer[atomic.Uint64]]bool{}
	for i := range r.cells {
		d := Decision{Record: r, cell: int32(i) + 1}
		c := r.Cell(&d)
		off := uintptr(unsafe.Pointer(c)) - uintptr(unsafe.Pointer(first))
		if seen[c] || off != uintptr(i)*unsafe.Sizeof(*first) {
			t.Fatalf("cell %d at offset %d (seen before: %v)", i, off, seen[c])
		}
		seen[c] = true
	}
	if d := (Decision{Record: r, cell: int32(r.cells) + 1}); r.CounterIndex(&d) >= r.cells {
		t.Error("a cell index past the last cell")
	}
}

// TestSelectPackedAndUnpackedLocations: rules test packed geo keys, and
// fall back to comparing codes for a location whose parts do not pack (a
// database subdivision longer than three characters).
func TestSelectPackedAndUnpackedLocations(t *testing.T) {
	path := geotest.WriteT(t, []geotest.Entry{
		{Network: "192.0.2.0/25", Country: "US", Continent: "NA", Subdivision: "VA"},
		{Network: "192.0.2.128/25", Country: "US", Continent: "NA", Subdivision: "WXYZ"},
		{Network: "198.51.100.0/24", Country: "CA", Continent: "NA", Subdivision: "ON"},
	})
	g, err := geo.Open([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, `
pools:
  va: {values: [{value: 203.0.113.1}]}
  us: {values: [{value: 203.0.113.2}]}
  na: {values: [{value: 203.0.113.3}]}
  other: {values: [{value: 203.0.113.4}]}
rules:
  - {geos: [EU, NA-US-VA], pool: va}
  - {geos: [AS, NA-US], pool: us}
  - {geos: [NA], pool: na}
  - {pool: other}
`, "")
	for client, want := range map[string]string{
		"192.0.2.1":    "va",
		"192.0.2.200":  "us",
		"198.51.100.1": "na",
		"203.0.113.9":  "other",
	} {
		c := NewClient(netip.MustParseAddr(client), g)
		if d := r.Select(&c, AllUp{}, nil); d.Pool == nil || d.Pool.ID != want {
			t.Errorf("%s: pool %v; want %s", client, d.Pool, want)
		}
	}
	for _, ru := range r.Rules[:3] {
		if len(ru.keys) != len(ru.Geos) {
			t.Errorf("rule %d: %d packed keys for %d geos", ru.Index, len(ru.keys), len(ru.Geos))
		}
	}
}

// settledUp is a Health that says it is settled: nothing down or drained.
type settledUp struct{ AllUp }

// askEach is the same verdicts without the Settled shortcut.
type askEach struct{}

func (askEach) State(*Record, *Value) State         { return Healthy }
func (askEach) Drained(*Record, *Pool, *Value) bool { return false }

// allDown is a record whose first rule's pool has only values configured
// down, so its clients fall back.
const allDown = `
pools:
  gone: {fallback: us, values: [{value: 203.0.113.10, status: down}]}
  us: {values: [{value: 192.0.2.10}, {value: 192.0.2.11, weight: 5}, {value: 192.0.2.12, status: down}]}
rules:
  - {geos: [AS], pool: gone}
  - {pool: us}
`

// settledClients are clients in every network of testGeo, one outside
// them, and one in the office subnet of geoRecord.
var settledClients = []string{"100.64.2.7", "100.64.3.7", "198.51.100.7", "100.66.1.1", "203.0.113.7", "127.0.0.1", "192.0.2.7", "2001:db8:2::1"}

// TestSelectSettled: while the health is settled, Select takes each pool's
// prepared list of values not configured down; it decides exactly as
// asking about every value does, never serves a value whose status is
// down, and falls back past a pool that has only such values.
func TestSelectSettled(t *testing.T) {
	g := testGeo(t)
	for _, octo := range []string{"{meridian: {sticky: true}}", "{meridian: {sticky: true, answers: 2}}"} {
		for _, dyn := range []string{geoRecord, allDown} {
			r := mustRecord(t, dns.TypeA, []string{"192.0.2.1", "198.51.100.1"}, dyn, octo)
			for _, client := range settledClients {
				for i := range 4 {
					addr := netip.MustParseAddr(client).Next()
					for range i * 37 {
						addr = addr.Next()
					}
					c1, c2 := NewClient(addr, g), NewClient(addr, g)
					got, want := r.Select(&c1, settledUp{}, nil), r.Select(&c2, askEach{}, nil)
					if got.Rule != want.Rule || got.Pool != want.Pool || got.Outcome != want.Outcome || got.TTL != want.TTL ||
						got.Scope != want.Scope || answerValues(got) != answerValues(want) {
						t.Errorf("%s %s: settled gives %+v; asking each value gives %+v", octo, addr, got, want)
					}
					if strings.Contains(answerValues(got), "192.0.2.12") || (dyn == allDown && strings.Contains(answerValues(got), "203.0.113.10")) {
						t.Errorf("%s: a value whose status is down served: %s", addr, answerValues(got))
					}
				}
			}
		}
	}
	// Weighted draws from the prepared list keep the weights.
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, allDown, "")
	c := NewClient(netip.MustParseAddr("127.0.0.1"), g)
	heavy := 0
	const n = 6000
	for range n {
		if d := r.Select(&c, settledUp{}, nil); answerValues(d) == "192.0.2.11" {
			heavy++
		}
	}
	if heavy < n*5/6-300 || heavy > n*5/6+300 {
		t.Errorf("weight 5 of 6 drawn %d times of %d", heavy, n)
	}
}

// TestSelectSettledPath: records that are not sticky take the laid-out
// settled path (prepareSettled); it decides the rule, pool, outcome, TTL
// and scope exactly as the general path does, answers with distinct
// values of the chosen pool that are not configured down, works out the
// same counter cell, and draws several values by weight.
func TestSelectSettledPath(t *testing.T) {
	g := testGeo(t)
	for _, octo := range []string{"", "{meridian: {answers: 2}}", "{meridian: {answers: 3}}"} {
		for _, dyn := range []string{geoRecord, allDown} {
			r := mustRecord(t, dns.TypeA, []string{"192.0.2.1", "198.51.100.1"}, dyn, octo)
			if r.ptab == nil {
				t.Fatalf("%s: no settled layout", octo)
			}
			for _, client := range settledClients {
				addr := netip.MustParseAddr(client)
				c1, c2 := NewClient(addr, g), NewClient(addr, g)
				c1.Scratch, c1.WireScratch = make([]dns.RR, 0, 4), make([]byte, 0, 512)
				got, ok := r.selectSettled(&c1)
				if !ok {
					t.Fatalf("%s %s: the settled path declined", octo, addr)
				}
				want := r.Select(&c2, askEach{}, nil)
				if got.Rule != want.Rule || got.Pool != want.Pool || got.Outcome != want.Outcome || got.TTL != want.TTL ||
					got.Scope != want.Scope || len(got.Answer) != len(want.Answer) {
					t.Errorf("%s %s: settled path gives %+v; general path %+v", octo, addr, got, want)
				}
				seen := map[string]bool{}
				for _, v := range strings.Fields(answerValues(got)) {
					ok := false
					for _, pv := range got.Pool.Values {
						ok = ok || (pv.Value == v && pv.Status != Down)
					}
					if !ok || seen[v] {
						t.Errorf("%s %s: answer %s: %s is not a distinct serviceable value of pool %s", octo, addr, answerValues(got), v, got.Pool.ID)
					}
					seen[v] = true
				}
				if string(got.Wire) != string(packed.Of(got.Answer)) {
					t.Errorf("%s %s: wire form does not match the answer", octo, addr)
				}
				general := got
				general.cell = 0
				if got.Record.CounterIndex(&got) != r.CounterIndex(&general) {
					t.Errorf("%s %s: counter cell %d; want %d", octo, addr, got.Record.CounterIndex(&got), r.CounterIndex(&general))
				}
			}
		}
	}
	// Two of weights 1, 2 and 3, drawn without replacement: each is in
	// the pair with probability 5/12, 11/15 and 17/20.
	r := mustRecord(t, dns.TypeA, []string{"192.0.2.1"}, `
pools:
  p: {values: [{value: 192.0.2.1}, {value: 192.0.2.2, weight: 2}, {value: 192.0.2.3, weight: 3}]}
rules:
  - {pool: p}
`, "{meridian: {answers: 2}}")
	c := NewClient(netip.MustParseAddr("127.0.0.1"), g)
	count := map[string]int{}
	const n = 20000
	for range n {
		for _, v := range strings.Fields(answerValues(r.Select(&c, settledUp{}, nil))) {
			count[v]++
		}
	}
	for v, p := range map[string]float64{"192.0.2.1": 5.0 / 12, "192.0.2.2": 11.0 / 15, "192.0.2.3": 17.0 / 20} {
		if want := int(p * n); count[v] < want-300 || count[v] > want+300 {
			t.Errorf("%s in %d pairs of %d; want about %d", v, count[v], n, want)
		}
	}
}

package pools

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/geo"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

var updateParse = flag.Bool("update-parse", false, "rewrite pools/testdata/parse/*.golden")

// parseDoc runs Parse over a record written as YAML (its `dynamic:` and
// `octodns:` keys) with fixed top-level values.
func parseDoc(t *testing.T, typ uint16, src string) (*Record, []Problem) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	m := ymap(doc.Content[0])
	values := []*Value{{Value: "192.0.2.254", Addr: netip.MustParseAddr("192.0.2.254"), Line: 1}}
	return Parse("www.example.com.", typ, 60, values, m.Get("dynamic"), m.Get("octodns"))
}

const happyA = `dynamic:
  pools:
    eu:
      fallback: us
      values:
        - value: 192.0.2.1
          weight: 3
        - value: 192.0.2.2
          status: down
    us:
      values:
        - value: 198.51.100.1
          status: up
    lab:
      values:
        - {value: 203.0.113.1}
  rules:
    - pool: lab
      subnets: [10.0.0.0/8, 2001:db8::/32, 192.0.2.7]
    - pool: eu
      subnets: [172.16.0.0/12]
      geos: [EU, AF-ZA]
    - pool: us
      geos: [NA-US-CA]
    - pool: us
octodns:
  healthcheck:
    path: /_health
  meridian:
    answers: 2
    sticky: true
    nearest: true
    locations:
      eu: [50.1, 8.7]
      us: [39, -77.5]
      lab: [0, 0]
    healthcheck: {interval: 5s}
`

func TestParseHappyA(t *testing.T) {
	r, probs := parseDoc(t, dns.TypeA, happyA)
	if len(probs) > 0 {
		t.Fatalf("got problems %v; want none", probs)
	}
	if got, want := poolIDs(r.Pools), []string{"eu", "us", "lab"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got pools %v; want %v", got, want)
	}
	eu, us, lab := r.Pool("eu"), r.Pool("us"), r.Pool("lab")
	if eu == nil || us == nil || lab == nil || r.Pool("nope") != nil {
		t.Fatalf("got byID %v; want eu, us, lab", r.byID)
	}
	if eu.fallback != us || eu.Fallback != "us" || us.fallback != nil || lab.fallback != nil {
		t.Errorf("got fallbacks eu→%v us→%v; want eu→us, us→nil", eu.fallback, us.fallback)
	}
	if got, want := eu.Line, 3; got != want {
		t.Errorf("got eu line %d; want %d", got, want)
	}
	wantEU := []Value{
		{Value: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Weight: 3, Status: Obey, Line: 6},
		{Value: "192.0.2.2", Addr: netip.MustParseAddr("192.0.2.2"), Weight: 1, Status: Down, Line: 8},
	}
	if got := derefValues(eu.Values); !reflect.DeepEqual(got, wantEU) {
		t.Errorf("got eu values %+v; want %+v", got, wantEU)
	}
	if got := us.Values[0]; got.Status != Up || got.Weight != 1 {
		t.Errorf("got us value %+v; want status up, weight 1", got)
	}
	if got, want := len(r.Rules), 4; got != want {
		t.Fatalf("got %d rules; want %d", got, want)
	}
	wantRules := []struct {
		pool    *Pool
		subnets []netip.Prefix
		geos    []geo.Code
		line    int
		catch   bool
	}{
		{lab, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.7/32")}, nil, 18, false},
		{eu, []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")}, []geo.Code{{Continent: "EU"}, {Continent: "AF", Country: "ZA"}}, 20, false},
		{us, nil, []geo.Code{{Continent: "NA", Country: "US", Subdivision: "CA"}}, 23, false},
		{us, nil, nil, 25, true},
	}
	for i, w := range wantRules {
		ru := r.Rules[i]
		if ru.pool != w.pool || ru.PoolID != w.pool.ID || ru.Index != i || ru.Line != w.line || ru.CatchAll() != w.catch {
			t.Errorf("rule %d: got pool %s index %d line %d catch-all %v; want %s %d %d %v",
				i, ru.PoolID, ru.Index, ru.Line, ru.CatchAll(), w.pool.ID, i, w.line, w.catch)
		}
		if !reflect.DeepEqual(ru.Subnets, w.subnets) || !reflect.DeepEqual(ru.Geos, w.geos) {
			t.Errorf("rule %d: got subnets %v geos %v; want %v %v", i, ru.Subnets, ru.Geos, w.subnets, w.geos)
		}
	}
	if r.Name != "www.example.com." || r.Type != dns.TypeA || r.TTL != 60 {
		t.Errorf("got %s %d %d; want www.example.com. A 60", r.Name, r.Type, r.TTL)
	}
	if r.Answers != 2 || !r.Sticky || !r.Nearest {
		t.Errorf("got answers %d sticky %v nearest %v; want 2 true true", r.Answers, r.Sticky, r.Nearest)
	}
	wantLoc := map[string][2]float64{"eu": {50.1, 8.7}, "us": {39, -77.5}, "lab": {0, 0}}
	if !reflect.DeepEqual(r.Locations, wantLoc) {
		t.Errorf("got locations %v; want %v", r.Locations, wantLoc)
	}
	if !eu.hasLoc || eu.lat != 50.1 || eu.lon != 8.7 || !lab.hasLoc {
		t.Errorf("got eu location %v %v,%v; want true 50.1,8.7", eu.hasLoc, eu.lat, eu.lon)
	}
	if got := r.Values[0].Weight; got != 1 {
		t.Errorf("got top-level weight %d; want 1", got)
	}
}

func TestParseDefaults(t *testing.T) {
	r, probs := parseDoc(t, dns.TypeA, `dynamic:
  pools:
    one:
      values:
        - value: 192.0.2.1
  rules:
    - pool: one
`)
	if len(probs) > 0 {
		t.Fatalf("got problems %v; want none", probs)
	}
	if r.Answers != 1 || r.Sticky || r.Nearest || r.Locations != nil || r.Pools[0].hasLoc {
		t.Errorf("got answers %d sticky %v nearest %v locations %v; want 1 false false nil",
			r.Answers, r.Sticky, r.Nearest, r.Locations)
	}
	if got := r.Rules[0]; !got.CatchAll() || got.pool != r.Pools[0] {
		t.Errorf("got rule %+v; want catch-all to one", got)
	}
}

func TestParseHappyAAAAAndCNAME(t *testing.T) {
	tests := []struct {
		name string
		typ  uint16
		src  string
		want []string // values of pool "a", then "b"
	}{
		{"AAAA", dns.TypeAAAA, `dynamic:
  pools:
    a:
      values:
        - value: 2001:DB8:0::1
          weight: 10
        - value: 2001:db8::2
          weight: 20
    b:
      fallback: a
      values:
        - value: ::ffff:192.0.2.1
  rules:
    - pool: b
      subnets: [2001:db8:1::/48]
    - pool: a
`, []string{"2001:db8::1", "2001:db8::2", "::ffff:192.0.2.1"}},
		{"CNAME", dns.TypeCNAME, `dynamic:
  pools:
    a:
      values:
        - value: EU.Origin.example.net.
    b:
      fallback: a
      values:
        - value: natación.example.
        - value: _svc.us.example.net.
          status: up
  rules:
    - pool: b
      geos: [NA]
    - pool: a
`, []string{"eu.origin.example.net.", "xn--natacin-q0a.example.", "_svc.us.example.net."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, probs := parseDoc(t, tt.typ, tt.src)
			if len(probs) > 0 {
				t.Fatalf("got problems %v; want none", probs)
			}
			var got []string
			for _, p := range r.Pools {
				for _, v := range p.Values {
					got = append(got, v.Value)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got values %q; want %q", got, tt.want)
			}
			if r.Pool("b").fallback != r.Pool("a") || r.Rules[0].pool != r.Pool("b") {
				t.Errorf("got b→%v rule 1→%v; want links to a and b", r.Pool("b").fallback, r.Rules[0].pool)
			}
			if tt.typ == dns.TypeAAAA && !r.Pools[0].Values[0].Addr.Is6() {
				t.Errorf("got addr %v; want IPv6", r.Pools[0].Values[0].Addr)
			}
		})
	}
}

// okPools is a valid pools section used by cases about rules.
const okPools = `dynamic:
  pools:
    one:
      values:
        - value: 192.0.2.1
    two:
      values:
        - value: 192.0.2.2
    three:
      values:
        - value: 192.0.2.3
  rules:
`

// okRules is a valid rules section used by cases about pools.
const okRules = `  rules:
    - pool: one
`

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		typ  uint16
		src  string
		want []Problem
	}{
		{"dynamic not a dict", dns.TypeA, "dynamic: [1]\n",
			[]Problem{{1, "dynamic must be a dict"}}},
		{"missing pools", dns.TypeA, "dynamic:\n  rules:\n    - pool: one\n",
			[]Problem{{2, "missing pools"}, {3, `rule 1 undefined pool "one"`}}},
		{"empty pools", dns.TypeA, "dynamic:\n  pools: {}\n" + okRules,
			[]Problem{{2, "missing pools"}, {4, `rule 1 undefined pool "one"`}}},
		{"pools must be a dict", dns.TypeA, "dynamic:\n  pools: [one]\n" + okRules,
			[]Problem{{2, "pools must be a dict"}, {4, `rule 1 undefined pool "one"`}}},
		{"pool must be a dict", dns.TypeA, "dynamic:\n  pools:\n    one: 192.0.2.1\n" + okRules,
			[]Problem{{3, `pool "one" must be a dict`}}},
		{"pool missing values", dns.TypeA, "dynamic:\n  pools:\n    one:\n      fallback: null\n" + okRules,
			[]Problem{{3, `pool "one" is missing values`}}},
		{"pool values not a list", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values: {value: 192.0.2.1}\n" + okRules,
			[]Problem{{4, `pool "one" values must be a list`}}},
		{"pool value not a dict", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - 192.0.2.1\n" + okRules,
			[]Problem{{5, `pool "one" value 1 must be a dict`}}},
		{"missing value", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - weight: 1\n" + okRules,
			[]Problem{{5, `missing value in pool "one" value 1`}}},
		{"invalid IPv4", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n        - value: 192.0.2.300\n" + okRules,
			[]Problem{{6, `invalid IPv4 address "192.0.2.300"`}}},
		{"IPv6 in A", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 2001:db8::1\n" + okRules,
			[]Problem{{5, `invalid IPv4 address "2001:db8::1"`}}},
		{"invalid IPv6", dns.TypeAAAA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules,
			[]Problem{{5, `invalid IPv6 address "192.0.2.1"`}}},
		{"empty value", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: ''\n" + okRules,
			[]Problem{{5, "empty value"}}},
		{"null value", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value:\n" + okRules,
			[]Problem{{5, "missing value(s)"}}},
		{"CNAME missing trailing dot", dns.TypeCNAME, "dynamic:\n  pools:\n    one:\n      values:\n        - value: eu.example.net\n" + okRules,
			[]Problem{{5, `CNAME value "eu.example.net" missing trailing .`}}},
		{"CNAME not an FQDN", dns.TypeCNAME, "dynamic:\n  pools:\n    one:\n      values:\n        - value: eu\n" + okRules,
			[]Problem{{5, `CNAME value "eu" is not a valid FQDN`}, {5, `CNAME value "eu" missing trailing .`}}},
		{"CNAME empty", dns.TypeCNAME, "dynamic:\n  pools:\n    one:\n      values:\n        - value: ''\n" + okRules,
			[]Problem{{5, "missing value"}}},
		{"weight not an integer", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n          weight: heavy\n        - value: 192.0.2.2\n" + okRules,
			[]Problem{{6, `invalid weight "heavy" in pool "one" value 1`}}},
		{"weight float", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n          weight: 2.5\n        - value: 192.0.2.2\n" + okRules,
			[]Problem{{6, `invalid weight "2.5" in pool "one" value 1`}}},
		{"weight zero", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n        - value: 192.0.2.2\n          weight: 0\n" + okRules,
			[]Problem{{7, `invalid weight "0" in pool "one" value 2`}}},
		{"weight too big as string", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n          weight: '101'\n        - value: 192.0.2.2\n" + okRules,
			[]Problem{{6, `invalid weight "101" in pool "one" value 1`}}},
		{"single value with weight", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n          weight: 5\n" + okRules,
			[]Problem{{6, `pool "one" has single value with weight!=1`}}},
		{"single value with invalid weight", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n          weight: 500\n" + okRules,
			[]Problem{{6, `invalid weight "500" in pool "one" value 1`}, {6, `pool "one" has single value with weight!=1`}}},
		{"invalid status", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n          status: drained\n" + okRules,
			[]Problem{{6, `invalid status "drained" in pool "one" value 1`}}},
		{"status bool", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n          status: true\n" + okRules,
			[]Problem{{6, `invalid status "True" in pool "one" value 1`}}},
		{"undefined fallback", dns.TypeA, "dynamic:\n  pools:\n    one:\n      fallback: two\n      values:\n        - value: 192.0.2.1\n" + okRules,
			[]Problem{{4, `undefined fallback "two" for pool "one"`}}},
		{"fallback loop", dns.TypeA, `dynamic:
  pools:
    one:
      fallback: two
      values:
        - value: 192.0.2.1
    two:
      fallback: three
      values:
        - value: 192.0.2.2
    three:
      fallback: two
      values:
        - value: 192.0.2.3
` + okRules,
			[]Problem{
				{4, "loop in pool fallbacks: one -> two -> three"},
				{12, "loop in pool fallbacks: three -> two"},
				{8, "loop in pool fallbacks: two -> three"},
			}},
		{"fallback to itself", dns.TypeA, "dynamic:\n  pools:\n    one:\n      fallback: one\n      values:\n        - value: 192.0.2.1\n" + okRules,
			[]Problem{{4, "loop in pool fallbacks: one -> one"}}},
		{"rules missing", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n",
			[]Problem{{2, "missing rules"}, {3, `unused pools: "one"`}}},
		{"rules empty", dns.TypeA, "dynamic:\n  rules: []\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n",
			[]Problem{{2, "missing rules"}, {4, `unused pools: "one"`}}},
		{"rules must be a list", dns.TypeA, "dynamic:\n  rules: {pool: one}\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n",
			[]Problem{{2, "rules must be a list"}, {4, `unused pools: "one"`}}},
		{"rule not a dict", dns.TypeA, okPools + "    - one\n    - pool: one\n",
			[]Problem{{13, "rule 1 must be a dict"}, {9, `unused pools: "three", "two"`}}},
		{"rule missing pool", dns.TypeA, okPools + "    - geos: [EU]\n    - pool: one\n",
			[]Problem{{13, "rule 1 missing pool"}, {9, `unused pools: "three", "two"`}}},
		{"rule invalid pool", dns.TypeA, okPools + "    - pool: [one]\n    - pool: two\n    - pool: three\n",
			[]Problem{{13, `rule 1 invalid pool "['one']"`}, {14, "rule 2 duplicate default"}, {15, "rule 3 duplicate default"}, {3, `unused pools: "one"`}}},
		{"rule undefined pool", dns.TypeA, okPools + "    - pool: four\n      geos: [EU]\n    - pool: one\n    - pool: two\n    - pool: three\n",
			[]Problem{{13, `rule 1 undefined pool "four"`}, {16, "rule 3 duplicate default"}, {17, "rule 4 duplicate default"}}},
		{"pool reused", dns.TypeA, okPools + "    - pool: one\n      geos: [EU]\n    - pool: one\n      geos: [AS]\n    - pool: two\n    - pool: three\n",
			[]Problem{{15, `rule 2 invalid, target pool "one" reused`}, {18, "rule 4 duplicate default"}}},
		{"catch-all may reuse a pool", dns.TypeA, okPools + "    - pool: two\n      subnets: [10.0.0.0/8]\n    - pool: one\n      geos: [EU]\n    - pool: one\n",
			[]Problem{{9, `unused pools: "three"`}}},
		{"subnet-only after geo", dns.TypeA, okPools + "    - pool: one\n      geos: [EU]\n    - pool: two\n      subnets: [10.0.0.0/8]\n    - pool: three\n",
			[]Problem{{15, "rule 2 with only subnet targeting should appear before all geo targeting rules"}}},
		{"subnet+geo after geo-only", dns.TypeA, okPools + "    - pool: one\n      geos: [EU]\n    - pool: two\n      geos: [AS]\n      subnets: [10.0.0.0/8]\n    - pool: three\n",
			[]Problem{{15, "rule 2 with subnet(s) and geo(s) should appear before all geo-only rules"}}},
		{"duplicate default", dns.TypeA, okPools + "    - pool: one\n    - pool: two\n      geos: []\n    - pool: three\n",
			[]Problem{{14, "rule 2 duplicate default"}, {16, "rule 3 duplicate default"}}},
		{"final rule not catch-all", dns.TypeA, okPools + "    - pool: two\n      subnets: [10.0.0.0/8]\n    - pool: one\n      geos: [EU]\n    - pool: three\n      geos: [AS]\n",
			[]Problem{{17, `final rule has "subnets" and/or "geos" and is not catchall`}}},
		{"geos must be a list", dns.TypeA, okPools + "    - pool: one\n      geos: EU\n    - pool: two\n    - pool: three\n",
			[]Problem{{14, "rule 1 geos must be a list"}, {16, "rule 3 duplicate default"}}},
		{"geos null", dns.TypeA, okPools + "    - pool: one\n      geos:\n    - pool: two\n      subnets: [10.0.0.0/8]\n    - pool: three\n",
			[]Problem{{14, "rule 1 geos must be a list"}, {17, "rule 3 duplicate default"}}},
		{"subnets must be a list", dns.TypeA, okPools + "    - pool: one\n      subnets: 10.0.0.0/8\n    - pool: two\n    - pool: three\n",
			[]Problem{{14, "rule 1 subnets must be a list"}, {16, "rule 3 duplicate default"}}},
		{"invalid subnet", dns.TypeA, okPools + "    - pool: one\n      subnets: [10.0.0.0/33, nope]\n    - pool: two\n      geos: [EU]\n    - pool: three\n",
			[]Problem{{14, `rule 1 invalid subnet "10.0.0.0/33"`}, {14, `rule 1 invalid subnet "nope"`}}},
		{"subnet host bits set", dns.TypeA, okPools + "    - pool: one\n      subnets:\n        - 10.0.0.1/8\n    - pool: two\n      geos: [EU]\n    - pool: three\n",
			[]Problem{{15, `rule 1 invalid subnet "10.0.0.1/8"`}}},
		{"unknown continent", dns.TypeA, okPools + "    - pool: one\n      geos: [XX]\n    - pool: two\n      geos: [EU]\n    - pool: three\n",
			[]Problem{{14, `rule 1 unknown continent code "XX"`}}},
		{"unknown country", dns.TypeA, okPools + "    - pool: one\n      geos: [EU-XX]\n    - pool: two\n      geos: [AS]\n    - pool: three\n",
			[]Problem{{14, `rule 1 unknown country code "EU-XX"`}}},
		{"unknown province", dns.TypeA, okPools + "    - pool: one\n      geos: [NA-US-XX]\n    - pool: two\n      geos: [AS]\n    - pool: three\n",
			[]Problem{{14, `rule 1 unknown province code "NA-US-XX"`}}},
		{"invalid geo code", dns.TypeA, okPools + "    - pool: one\n      geos: [NA-US-CA-SF]\n    - pool: two\n      geos: [AS]\n    - pool: three\n",
			[]Problem{{14, `rule 1 invalid geo code "NA-US-CA-SF"`}}},
		{"geo seen before", dns.TypeA, okPools + "    - pool: one\n      geos: [AS, NA]\n    - pool: two\n      geos: [EU, NA]\n    - pool: three\n",
			[]Problem{{16, "rule 2 targets geo NA which has previously been seen in rule 1"}}},
		{"geo narrower than before", dns.TypeA, okPools + "    - pool: one\n      geos: [AS, NA]\n    - pool: two\n      geos:\n        - EU\n        - NA-CA\n    - pool: three\n",
			[]Problem{{18, "rule 2 targets geo NA-CA which is more specific than the previously seen NA in rule 1"}}},
		{"geo narrower in the same rule", dns.TypeA, okPools + "    - pool: one\n      geos: [AS, NA-US, NA]\n    - pool: two\n    - pool: three\n      geos: [EU]\n",
			[]Problem{
				{14, "rule 1 targets geo NA-US which is more specific than the previously seen NA in rule 1"},
				{16, `final rule has "subnets" and/or "geos" and is not catchall`},
			}},
		{"subnet seen before", dns.TypeA, okPools + "    - pool: one\n      subnets: [10.1.0.0/16]\n    - pool: two\n      subnets: [10.1.0.0/16]\n    - pool: three\n",
			[]Problem{{16, "rule 2 targets subnet 10.1.0.0/16 which has previously been seen in rule 1"}}},
		{"subnet narrower than before", dns.TypeA, okPools + "    - pool: one\n      subnets: [10.1.0.0/16, 2001:db8::/32]\n    - pool: two\n      subnets: [2001:db8:1::/48, 10.1.1.0/24]\n    - pool: three\n",
			[]Problem{
				{16, "rule 2 targets subnet 10.1.1.0/24 which is more specific than the previously seen 10.1.0.0/16 in rule 1"},
				{16, "rule 2 targets subnet 2001:db8:1::/48 which is more specific than the previously seen 2001:db8::/32 in rule 1"},
			}},
		{"subnet narrower in the same rule", dns.TypeA, okPools + "    - pool: one\n      subnets: [10.1.1.0/24, 10.1.0.0/16]\n    - pool: two\n      subnets: [11.1.0.0/16]\n    - pool: three\n",
			[]Problem{{14, "rule 1 targets subnet 10.1.1.0/24 which is more specific than the previously seen 10.1.0.0/16 in rule 1"}}},
		{"unused pools", dns.TypeA, okPools + "    - pool: two\n",
			[]Problem{{3, `unused pools: "one", "three"`}}},
		{"fallback counts as used", dns.TypeA, "dynamic:\n  pools:\n    one:\n      fallback: two\n      values:\n        - value: 192.0.2.1\n    two:\n      values:\n        - value: 192.0.2.2\n" + okRules, nil},

		{"meridian not a dict", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian: [answers]\n",
			[]Problem{{9, "octodns.meridian must be a dict"}}},
		{"meridian unknown key", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  ignored: true\n  meridian:\n    anwsers: 2\n",
			[]Problem{{11, `unknown key "anwsers" in octodns.meridian`}}},
		{"meridian answers", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    answers: 0\n",
			[]Problem{{10, `invalid octodns.meridian.answers "0", expected an integer >= 1`}}},
		{"meridian answers string", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    answers: two\n",
			[]Problem{{10, `invalid octodns.meridian.answers "two", expected an integer >= 1`}}},
		{"meridian sticky", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    sticky: 1\n",
			[]Problem{{10, `invalid octodns.meridian.sticky "1", expected true or false`}}},
		{"meridian nearest", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    nearest: maybe\n",
			[]Problem{{10, `invalid octodns.meridian.nearest "maybe", expected true or false`}}},
		{"locations not a mapping", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    locations: [1, 2]\n",
			[]Problem{{10, "invalid octodns.meridian.locations, expected a mapping of pool id to [lat, lon]"}}},
		{"location of undefined pool", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    locations:\n      two: [1, 2]\n",
			[]Problem{{11, `octodns.meridian.locations: undefined pool "two"`}}},
		{"location shape", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    locations:\n      one: [1, 2, 3]\n",
			[]Problem{{11, `invalid octodns.meridian.locations "one", expected [lat, lon]`}}},
		{"location not numbers", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    locations:\n      one: [north, 2]\n",
			[]Problem{{11, `invalid octodns.meridian.locations "one", expected [lat, lon]`}}},
		{"latitude range", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    locations:\n      one: [90.5, 2]\n",
			[]Problem{{11, `invalid octodns.meridian.locations "one": latitude 90.5 out of range -90..90`}}},
		{"longitude range", dns.TypeA, "dynamic:\n  pools:\n    one:\n      values:\n        - value: 192.0.2.1\n" + okRules + "octodns:\n  meridian:\n    locations:\n      one:\n        - 1\n        - -181\n",
			[]Problem{{13, `invalid octodns.meridian.locations "one": longitude -181 out of range -180..180`}}},
		{"nearest without location", dns.TypeA, "dynamic:\n  pools:\n    one:\n      fallback: two\n      values:\n        - value: 192.0.2.1\n    two:\n      values:\n        - value: 192.0.2.2\n" + okRules + "octodns:\n  meridian:\n    nearest: true\n    locations:\n      two: [1, 2]\n",
			[]Problem{{14, `nearest: pool "one" has no location`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, got := parseDoc(t, tt.typ, tt.src)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", fmtProblems(got), fmtProblems(tt.want))
			}
			if (r == nil) != (len(tt.want) > 0) {
				t.Errorf("got record %v with %d problems; want a record only without problems", r != nil, len(got))
			}
		})
	}
}

// TestParseGolden runs every pools/testdata/parse/*.yaml (a record's
// `type`, `dynamic` and `octodns` keys) and compares the problems with the
// .golden file next to it. -update-parse rewrites the golden files.
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("got %d testdata files (%v); want some", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(src, &doc); err != nil {
				t.Fatalf("yaml: %v", err)
			}
			m := ymap(doc.Content[0])
			typ := dns.StringToType[m.Get("type").Value]
			r, probs := Parse("www.example.com.", typ, 60, nil, m.Get("dynamic"), m.Get("octodns"))
			var b strings.Builder
			for _, p := range probs {
				fmt.Fprintf(&b, "%s:%d: %s\n", filepath.Base(f), p.Line, p.Msg)
			}
			if r != nil {
				fmt.Fprintf(&b, "ok: %d pools, %d rules\n", len(r.Pools), len(r.Rules))
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *updateParse {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update-parse)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func poolIDs(ps []*Pool) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func derefValues(vs []*Value) []Value {
	out := make([]Value, len(vs))
	for i, v := range vs {
		out[i] = *v
	}
	return out
}

func fmtProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %d: %s", p.Line, p.Msg)
	}
	return b.String()
}

// FuzzParse checks that no document makes Parse panic, and that it returns
// a record exactly when it reports no problem.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "parse", "*.yaml"))
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(string(src))
		}
	}
	f.Add(happyA)
	f.Fuzz(func(t *testing.T, src string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte(src), &doc) != nil || len(doc.Content) == 0 {
			return
		}
		m := ymap(doc.Content[0])
		for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME} {
			r, probs := Parse("www.example.com.", typ, 60, nil, m.Get("dynamic"), m.Get("octodns"))
			if (r == nil) == (len(probs) == 0) {
				t.Fatalf("got record %v with %d problems", r != nil, len(probs))
			}
			if r != nil {
				for _, ru := range r.Rules {
					if ru.pool == nil {
						t.Fatalf("rule %d not linked", ru.Index)
					}
				}
			}
		}
	})
}

package bench

import (
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
)

// loadMeridian loads a generated config and its zones as `meridian serve`
// would, failing on any problem.
func loadMeridian(t *testing.T, path string) (*config.Config, *zones.Set) {
	t.Helper()
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	set, ps := zones.Load(zones.Options{
		Dir: c.Zones.Dir,
		SOA: zones.SOAValues{MName: c.SOA.MName, RName: c.SOA.RName, Refresh: c.SOA.Refresh, Retry: c.SOA.Retry,
			Expire: c.SOA.Expire, Minimum: c.SOA.Minimum, TTL: c.SOA.TTL},
		DynamicTTL:  c.DynamicTTL,
		DegradedTTL: c.DegradedTTL,
		Health:      pools.DefaultCheckDefaults(),
	})
	for _, p := range ps {
		t.Errorf("zone problem: %s", p)
	}
	return c, set
}

func TestGenerateLoadsInMeridian(t *testing.T) {
	s := NewScenario(DefaultSpec())
	lay, err := Generate(t.TempDir(), s, DefaultListeners())
	if err != nil {
		t.Fatal(err)
	}
	for cfg, want := range map[string]int{lay.Meridian: 1, lay.Meridian2: 2} {
		c, err := config.Load(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(c.DNS.Listen); got != want {
			t.Errorf("%s: got %d listeners, want %d", cfg, got, want)
		}
		if got, want := len(c.GeoIP.Databases), 1; got != want {
			t.Errorf("%s: got %d geoip databases, want %d", cfg, got, want)
		}
	}
	_, set := loadMeridian(t, lay.Meridian)
	if got, want := len(set.Zones()), len(s.Zones); got != want {
		t.Errorf("got %d zones, want %d", got, want)
	}
	sp := s.Spec
	if got, want := len(set.Policies()), sp.Zones*(sp.Geo+sp.Weighted+sp.Failover); got != want {
		t.Errorf("got %d dynamic records, want %d", got, want)
	}
	for _, p := range set.Policies() {
		if p.Check != nil {
			t.Errorf("%s has a health check; the benchmark must not probe", p.Name)
		}
	}
	if got, want := set.Lookup("host-1.bench-0.test.", 1).Kind, zones.Success; got != want {
		t.Errorf("host-1: got %v, want %v", got, want)
	}
	if got, want := set.Lookup("nope.bench-0.test.", 1).Kind, zones.NameError; got != want {
		t.Errorf("nope: got %v, want %v", got, want)
	}
}

func TestBigZoneLoads(t *testing.T) {
	spec := BigZoneSpec()
	if got, want := spec.Zones*spec.Static, 100000; got != want || !spec.OnlyA {
		t.Errorf("big zone: %d static names (OnlyA %v), want %d A RRsets", got, spec.OnlyA, want)
	}
	if got, want := spec.Zones*(spec.Geo+spec.Weighted+spec.Failover), 10000; got != want {
		t.Errorf("big zone: %d dynamic records, want %d", got, want)
	}
	// One zone at a fifth of the size: the same shape, quickly.
	spec.Zones, spec.Static, spec.Geo, spec.Queries = 1, 2000, 200, 100
	s := NewScenario(spec)
	cfg, zone0, err := writeBigZone(t.TempDir(), s, "127.0.0.1:15399")
	if err != nil {
		t.Fatal(err)
	}
	_, set := loadMeridian(t, cfg)
	static := 0
	for _, n := range s.Zones[0].Static {
		static += n.RRsets()
	}
	if got, want := static, 2000; got != want {
		t.Errorf("got %d static RRsets, want %d", got, want)
	}
	if got, want := len(set.Policies()), 200; got != want {
		t.Errorf("got %d dynamic records, want %d", got, want)
	}
	if err := setMarker(zone0, 1); err != nil {
		t.Fatal(err)
	}
	if _, set := loadMeridian(t, cfg); set.Lookup(markerName+"."+s.Zones[0].Origin, 16).Kind != zones.Success {
		t.Error("the reload marker is not served")
	}
	if err := setMarker(zone0, 1); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("setting the same generation twice: got %v, want a marker-not-found error", err)
	}
}

func TestGdnsdMap(t *testing.T) {
	s := NewScenario(Spec{Zones: 1, Static: 1, Geo: 2, Weighted: 1, Failover: 1, Queries: 10, Seed: 1})
	var b strings.Builder
	gdnsdGeoip(&b, s, "/db.mmdb")
	got := b.String()
	// The world policy: narrower geos nest under their continent with the
	// broader rule (or the catch-all) as that level's default; the subnet
	// rule is a nets entry; every list is the rule's pool and its
	// fallback chain.
	for _, want := range []string{
		"datacenters => [use, corp, usw, apne, eu, apse, sa]",
		"default => [use]\n          NA => {\n            default => [use]\n            US => {\n              default => [use]\n              CA => [usw, use]",
		"AS => {\n            default => [apse, use]\n            JP => [apne, apse, use]",
		"AF => [eu, use]", "EU => [eu, use]", "OC => [apse, use]", "SA => [sa, use]",
		"nets => { 10.0.0.0/8 => [corp, use] }",
		"datacenters => [us, eu, ap]", "AS => [ap, eu, us]",
		"g0_0 => { map => world, dcmap => {", "g0_1 => { map => continents, dcmap => {",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("geoip config lacks %q:\n%s", want, got)
		}
	}
}

func TestPolicyChain(t *testing.T) {
	p := policies()[0]
	for pool, want := range map[string]string{"apne": "apne apse use", "use": "use", "corp": "corp use"} {
		if got := strings.Join(p.Chain(pool), " "); got != want {
			t.Errorf("Chain(%s): got %q, want %q", pool, got, want)
		}
	}
}

func TestScenarioIsDeterministic(t *testing.T) {
	a, b := NewScenario(DefaultSpec()), NewScenario(DefaultSpec())
	for i := range a.Queries {
		if a.Queries[i].String() != b.Queries[i].String() {
			t.Fatalf("query %d: %s vs %s", i, a.Queries[i], b.Queries[i])
		}
	}
}

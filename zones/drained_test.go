package zones

import (
	"net/netip"
	"testing"

	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
)

// drainedAll is a health in which an operator drained every value.
type drainedAll struct{}

func (drainedAll) State(*pools.Record, *pools.Value) pools.State         { return pools.Unknown }
func (drainedAll) Drained(*pools.Record, *pools.Pool, *pools.Value) bool { return true }

const drainedZone = `'':
  - {type: NS, values: [ns1.example.org.]}
  - {type: ALIAS, ttl: 120, value: app.example.org.}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  ttl: 300
  values: [192.0.2.10]
  dynamic: {pools: {p: {values: [{value: 192.0.2.11}]}}, rules: [{pool: p}]}
short:
  type: A
  ttl: 5
  values: [192.0.2.20]
  dynamic: {pools: {p: {values: [{value: 192.0.2.21}]}}, rules: [{pool: p}]}
cdn:
  type: CNAME
  value: fallback.example.net.
  dynamic: {pools: {p: {values: [{value: cdn.example.net.}]}}, rules: [{pool: p}]}
www: {type: CNAME, value: app.example.org.}
`

// TestDrainedNoData: when every value of a dynamic record is drained, the
// NODATA it answers carries the SOA with its TTL capped at the record's
// degraded TTL (degraded_ttl, or the record's TTL when lower), so the
// negative TTL a resolver takes, min(SOA TTL, SOA MINIMUM), is no longer
// than a degraded answer's. Other negative answers keep theirs.
func TestDrainedNoData(t *testing.T) {
	dir := t.TempDir()
	writeZone(t, dir, "example.org.yaml", drainedZone)
	set, ps := Load(Options{Dir: dir, SOA: testSOA, DynamicTTL: 30, DegradedTTL: 10})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	serial := set.Zone("example.org.").SOA.Serial
	for _, tt := range []struct {
		name   string
		qname  string
		qtype  uint16
		health pools.Health
		kind   Kind
		answer int
		ttl    uint32 // of the SOA in the authority section
	}{
		{"drained A", "app.example.org.", dns.TypeA, drainedAll{}, NoData, 0, 10},
		{"drained A whose TTL is below degraded_ttl", "short.example.org.", dns.TypeA, drainedAll{}, NoData, 0, 5},
		{"drained CNAME", "cdn.example.org.", dns.TypeA, drainedAll{}, NoData, 0, 10},
		{"a chain into a drained record", "www.example.org.", dns.TypeA, drainedAll{}, NoData, 1, 10},
		{"apex ALIAS to a drained record", "example.org.", dns.TypeA, drainedAll{}, NoData, 0, 10},
		{"a type the record has not: the zone's negative TTL", "app.example.org.", dns.TypeAAAA, drainedAll{}, NoData, 0, 60},
		{"NXDOMAIN: the zone's negative TTL", "nope.example.org.", dns.TypeA, drainedAll{}, NameError, 0, 60},
		{"nothing drained: an answer", "app.example.org.", dns.TypeA, pools.AllUp{}, Success, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := pools.NewClient(netip.MustParseAddr("203.0.113.7"), nil)
			var res Result
			set.LookupLower(tt.qname, tt.qname, tt.qtype, &c, tt.health, nil, &res)
			if res.Kind != tt.kind || len(res.Answer) != tt.answer {
				t.Fatalf("got %v with %v; want %v with %d answers", res.Kind, res.Answer, tt.kind, tt.answer)
			}
			checkPacked(t, &res)
			if tt.ttl == 0 {
				return
			}
			if len(res.Ns) != 1 {
				t.Fatalf("authority: got %v; want the SOA", res.Ns)
			}
			soa := res.Ns[0].(*dns.SOA)
			if soa.Hdr.Ttl != tt.ttl || soa.Minttl != testSOA.Minimum || soa.Serial != serial {
				t.Errorf("SOA: got %v; want TTL %d, minimum %d, serial %d", soa, tt.ttl, testSOA.Minimum, serial)
			}
			if !res.Packed.OK && tt.answer == 0 { // CNAME chains are packed per query
				t.Errorf("no wire form for the fast path")
			}
		})
	}
}

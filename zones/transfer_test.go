package zones

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
)

// TestTransferRRsMasterFile: a master-file zone comes out whole, SOA
// first, names in canonical order (RFC 4034 6.1 example order included),
// types ascending at a name, glue and wildcards included, once each.
func TestTransferRRsMasterFile(t *testing.T) {
	z := testZone(t, "example.", `$ORIGIN example.
$TTL 300
@ IN SOA ns.example. h.example. 5 7200 1800 1209600 60
z.example. A 192.0.2.9
\200.z.example. A 192.0.2.8
*.z.example. TXT "wild"
\001.z.example. A 192.0.2.7
zABC.a.example. A 192.0.2.6
yljkjljk.a.example. A 192.0.2.5
Z.a.example. A 192.0.2.4
a.example. MX 10 mx.a.example.
a.example. A 192.0.2.3
@ NS ns.example.
@ A 192.0.2.1
ns A 192.0.2.53
deleg NS ns.deleg
ns.deleg A 192.0.2.200
`)
	got := rrStrings(z.TransferRRs())
	want := []string{
		"example. 300 IN SOA ns.example. h.example. 5 7200 1800 1209600 60",
		"example. 300 IN A 192.0.2.1",
		"example. 300 IN NS ns.example.",
		"a.example. 300 IN A 192.0.2.3",
		"a.example. 300 IN MX 10 mx.a.example.",
		"yljkjljk.a.example. 300 IN A 192.0.2.5",
		"z.a.example. 300 IN A 192.0.2.4",
		"zabc.a.example. 300 IN A 192.0.2.6",
		"deleg.example. 300 IN NS ns.deleg.example.",
		"ns.deleg.example. 300 IN A 192.0.2.200",
		"ns.example. 300 IN A 192.0.2.53",
		"z.example. 300 IN A 192.0.2.9",
		`\001.z.example. 300 IN A 192.0.2.7`,
		`*.z.example. 300 IN TXT "wild"`,
		`\200.z.example. 300 IN A 192.0.2.8`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Stable: a second listing is identical, and the snapshot's own
	// lookups are unaffected.
	if again := rrStrings(z.TransferRRs()); strings.Join(again, "\n") != strings.Join(got, "\n") {
		t.Errorf("second listing differs:\n%s", strings.Join(again, "\n"))
	}
}

// TestTransferRRsYAML: a dynamic record is transferred as its top-level
// values, never a pool's, with the TTL the fleet answers it with, and an
// apex ALIAS as the A RRset it answers
// with.
func TestTransferRRsYAML(t *testing.T) {
	set := loadYAML(t, `app:
  type: A
  ttl: 60
  values: [192.0.2.10, 192.0.2.11]
  dynamic:
    pools:
      eu: {values: [{value: 198.51.100.1}]}
      us: {values: [{value: 203.0.113.1}]}
    rules:
      - {geos: [EU], pool: eu}
      - {pool: us}
cdn:
  type: CNAME
  value: fallback.example.net.
  dynamic: {pools: {a: {values: [{value: lb.example.net.}]}}, rules: [{pool: a}]}
`)
	z := set.Zone("example.org.")
	rrs := z.TransferRRs()
	got := rrStrings(rrs)
	want := []string{
		"example.org. 120 IN A 192.0.2.80",
		"example.org. 3600 IN NS ns1.example.org.",
		"example.org. 3600 IN NS ns2.example.net.",
		"app.example.org. 60 IN A 192.0.2.10",
		"app.example.org. 60 IN A 192.0.2.11",
		"cdn.example.org. 30 IN CNAME fallback.example.net.", // dynamic_ttl: the record sets none
		"ns1.example.org. 3600 IN A 192.0.2.53",
		"web.example.org. 3600 IN A 192.0.2.80",
	}
	if rrs[0] != dns.RR(z.SOA) {
		t.Errorf("first RR: got %v; want the zone's SOA", rrs[0])
	}
	if strings.Join(got[1:], "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got[1:], "\n"), strings.Join(want, "\n"))
	}
	// The dynamic records still answer from their pools: the listing took
	// nothing away from the policy.
	c := pools.NewClient(netip.MustParseAddr("203.0.113.7"), nil)
	res := set.LookupFor("app.example.org.", dns.TypeA, Query{Client: &c})
	if len(res.Answer) != 1 || res.Answer[0].(*dns.A).A.String() != "203.0.113.1" {
		t.Errorf("dynamic answer after listing: got %v; want the us pool", res.Answer)
	}
}

// loadYAML loads example.org. (yamlZone) with records added, failing t on
// any problem.
func loadYAML(t *testing.T, records string) *Set {
	t.Helper()
	dir := t.TempDir()
	writeZone(t, dir, "example.org.yaml", yamlZone+records)
	set, ps := Load(Options{Dir: dir, SOA: testSOA, DynamicTTL: 30})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	return set
}

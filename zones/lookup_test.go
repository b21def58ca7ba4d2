package zones

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/packed"
	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
)

const parentZone = `$ORIGIN example.org.
$TTL 300
@ 3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 1800 1209600 60
@ NS ns1.example.org.
@ NS ns2.example.net.
@ MX 10 mail.example.org.
@ A 192.0.2.1
ns1 A 192.0.2.53
mail A 192.0.2.25
mail AAAA 2001:db8::25
www CNAME web.example.org.
web A 192.0.2.80
chain1 CNAME chain2
chain2 CNAME www
loop1 CNAME loop2
loop2 CNAME loop1
out CNAME www.elsewhere.test.
dangling CNAME nothere.example.org.
cross CNAME host.other.test.
a.b.c A 192.0.2.99
*.wild A 192.0.2.77
*.wild TXT "wild"
sub.wild A 192.0.2.78
*.cnw CNAME web.example.org.
deleg NS ns.deleg.example.org.
deleg NS ns.other.test.
deleg DS 12345 8 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789
ns.deleg A 192.0.2.200
child NS ns1.example.org.
child DS 4242 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
_sip._tcp SRV 10 5 5060 sip.example.org.
sip A 192.0.2.60
dn DNAME example.net.
dn2 DNAME target.example.org.
x.target A 192.0.2.5
long DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.
`

const otherZone = `$ORIGIN other.test.
$TTL 600
@ IN SOA ns.other.test. h.other.test. 7 7200 1800 1209600 30
@ NS ns.other.test.
ns A 198.51.100.53
host A 198.51.100.10
gone CNAME missing.other.test.
`

const childZone = `$ORIGIN child.example.org.
@ 300 IN SOA ns1.example.org. h.example.org. 3 7200 1800 1209600 60
@ 300 NS ns1.example.org.
@ 300 A 192.0.2.150
`

// testZone compiles a master-file text into a zone, as the loader does.
func testZone(t testing.TB, origin, text string) *Zone {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "test")
	byKey := map[string]*Record{}
	var records []*Record
	var soa *dns.SOA
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if s, ok := rr.(*dns.SOA); ok {
			soa = s
			continue
		}
		h := rr.Header()
		key := h.Name + dns.TypeToString[h.Rrtype]
		if byKey[key] == nil {
			byKey[key] = &Record{Name: h.Name, Type: dns.TypeToString[h.Rrtype], TTL: h.Ttl}
			records = append(records, byKey[key])
		}
		byKey[key].RRs = append(byKey[key].RRs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return compile(origin, "test", records, soa)
}

func testSet(t testing.TB) *Set {
	return NewSet(
		testZone(t, "example.org.", parentZone),
		testZone(t, "other.test.", otherZone),
		testZone(t, "child.example.org.", childZone),
	)
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, len(rrs))
	for i, rr := range rrs {
		out[i] = strings.Join(strings.Fields(rr.String()), " ")
	}
	return out
}

const (
	soaNeg   = "example.org. 60 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 1800 1209600 60"
	otherNeg = "other.test. 30 IN SOA ns.other.test. h.other.test. 7 7200 1800 1209600 30"
)

func TestLookup(t *testing.T) {
	set := testSet(t)
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		kind   Kind
		zone   string
		answer []string
		ns     []string
		extra  []string
		synth  string
	}{
		{name: "apex A", qname: "example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"example.org. 300 IN A 192.0.2.1"}},
		{name: "apex NS with in-zone glue only", qname: "example.org.", qtype: dns.TypeNS, kind: Success,
			answer: []string{"example.org. 300 IN NS ns1.example.org.", "example.org. 300 IN NS ns2.example.net."},
			extra:  []string{"ns1.example.org. 300 IN A 192.0.2.53"}},
		{name: "apex SOA has full TTL", qname: "example.org.", qtype: dns.TypeSOA, kind: Success,
			answer: []string{"example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 1800 1209600 60"}},
		{name: "MX gets A and AAAA of target", qname: "example.org.", qtype: dns.TypeMX, kind: Success,
			answer: []string{"example.org. 300 IN MX 10 mail.example.org."},
			extra:  []string{"mail.example.org. 300 IN A 192.0.2.25", "mail.example.org. 300 IN AAAA 2001:db8::25"}},
		{name: "SRV gets target address", qname: "_sip._tcp.example.org.", qtype: dns.TypeSRV, kind: Success,
			answer: []string{"_sip._tcp.example.org. 300 IN SRV 10 5 5060 sip.example.org."},
			extra:  []string{"sip.example.org. 300 IN A 192.0.2.60"}},
		{name: "case-insensitive CNAME followed", qname: "WWW.Example.ORG.", qtype: dns.TypeA, kind: Success,
			answer: []string{"www.example.org. 300 IN CNAME web.example.org.", "web.example.org. 300 IN A 192.0.2.80"}},
		{name: "CNAME query answers the CNAME only", qname: "www.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{"www.example.org. 300 IN CNAME web.example.org."}},
		{name: "CNAME chain", qname: "chain1.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"chain1.example.org. 300 IN CNAME chain2.example.org.",
				"chain2.example.org. 300 IN CNAME www.example.org.",
				"www.example.org. 300 IN CNAME web.example.org.", "web.example.org. 300 IN A 192.0.2.80"}},
		{name: "CNAME loop stops", qname: "loop1.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"loop1.example.org. 300 IN CNAME loop2.example.org.", "loop2.example.org. 300 IN CNAME loop1.example.org."}},
		{name: "CNAME out of our zones", qname: "out.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"out.example.org. 300 IN CNAME www.elsewhere.test."}},
		{name: "CNAME to NXDOMAIN", qname: "dangling.example.org.", qtype: dns.TypeA, kind: NameError,
			answer: []string{"dangling.example.org. 300 IN CNAME nothere.example.org."}, ns: []string{soaNeg}},
		{name: "CNAME into another of our zones", qname: "cross.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"cross.example.org. 300 IN CNAME host.other.test.", "host.other.test. 600 IN A 198.51.100.10"}},
		{name: "CNAME into other zone NODATA uses its SOA", qname: "cross.example.org.", qtype: dns.TypeMX, kind: NoData,
			zone:   "other.test.",
			answer: []string{"cross.example.org. 300 IN CNAME host.other.test."}, ns: []string{otherNeg}},
		{name: "NXDOMAIN", qname: "nothing.example.org.", qtype: dns.TypeA, kind: NameError, ns: []string{soaNeg}},
		{name: "NODATA", qname: "web.example.org.", qtype: dns.TypeAAAA, kind: NoData, ns: []string{soaNeg}},
		{name: "empty non-terminal is NODATA", qname: "b.c.example.org.", qtype: dns.TypeA, kind: NoData, ns: []string{soaNeg}},
		{name: "below an ENT without wildcard", qname: "z.b.c.example.org.", qtype: dns.TypeA, kind: NameError, ns: []string{soaNeg}},
		{name: "wildcard synthesis keeps query case", qname: "X.wild.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"X.wild.example.org. 300 IN A 192.0.2.77"}, synth: "*.wild.example.org."},
		{name: "wildcard several labels deep", qname: "a.b.wild.example.org.", qtype: dns.TypeTXT, kind: Success,
			answer: []string{`a.b.wild.example.org. 300 IN TXT "wild"`}, synth: "*.wild.example.org."},
		{name: "wildcard NODATA", qname: "x.wild.example.org.", qtype: dns.TypeAAAA, kind: NoData, ns: []string{soaNeg},
			synth: "*.wild.example.org."},
		{name: "existing name blocks wildcard", qname: "sub.wild.example.org.", qtype: dns.TypeTXT, kind: NoData, ns: []string{soaNeg}},
		{name: "below existing name no wildcard", qname: "q.sub.wild.example.org.", qtype: dns.TypeA, kind: NameError, ns: []string{soaNeg}},
		{name: "wildcard CNAME followed", qname: "y.cnw.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"y.cnw.example.org. 300 IN CNAME web.example.org.", "web.example.org. 300 IN A 192.0.2.80"},
			synth:  "*.cnw.example.org."},
		{name: "literal wildcard name", qname: "*.wild.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"*.wild.example.org. 300 IN A 192.0.2.77"}},
		{name: "referral at cut", qname: "deleg.example.org.", qtype: dns.TypeA, kind: Delegation,
			ns:    []string{"deleg.example.org. 300 IN NS ns.deleg.example.org.", "deleg.example.org. 300 IN NS ns.other.test."},
			extra: []string{"ns.deleg.example.org. 300 IN A 192.0.2.200"}},
		{name: "referral below cut", qname: "host.deleg.example.org.", qtype: dns.TypeA, kind: Delegation,
			ns:    []string{"deleg.example.org. 300 IN NS ns.deleg.example.org.", "deleg.example.org. 300 IN NS ns.other.test."},
			extra: []string{"ns.deleg.example.org. 300 IN A 192.0.2.200"}},
		{name: "glue name is below the cut: referral", qname: "ns.deleg.example.org.", qtype: dns.TypeA, kind: Delegation,
			ns:    []string{"deleg.example.org. 300 IN NS ns.deleg.example.org.", "deleg.example.org. 300 IN NS ns.other.test."},
			extra: []string{"ns.deleg.example.org. 300 IN A 192.0.2.200"}},
		{name: "NS at cut is a referral", qname: "deleg.example.org.", qtype: dns.TypeNS, kind: Delegation,
			ns:    []string{"deleg.example.org. 300 IN NS ns.deleg.example.org.", "deleg.example.org. 300 IN NS ns.other.test."},
			extra: []string{"ns.deleg.example.org. 300 IN A 192.0.2.200"}},
		{name: "DS at cut answered by parent", qname: "deleg.example.org.", qtype: dns.TypeDS, kind: Success,
			answer: []string{"deleg.example.org. 300 IN DS 12345 8 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"}},
		{name: "DS for a child zone we also serve comes from the parent", qname: "child.example.org.", qtype: dns.TypeDS, kind: Success,
			zone:   "example.org.",
			answer: []string{"child.example.org. 300 IN DS 4242 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}},
		{name: "child zone answers its own apex", qname: "child.example.org.", qtype: dns.TypeA, kind: Success,
			zone: "child.example.org.", answer: []string{"child.example.org. 300 IN A 192.0.2.150"}},
		{name: "outside our zones", qname: "example.com.", qtype: dns.TypeA, kind: Refused},
		{name: "parent of a zone", qname: "org.", qtype: dns.TypeA, kind: Refused},
		{name: "ANY gives one RRset", qname: "example.org.", qtype: dns.TypeANY, kind: Success,
			answer: []string{"example.org. 300 IN A 192.0.2.1"}},
		{name: "ANY at CNAME gives the CNAME", qname: "www.example.org.", qtype: dns.TypeANY, kind: Success,
			answer: []string{"www.example.org. 300 IN CNAME web.example.org.", "web.example.org. 300 IN A 192.0.2.80"}},
		{name: "ANY at ENT is NODATA", qname: "c.example.org.", qtype: dns.TypeANY, kind: NoData, ns: []string{soaNeg}},
		{name: "DNAME synthesis followed in zone", qname: "x.dn2.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"dn2.example.org. 300 IN DNAME target.example.org.",
				"x.dn2.example.org. 300 IN CNAME x.target.example.org.", "x.target.example.org. 300 IN A 192.0.2.5"},
			synth: "dn2.example.org."},
		{name: "DNAME to outside", qname: "A.b.dn.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"dn.example.org. 300 IN DNAME example.net.", "A.b.dn.example.org. 300 IN CNAME A.b.example.net."},
			synth:  "dn.example.org."},
		{name: "DNAME owner itself", qname: "dn.example.org.", qtype: dns.TypeDNAME, kind: Success,
			answer: []string{"dn.example.org. 300 IN DNAME example.net."}},
		{name: "DNAME overflow is YXDOMAIN", qname: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaa.long.example.org.", qtype: dns.TypeA, kind: YXDomain,
			answer: []string{"long.example.org. 300 IN DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example."},
			synth:  "long.example.org."},
		{name: "CNAME to other zone NXDOMAIN", qname: "gone.other.test.", qtype: dns.TypeA, kind: NameError,
			answer: []string{"gone.other.test. 600 IN CNAME missing.other.test."}, ns: []string{otherNeg}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := set.Lookup(tt.qname, tt.qtype)
			if res.Kind != tt.kind {
				t.Errorf("kind: got %v; want %v", res.Kind, tt.kind)
			}
			if tt.zone != "" && (res.Zone == nil || res.Zone.Origin != tt.zone) {
				t.Errorf("zone: got %v; want %s", res.Zone, tt.zone)
			}
			if res.Synth != tt.synth {
				t.Errorf("synthesised from %q; want %q", res.Synth, tt.synth)
			}
			for _, sec := range []struct {
				name      string
				got, want []string
			}{{"answer", rrStrings(res.Answer), tt.answer}, {"ns", rrStrings(res.Ns), tt.ns}, {"extra", rrStrings(res.Extra), tt.extra}} {
				if strings.Join(sec.got, "\n") != strings.Join(sec.want, "\n") {
					t.Errorf("%s:\ngot  %q\nwant %q", sec.name, sec.got, sec.want)
				}
			}
			checkPacked(t, &res)
		})
	}
}

// TestLookupDoesNotModifySnapshot makes sure appending chain steps never
// writes into the snapshot's slices.
func TestLookupDoesNotModifySnapshot(t *testing.T) {
	set := testSet(t)
	before := rrStrings(set.Lookup("www.example.org.", dns.TypeCNAME).Answer)
	for range 3 {
		set.Lookup("WWW.example.org.", dns.TypeA)
		set.Lookup("x.cnw.example.org.", dns.TypeA)
	}
	if got := rrStrings(set.Lookup("www.example.org.", dns.TypeCNAME).Answer); strings.Join(got, "|") != strings.Join(before, "|") {
		t.Errorf("got %q; want %q", got, before)
	}
}

// checkPacked fails t when res has a wire form that is not its sections'.
func checkPacked(t *testing.T, res *Result) {
	t.Helper()
	if !res.Packed.OK {
		return
	}
	for _, sec := range []struct {
		name string
		rrs  []dns.RR
		wire []byte
	}{{"answer", res.Answer, res.Packed.Answer}, {"ns", res.Ns, res.Packed.Ns}, {"extra", res.Extra, res.Packed.Extra}} {
		if want := packed.Of(sec.rrs); !bytes.Equal(sec.wire, want) {
			t.Errorf("%s wire form:\ngot  %x\nwant %x", sec.name, sec.wire, want)
		}
	}
}

// TestPacked: the answers the fast path copies are there for static,
// negative and dynamic answers (one value or several, given room), follow
// the serial a YAML zone gets after compiling, and are absent where the
// RRs are made per query.
func TestPacked(t *testing.T) {
	set := loadYAML(t, `app:
  {type: A, ttl: 60, values: [192.0.2.10, 192.0.2.11], octodns: {meridian: {answers: 2}},
   dynamic: {pools: {two: {values: [{value: 198.51.100.1}, {value: 198.51.100.2}]}}, rules: [{pool: two}]}}
one:
  type: A
  values: [192.0.2.20]
  dynamic: {pools: {a: {values: [{value: 192.0.2.21}]}}, rules: [{pool: a}]}
'*.wild': {type: A, value: 192.0.2.30}
`)
	serial := set.Zone("example.org.").SOA.Serial
	if serial == 0 {
		t.Fatal("serial not set")
	}
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		scratch int // room lent for several values' wire form
		packed  bool
	}{
		{"static", "web.example.org.", dns.TypeA, 0, true},
		{"apex SOA", "example.org.", dns.TypeSOA, 0, true},
		{"NXDOMAIN", "nothere.example.org.", dns.TypeA, 0, true},
		{"NODATA", "web.example.org.", dns.TypeMX, 0, true},
		{"dynamic one value", "one.example.org.", dns.TypeA, 0, true},
		{"dynamic two values", "app.example.org.", dns.TypeA, 512, true},
		{"dynamic two values, no room", "app.example.org.", dns.TypeA, 20, false},
		{"wildcard", "x.wild.example.org.", dns.TypeA, 0, false},
		{"refused", "example.net.", dns.TypeA, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pools.NewClient(netip.MustParseAddr("203.0.113.7"), nil)
			c.Scratch, c.WireScratch = make([]dns.RR, 0, 4), make([]byte, 0, tt.scratch)
			var res Result
			set.LookupLower(tt.qname, tt.qname, tt.qtype, &c, nil, nil, &res)
			if res.Packed.OK != tt.packed {
				t.Fatalf("Packed.OK = %v; want %v (%v)", res.Packed.OK, tt.packed, res.Answer)
			}
			checkPacked(t, &res)
			for _, rr := range append(res.Answer, res.Ns...) {
				if soa, ok := rr.(*dns.SOA); ok && soa.Serial != serial {
					t.Errorf("SOA serial %d; want %d", soa.Serial, serial)
				}
			}
		})
	}
}

// TestNameTableAgrees: answering a name straight from the set's name table
// gives what the walk from the zone apex gives, for every owner name of
// the test zones (cuts, glue below them, DNAMEs, wildcards, a child zone
// whose apex is a cut in its parent) and for names below them.
func TestNameTableAgrees(t *testing.T) {
	// c.example.org. is served too though the parent has no cut for it:
	// the parent's a.b.c is hidden by it.
	set := NewSet(
		testZone(t, "example.org.", parentZone),
		testZone(t, "other.test.", otherZone),
		testZone(t, "child.example.org.", childZone),
		testZone(t, "c.example.org.", "$ORIGIN c.example.org.\n@ 300 IN SOA ns1.example.org. h.example.org. 3 7200 1800 1209600 60\n@ 300 NS ns1.example.org.\nb 300 TXT in-c\n"),
	)
	walk := &Set{zones: set.zones} // no table: every lookup the long way
	var names []string
	for _, z := range set.zones {
		for name := range z.nodes {
			names = append(names, name, "x."+name, strings.ToUpper(name))
		}
	}
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeDS, dns.TypeSOA, dns.TypeMX, dns.TypeCNAME, dns.TypeDNAME, dns.TypeTXT, dns.TypeANY}
	direct := 0
	for _, name := range names {
		if set.names.get(lower(name)) != nil {
			direct++
		}
		for _, qt := range types {
			got, want := set.Lookup(name, qt), walk.Lookup(name, qt)
			g := fmt.Sprint(got.Kind, got.Zone, rrStrings(got.Answer), rrStrings(got.Ns), rrStrings(got.Extra))
			w := fmt.Sprint(want.Kind, want.Zone, rrStrings(want.Answer), rrStrings(want.Ns), rrStrings(want.Extra))
			if g != w {
				t.Errorf("%s %s:\ntable %s\nwalk  %s", name, dns.TypeToString[qt], g, w)
			}
		}
	}
	if direct == 0 {
		t.Error("no name answered from the table")
	}
	for _, name := range []string{"ns.deleg.example.org.", "deleg.example.org.", "child.example.org.", "x.target.example.org.", "a.b.c.example.org.", "b.c.example.org."} {
		want := name != "deleg.example.org." && name != "ns.deleg.example.org." && name != "a.b.c.example.org."
		if got := set.names.get(name) != nil; got != want {
			t.Errorf("%s in the table: %v; want %v", name, got, want)
		}
	}
}

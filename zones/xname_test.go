package zones

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// xnameZone has CNAMEs and DNAMEs in every arrangement a lookup meets.
var xnameZone = `$ORIGIN example.org.
$TTL 300
@ 3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 1800 1209600 60
@ NS ns1.example.org.
ns1 A 192.0.2.53
web A 192.0.2.80
www CNAME web
c1 CNAME c2
c2 CNAME www
dangling CNAME nothere
loop1 CNAME loop2
loop2 CNAME loop1
out CNAME host.elsewhere.test.
crossgone CNAME gone.other.test.
toderef CNAME x.dn.example.org.
dn DNAME target.example.org.
dn A 192.0.2.44
x.target A 192.0.2.5
alias.target CNAME web.example.org.
dnout DNAME example.net.
dnloop DNAME dnloop2.example.org.
dnloop2 DNAME dnloop.example.org.
dnchain DNAME dn.example.org.
long DNAME ` + strings.Repeat(strings.Repeat("a", 63)+".", 3) + `example.
*.wc CNAME web.example.org.
deleg NS ns.deleg.example.org.
ns.deleg A 192.0.2.200
todeleg CNAME host.deleg.example.org.
` + func() string {
	var b strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "ch%d CNAME ch%d\n", i, i+1)
	}
	return b.String() + "ch11 A 192.0.2.11\n"
}()

// apexDNAMEZone has its DNAME at the apex: every name below it is
// redirected, the apex itself is not.
const apexDNAMEZone = `$ORIGIN apex.test.
@ 600 IN SOA ns.apex.test. h.apex.test. 1 7200 1800 1209600 30
@ 600 NS ns1.example.org.
@ 600 DNAME example.org.
@ 600 A 192.0.2.9
`

// TestXNAME checks CNAME and DNAME handling against RFC 1034 4.3.2, RFC
// 6672 (DNAME) and RFC 6604 (the rcode of a chain is the last name's):
// chains, their ends (an answer, NXDOMAIN, NODATA, a loop, a name outside
// our zones, a cut), CNAME queries (answered by the CNAME, whether the
// owner's or a DNAME's synthesis, never chased), DNAME queries at and below
// a DNAME, and a DNAME at a zone apex.
func TestXNAME(t *testing.T) {
	set := NewSet(
		testZone(t, "example.org.", xnameZone),
		testZone(t, "other.test.", otherZone),
		testZone(t, "apex.test.", apexDNAMEZone),
	)
	const (
		dn     = "dn.example.org. 300 IN DNAME target.example.org."
		web    = "web.example.org. 300 IN A 192.0.2.80"
		wwwCN  = "www.example.org. 300 IN CNAME web.example.org."
		apexDN = "apex.test. 600 IN DNAME example.org."
	)
	long := "long.example.org. 300 IN DNAME " + strings.Repeat(strings.Repeat("a", 63)+".", 3) + "example."
	tooLong := strings.Repeat("b", 63) + "." + strings.Repeat("b", 10) + ".long.example.org."
	var chain []string
	for i := 1; i <= maxChain+1; i++ {
		chain = append(chain, fmt.Sprintf("ch%d.example.org. 300 IN CNAME ch%d.example.org.", i, i+1))
	}
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		kind   Kind
		zone   string // the zone the rcode and SOA come from, when not the query's
		answer []string
		ns     []string
	}{
		// CNAME chains.
		{name: "chain to an answer", qname: "c1.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"c1.example.org. 300 IN CNAME c2.example.org.", "c2.example.org. 300 IN CNAME www.example.org.", wwwCN, web}},
		{name: "chain to NXDOMAIN", qname: "dangling.example.org.", qtype: dns.TypeA, kind: NameError,
			answer: []string{"dangling.example.org. 300 IN CNAME nothere.example.org."}, ns: []string{soaNeg}},
		{name: "chain to NODATA", qname: "c1.example.org.", qtype: dns.TypeAAAA, kind: NoData,
			answer: []string{"c1.example.org. 300 IN CNAME c2.example.org.", "c2.example.org. 300 IN CNAME www.example.org.", wwwCN},
			ns:     []string{soaNeg}},
		{name: "chain to NXDOMAIN in another zone: its SOA", qname: "crossgone.example.org.", qtype: dns.TypeA, kind: NameError,
			zone: "other.test.", answer: []string{"crossgone.example.org. 300 IN CNAME gone.other.test.", "gone.other.test. 600 IN CNAME missing.other.test."},
			ns: []string{otherNeg}},
		{name: "loop: the chain so far", qname: "loop1.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"loop1.example.org. 300 IN CNAME loop2.example.org.", "loop2.example.org. 300 IN CNAME loop1.example.org."}},
		{name: "longer than we chase: the chain so far", qname: "ch1.example.org.", qtype: dns.TypeA, kind: Success, answer: chain},
		{name: "out of our zones", qname: "out.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"out.example.org. 300 IN CNAME host.elsewhere.test."}},
		{name: "into a delegation: the chain so far", qname: "todeleg.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"todeleg.example.org. 300 IN CNAME host.deleg.example.org."}},
		{name: "into a DNAME", qname: "toderef.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"toderef.example.org. 300 IN CNAME x.dn.example.org.", dn,
				"x.dn.example.org. 300 IN CNAME x.target.example.org.", "x.target.example.org. 300 IN A 192.0.2.5"}},
		{name: "wildcard CNAME", qname: "x.wc.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"x.wc.example.org. 300 IN CNAME web.example.org.", web}},

		// QTYPE=CNAME: the CNAME itself, whatever its target.
		{name: "CNAME query at a CNAME", qname: "c1.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{"c1.example.org. 300 IN CNAME c2.example.org."}},
		{name: "CNAME query at a CNAME to nowhere: NOERROR", qname: "dangling.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{"dangling.example.org. 300 IN CNAME nothere.example.org."}},
		{name: "CNAME query at a CNAME into a DNAME", qname: "toderef.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{"toderef.example.org. 300 IN CNAME x.dn.example.org."}},
		{name: "CNAME query at a wildcard CNAME", qname: "x.wc.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{"x.wc.example.org. 300 IN CNAME web.example.org."}},
		{name: "CNAME query below a DNAME: the synthesis", qname: "x.dn.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{dn, "x.dn.example.org. 300 IN CNAME x.target.example.org."}},
		{name: "CNAME query below a DNAME to nowhere: NOERROR", qname: "nothere.dn.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{dn, "nothere.dn.example.org. 300 IN CNAME nothere.target.example.org."}},
		{name: "CNAME query below a DNAME whose target is a CNAME", qname: "alias.dn.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{dn, "alias.dn.example.org. 300 IN CNAME alias.target.example.org."}},
		{name: "CNAME query below a DNAME to a DNAME", qname: "x.dnchain.example.org.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{"dnchain.example.org. 300 IN DNAME dn.example.org.", "x.dnchain.example.org. 300 IN CNAME x.dn.example.org."}},
		{name: "CNAME query whose substitution overflows: YXDOMAIN", qname: tooLong, qtype: dns.TypeCNAME, kind: YXDomain, answer: []string{long}},

		// DNAME.
		{name: "DNAME query at the owner", qname: "dn.example.org.", qtype: dns.TypeDNAME, kind: Success, answer: []string{dn}},
		{name: "the owner's own data", qname: "dn.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"dn.example.org. 300 IN A 192.0.2.44"}},
		{name: "the owner without the type: NODATA", qname: "dn.example.org.", qtype: dns.TypeAAAA, kind: NoData, ns: []string{soaNeg}},
		{name: "DNAME query below a DNAME: chased, NODATA at the target", qname: "x.dn.example.org.", qtype: dns.TypeDNAME, kind: NoData,
			answer: []string{dn, "x.dn.example.org. 300 IN CNAME x.target.example.org."}, ns: []string{soaNeg}},
		{name: "below a DNAME to an answer", qname: "X.dn.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{dn, "X.dn.example.org. 300 IN CNAME X.target.example.org.", "x.target.example.org. 300 IN A 192.0.2.5"}},
		{name: "below a DNAME to a CNAME", qname: "alias.dn.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{dn, "alias.dn.example.org. 300 IN CNAME alias.target.example.org.", "alias.target.example.org. 300 IN CNAME web.example.org.", web}},
		{name: "below a DNAME to NXDOMAIN", qname: "nothere.dn.example.org.", qtype: dns.TypeA, kind: NameError,
			answer: []string{dn, "nothere.dn.example.org. 300 IN CNAME nothere.target.example.org."}, ns: []string{soaNeg}},
		{name: "below a DNAME to NODATA", qname: "x.dn.example.org.", qtype: dns.TypeAAAA, kind: NoData,
			answer: []string{dn, "x.dn.example.org. 300 IN CNAME x.target.example.org."}, ns: []string{soaNeg}},
		{name: "below a DNAME out of our zones", qname: "a.dnout.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"dnout.example.org. 300 IN DNAME example.net.", "a.dnout.example.org. 300 IN CNAME a.example.net."}},
		{name: "DNAME to a DNAME", qname: "x.dnchain.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"dnchain.example.org. 300 IN DNAME dn.example.org.", "x.dnchain.example.org. 300 IN CNAME x.dn.example.org.",
				dn, "x.dn.example.org. 300 IN CNAME x.target.example.org.", "x.target.example.org. 300 IN A 192.0.2.5"}},
		{name: "DNAME loop: the chain so far", qname: "x.dnloop.example.org.", qtype: dns.TypeA, kind: Success,
			answer: []string{"dnloop.example.org. 300 IN DNAME dnloop2.example.org.", "x.dnloop.example.org. 300 IN CNAME x.dnloop2.example.org.",
				"dnloop2.example.org. 300 IN DNAME dnloop.example.org.", "x.dnloop2.example.org. 300 IN CNAME x.dnloop.example.org."}},
		{name: "substitution overflow: YXDOMAIN", qname: tooLong, qtype: dns.TypeA, kind: YXDomain, answer: []string{long}},

		// A DNAME at a zone apex redirects the names below, not the apex.
		{name: "apex DNAME: below it", qname: "www.apex.test.", qtype: dns.TypeA, kind: Success,
			answer: []string{apexDN, "www.apex.test. 600 IN CNAME www.example.org.", wwwCN, web}},
		{name: "apex DNAME: below it to NXDOMAIN in the target zone", qname: "nothere.apex.test.", qtype: dns.TypeA, kind: NameError,
			zone: "example.org.", answer: []string{apexDN, "nothere.apex.test. 600 IN CNAME nothere.example.org."}, ns: []string{soaNeg}},
		{name: "apex DNAME: CNAME query below it", qname: "nothere.apex.test.", qtype: dns.TypeCNAME, kind: Success,
			answer: []string{apexDN, "nothere.apex.test. 600 IN CNAME nothere.example.org."}},
		{name: "apex DNAME: the apex's own data", qname: "apex.test.", qtype: dns.TypeA, kind: Success,
			answer: []string{"apex.test. 600 IN A 192.0.2.9"}},
		{name: "apex DNAME: DNAME query at the apex", qname: "apex.test.", qtype: dns.TypeDNAME, kind: Success, answer: []string{apexDN}},
		{name: "apex DNAME: NODATA at the apex", qname: "apex.test.", qtype: dns.TypeAAAA, kind: NoData,
			ns: []string{"apex.test. 30 IN SOA ns.apex.test. h.apex.test. 1 7200 1800 1209600 30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := set.Lookup(tt.qname, tt.qtype)
			if res.Kind != tt.kind {
				t.Errorf("kind: got %v; want %v", res.Kind, tt.kind)
			}
			zone := tt.zone
			if zone == "" {
				zone = set.find(lower(tt.qname), tt.qtype).Origin
			}
			if res.Zone == nil || res.Zone.Origin != zone {
				t.Errorf("zone: got %v; want %s", res.Zone, zone)
			}
			for _, sec := range []struct {
				name      string
				got, want []string
			}{{"answer", rrStrings(res.Answer), tt.answer}, {"ns", rrStrings(res.Ns), tt.ns}} {
				if strings.Join(sec.got, "\n") != strings.Join(sec.want, "\n") {
					t.Errorf("%s:\ngot  %q\nwant %q", sec.name, sec.got, sec.want)
				}
			}
		})
	}
}

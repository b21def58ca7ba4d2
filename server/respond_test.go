package server

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

const testZone = `$ORIGIN example.org.
$TTL 300
@ 3600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 1800 1209600 60
@ NS ns1.example.org.
@ MX 10 mail.example.org.
ns1 A 192.0.2.53
mail A 192.0.2.25
www A 192.0.2.80
deleg NS ns.deleg.example.org.
ns.deleg A 192.0.2.200
`

// bigTXT returns a TXT RRset of n strings of 200 bytes each.
func bigTXT(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("big TXT \"" + strings.Repeat(string(rune('a'+i%26)), 200) + "\"\n")
	}
	return b.String()
}

// manyMX returns an MX RRset at "mx" whose targets each have an A record,
// so the additional section is much larger than the answer.
func manyMX(n int) string {
	var b strings.Builder
	for i := range n {
		host := "a-rather-long-mail-exchanger-name-" + strings.Repeat("x", 20) + string(rune('a'+i))
		b.WriteString("mx MX 10 " + host + ".example.org.\n")
		b.WriteString(host + " A 192.0.2." + string(rune('1'+i%9)) + "\n")
		b.WriteString(host + " AAAA 2001:db8::" + string(rune('1'+i%9)) + "\n")
	}
	return b.String()
}

func newTestServer(t *testing.T, o Options) *Server {
	t.Helper()
	l, _ := testLoader(t, zones.Options{}, map[string]string{"example.org.zone": testZone + bigTXT(5) + manyMX(5)})
	return New(o, l, slog.New(slog.DiscardHandler))
}

func query(name string, qtype uint16, mods ...func(*dns.Msg)) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	for _, f := range mods {
		f(m)
	}
	return m
}

func withEDNS(size uint16, opts ...dns.EDNS0) func(*dns.Msg) {
	return func(m *dns.Msg) {
		m.SetEdns0(size, false)
		o := m.IsEdns0()
		o.Option = append(o.Option, opts...)
	}
}

func TestRespond(t *testing.T) {
	o := DefaultOptions()
	s := newTestServer(t, o)
	withNSID := DefaultOptions()
	withNSID.NSID, withNSID.Version = "node-7", "meridian test"
	sn := newTestServer(t, withNSID)

	tests := []struct {
		name  string
		srv   *Server
		req   *dns.Msg
		tcp   bool
		check func(t *testing.T, r *dns.Msg)
	}{
		{"authoritative answer, RA clear, RD copied", s, query("www.example.org.", dns.TypeA, func(m *dns.Msg) { m.RecursionDesired = true }), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeSuccess && r.Authoritative && !r.RecursionAvailable && r.RecursionDesired, "header %v", r.MsgHdr)
				want(t, len(r.Answer) == 1, "answer %v", r.Answer)
			}},
		{"RD clear stays clear", s, query("www.example.org.", dns.TypeA), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, !r.RecursionDesired && !r.RecursionAvailable, "header %v", r.MsgHdr)
			}},
		{"question echoed exactly (0x20)", s, query("wWw.ExAmPlE.oRg.", dns.TypeA), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Question[0].Name == "wWw.ExAmPlE.oRg.", "question %v", r.Question)
				want(t, len(r.Answer) == 1, "answer %v", r.Answer)
			}},
		{"outside our zones is REFUSED with empty sections", s, query("example.com.", dns.TypeA), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeRefused && !r.Authoritative, "header %v", r.MsgHdr)
				want(t, len(r.Answer)+len(r.Ns)+len(r.Extra) == 0, "sections %v", r)
			}},
		{"NXDOMAIN carries SOA with TTL min(ttl, minimum)", s, query("nope.example.org.", dns.TypeA), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeNameError && r.Authoritative, "header %v", r.MsgHdr)
				want(t, len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA && r.Ns[0].Header().Ttl == 60, "ns %v", r.Ns)
			}},
		{"NODATA carries SOA", s, query("www.example.org.", dns.TypeAAAA), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeSuccess && r.Authoritative && len(r.Answer) == 0, "header %v", r.MsgHdr)
				want(t, len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA, "ns %v", r.Ns)
			}},
		{"referral is not authoritative and has glue", s, query("host.deleg.example.org.", dns.TypeA), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeSuccess && !r.Authoritative && len(r.Answer) == 0, "header %v", r.MsgHdr)
				want(t, len(r.Ns) == 1 && len(r.Extra) == 1, "ns %v extra %v", r.Ns, r.Extra)
			}},
		{"no OPT in query, none in answer", s, query("www.example.org.", dns.TypeA), false,
			func(t *testing.T, r *dns.Msg) { want(t, r.IsEdns0() == nil, "extra %v", r.Extra) }},
		{"OPT answered with our buffer size", s, query("www.example.org.", dns.TypeA, withEDNS(4096)), false,
			func(t *testing.T, r *dns.Msg) {
				opt := r.IsEdns0()
				want(t, opt != nil && opt.UDPSize() == 1232 && opt.Version() == 0, "opt %v", opt)
			}},
		{"EDNS version 1 gets BADVERS", s, query("www.example.org.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeBadVers && r.IsEdns0() != nil && len(r.Answer) == 0, "rcode %d", r.Rcode)
			}},
		{"two OPT records are FORMERR", s, query("www.example.org.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.Extra = append(m.Extra, m.Extra[0]) }), false,
			func(t *testing.T, r *dns.Msg) { want(t, r.Rcode == dns.RcodeFormatError, "rcode %d", r.Rcode) }},
		{"OPT owned by a name other than the root is FORMERR", s, query("www.example.org.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.IsEdns0().Hdr.Name = "example.org." }), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeFormatError && len(r.Answer)+len(r.Extra) == 0, "reply %v", r)
			}},
		{"unknown EDNS option ignored", s, query("www.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2}})), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 && len(r.IsEdns0().Option) == 0, "reply %v", r)
			}},
		{"NSID answered when configured", sn, query("www.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})), false,
			func(t *testing.T, r *dns.Msg) {
				opt := r.IsEdns0()
				want(t, opt != nil && len(opt.Option) == 1, "opt %v", opt)
				n, ok := opt.Option[0].(*dns.EDNS0_NSID)
				want(t, ok && n.Nsid == "6e6f64652d37", "nsid %v", opt.Option)
			}},
		{"NSID not sent when not asked", sn, query("www.example.org.", dns.TypeA, withEDNS(1232)), false,
			func(t *testing.T, r *dns.Msg) { want(t, len(r.IsEdns0().Option) == 0, "opt %v", r.IsEdns0()) }},
		{"NSID off by default", s, query("www.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})), false,
			func(t *testing.T, r *dns.Msg) { want(t, len(r.IsEdns0().Option) == 0, "opt %v", r.IsEdns0()) }},
		{"large answer over UDP without EDNS is truncated and empty", s, query("big.example.org.", dns.TypeTXT), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Truncated && len(r.Answer) == 0 && r.Rcode == dns.RcodeSuccess, "tc=%v answers=%d", r.Truncated, len(r.Answer))
				packed, _ := r.Pack()
				want(t, len(packed) <= 512, "size %d", len(packed))
			}},
		{"large answer fits in EDNS buffer", s, query("big.example.org.", dns.TypeTXT, withEDNS(4096)), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, !r.Truncated && len(r.Answer) == 5, "tc=%v answers=%d", r.Truncated, len(r.Answer))
			}},
		{"client buffer smaller than answer", s, query("big.example.org.", dns.TypeTXT, withEDNS(600)), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Truncated && len(r.Answer) == 0 && r.IsEdns0() != nil, "tc=%v answers=%d", r.Truncated, len(r.Answer))
			}},
		{"same question over TCP is complete", s, query("big.example.org.", dns.TypeTXT), true,
			func(t *testing.T, r *dns.Msg) {
				want(t, !r.Truncated && len(r.Answer) == 5, "tc=%v answers=%d", r.Truncated, len(r.Answer))
			}},
		{"additional records that do not fit are dropped without TC", s, query("mx.example.org.", dns.TypeMX), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, !r.Truncated && len(r.Answer) == 5 && len(r.Extra) < 10, "tc=%v answers=%d extra=%d", r.Truncated, len(r.Answer), len(r.Extra))
			}},
		{"QDCOUNT 0 is FORMERR", s, func() *dns.Msg { m := query("x.", dns.TypeA); m.Question = nil; return m }(), false,
			func(t *testing.T, r *dns.Msg) { want(t, r.Rcode == dns.RcodeFormatError, "rcode %d", r.Rcode) }},
		{"QDCOUNT 2 is FORMERR", s, func() *dns.Msg {
			m := query("www.example.org.", dns.TypeA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}(), false,
			func(t *testing.T, r *dns.Msg) { want(t, r.Rcode == dns.RcodeFormatError, "rcode %d", r.Rcode) }},
		{"UPDATE is NOTIMP", s, query("example.org.", dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeNotImplemented && r.Opcode == dns.OpcodeUpdate, "rcode %d", r.Rcode)
			}},
		{"NOTIFY is NOTIMP", s, query("example.org.", dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), false,
			func(t *testing.T, r *dns.Msg) { want(t, r.Rcode == dns.RcodeNotImplemented, "rcode %d", r.Rcode) }},
		{"class ANY is REFUSED", s, query("www.example.org.", dns.TypeA, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassANY }), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeRefused && len(r.Answer) == 0, "rcode %d", r.Rcode)
			}},
		{"class HS is REFUSED", s, query("www.example.org.", dns.TypeA, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassHESIOD }), false,
			func(t *testing.T, r *dns.Msg) { want(t, r.Rcode == dns.RcodeRefused, "rcode %d", r.Rcode) }},
		{"AXFR is REFUSED", s, query("example.org.", dns.TypeAXFR), true,
			func(t *testing.T, r *dns.Msg) { want(t, r.Rcode == dns.RcodeRefused, "rcode %d", r.Rcode) }},
		{"version.bind unconfigured is REFUSED", s, chaos("version.bind."), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeRefused && len(r.Answer) == 0, "rcode %d", r.Rcode)
			}},
		{"version.bind configured", sn, chaos("VERSION.BIND."), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1, "rcode %d", r.Rcode)
				txt, ok := r.Answer[0].(*dns.TXT)
				want(t, ok && txt.Txt[0] == "meridian test" && txt.Hdr.Class == dns.ClassCHAOS, "answer %v", r.Answer)
			}},
		{"hostname.bind gives the NSID", sn, chaos("hostname.bind."), false,
			func(t *testing.T, r *dns.Msg) {
				want(t, len(r.Answer) == 1 && r.Answer[0].(*dns.TXT).Txt[0] == "node-7", "answer %v", r.Answer)
			}},
		{"id.server gives the NSID", sn, chaos("id.server."), false,
			func(t *testing.T, r *dns.Msg) { want(t, len(r.Answer) == 1, "answer %v", r.Answer) }},
		{"id.server unconfigured is REFUSED", s, chaos("id.server."), false,
			func(t *testing.T, r *dns.Msg) { want(t, r.Rcode == dns.RcodeRefused, "rcode %d", r.Rcode) }},
		{"other CHAOS names are REFUSED", sn, chaos("authors.bind."), false,
			func(t *testing.T, r *dns.Msg) { want(t, r.Rcode == dns.RcodeRefused, "rcode %d", r.Rcode) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.srv.Respond(tt.req, testClient, tt.tcp)
			if r == nil {
				t.Fatal("got no response; want one")
			}
			if r.Id != tt.req.Id {
				t.Errorf("id: got %d; want %d", r.Id, tt.req.Id)
			}
			// Everything must survive a pack/unpack round trip.
			b, err := r.Pack()
			if err != nil {
				t.Fatalf("pack: %v", err)
			}
			back := new(dns.Msg)
			if err := back.Unpack(b); err != nil {
				t.Fatalf("unpack: %v", err)
			}
			tt.check(t, back)
		})
	}
}

func TestRespondDropsResponses(t *testing.T) {
	s := newTestServer(t, DefaultOptions())
	q := query("www.example.org.", dns.TypeA)
	q.Response = true
	if r := s.Respond(q, testClient, false); r != nil {
		t.Errorf("got %v; want no response to a response", r)
	}
}

func chaos(name string) *dns.Msg {
	m := query(name, dns.TypeTXT)
	m.Question[0].Qclass = dns.ClassCHAOS
	return m
}

func want(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf("got "+format, args...)
	}
}

var testClient = netip.MustParseAddr("192.0.2.99")

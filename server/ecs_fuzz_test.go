package server

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// optQuery is an A query for app.example.com (a geo record) whose OPT
// carries rdata as it is.
func optQuery(rdata []byte) []byte {
	pkt := []byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1,
		3, 'a', 'p', 'p', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0}
	pkt = binary.BigEndian.AppendUint16(pkt, uint16(len(rdata)))
	return append(pkt, rdata...)
}

// option encodes one EDNS option.
func option(code uint16, data ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// optSeeds are OPT RDATA as clients send it, well-formed or not.
func optSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		nil,
		option(dns.EDNS0SUBNET, 0, 1, 24, 0, 198, 51, 100),    // IPv4 /24
		option(dns.EDNS0SUBNET, 0, 1, 26, 0, 203, 0, 113, 64), // odd prefix
		option(dns.EDNS0SUBNET, 0, 1, 0, 0),                   // "no subnet, please"
		option(dns.EDNS0SUBNET, 0, 0, 0, 0),                   // dig +subnet=0
		option(dns.EDNS0SUBNET, 0, 2, 48, 0, 0x20, 1, 0xd, 0xb8, 0, 2),
		option(dns.EDNS0SUBNET, 0, 2, 49, 0, 0x20, 1, 0xd, 0xb8, 0, 2, 0x80),
		option(dns.EDNS0SUBNET, 0, 2, 120, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100), // IPv4-mapped
		option(dns.EDNS0SUBNET, 0, 2, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff),
		option(dns.EDNS0SUBNET, 0, 1, 20, 0, 198, 51, 100),       // bits beyond the prefix
		option(dns.EDNS0SUBNET, 0, 1, 33, 0, 198, 51, 100, 0, 0), // prefix too long
		option(dns.EDNS0SUBNET, 0, 3, 24, 0, 198, 51, 100),       // unknown family
		option(dns.EDNS0SUBNET, 0, 1, 24, 24, 198, 51, 100),      // scope set in a query
		option(dns.EDNS0SUBNET, 0, 1, 24, 0, 198, 51, 100, 0),    // one octet too many
		option(dns.EDNS0SUBNET, 0, 1),                            // cut short
		append(option(dns.EDNS0SUBNET, 0, 1, 24, 0, 198, 51, 100), option(dns.EDNS0SUBNET, 0, 1, 24, 0, 192, 0, 2)...),
		option(dns.EDNS0NSID),
		option(dns.EDNS0COOKIE, 1, 2, 3, 4, 5, 6, 7, 8),
		option(dns.EDNS0COOKIE, 1, 2, 3, 4, 5, 6, 7),
		option(dns.EDNS0PADDING, make([]byte, 32)...),
		option(dns.EDNS0EXPIRE),
		option(0xfde9, 1, 2, 3), // a local-use code
		append(option(dns.EDNS0NSID), option(dns.EDNS0SUBNET, 0, 1, 24, 0, 198, 51, 100)...),
		{0, 8, 0, 7, 0, 1}, // length beyond the RDATA
		{0, 3, 0},          // no room for a length
	}
	// The OPT RDATA of the captured queries.
	for _, h := range capturedQueries {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		// Past the name (uncompressed), type and class, and the OPT's
		// fixed fields.
		off := 12 + bytes.IndexByte(b[12:], 0) + 1 + 4 + 11
		seeds = append(seeds, b[off:])
	}
	return seeds
}

// FuzzOPT feeds arbitrary OPT RDATA, ECS options above all, to the UDP
// answer path. The query is either refused with FORMERR or answered with
// the client subnet as the general path reads it, echoed so that it
// re-encodes to the same value; the fast path, when it answers, reads the
// same subnet.
func FuzzOPT(f *testing.F) {
	for _, b := range optSeeds(f) {
		f.Add(b)
	}
	s := newFastServer(f, Options{UDPSize: 1232, NSID: "node-1"})
	w := newWorker(s)
	src := netip.MustParseAddr("192.0.2.33")
	f.Fuzz(func(t *testing.T, rdata []byte) {
		if len(rdata) > 4096 {
			return // an OPT fills a packet long before
		}
		pkt := optQuery(rdata)
		out := w.answer(pkt, src)
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("%x: response %x does not unpack: %v", rdata, out, err)
		}
		req := new(dns.Msg)
		if err := req.Unpack(pkt); err != nil {
			if r.Rcode != dns.RcodeFormatError {
				t.Fatalf("%x: option data that does not unpack (%v) got rcode %s; want FORMERR", rdata, err, dns.RcodeToString[r.Rcode])
			}
			return
		}
		ecs, err := clientSubnet(req.IsEdns0())
		if err != nil || (ecs != nil && !addressOctetsFit(rdata)) {
			if r.Rcode != dns.RcodeFormatError {
				t.Fatalf("%x: malformed ECS got rcode %s; want FORMERR", rdata, dns.RcodeToString[r.Rcode])
			}
			return
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("%x: got rcode %s and %d answers; want an answer", rdata, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		checkNSID(t, rdata, req, r)
		if w.parse(pkt) == fastAnswer {
			checkFastECS(t, rdata, &w.q, ecs)
		}
		echo := replyECS(r)
		if ecs == nil {
			if echo != nil {
				t.Fatalf("%x: got ECS %v in reply to a query without it", rdata, echo)
			}
			return
		}
		if echo == nil || echo.Family != ecs.Family || echo.SourceNetmask != ecs.SourceNetmask || !echo.Address.Equal(ecs.Address) {
			t.Fatalf("%x: query ECS %v echoed as %v", rdata, ecs, echo)
		}
		// A scope is read in the family echoed: an IPv4-mapped address's
		// must stay among the mapped addresses.
		if a, ok := netip.AddrFromSlice(ecs.Address); ok && ecs.Family == 2 && a.Is4In6() && echo.SourceScope != 0 && echo.SourceScope < 96 {
			t.Fatalf("%x: IPv4-mapped ECS %v got scope /%d", rdata, ecs, echo.SourceScope)
		}
		// The subnet read re-encodes to itself.
		m := new(dns.Msg)
		m.SetQuestion("app.example.com.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: ecs.Family,
			SourceNetmask: ecs.SourceNetmask, Address: ecs.Address}}
		again := new(dns.Msg)
		if err := again.Unpack(pack(t, m)); err != nil {
			t.Fatalf("%x: re-encoded ECS %v does not unpack: %v", rdata, ecs, err)
		}
		e2, err := clientSubnet(again.IsEdns0())
		if err != nil || e2 == nil || e2.Family != ecs.Family || e2.SourceNetmask != ecs.SourceNetmask || !e2.Address.Equal(ecs.Address) {
			t.Fatalf("%x: ECS %v re-encoded reads as %v (%v)", rdata, ecs, e2, err)
		}
	})
}

// addressOctetsFit reports whether the first ECS option in OPT RDATA rd
// has as many address octets as its source prefix needs: what unpacking
// does not show.
func addressOctetsFit(rd []byte) bool {
	for len(rd) >= 4 {
		code, l := binary.BigEndian.Uint16(rd), int(binary.BigEndian.Uint16(rd[2:]))
		if code == dns.EDNS0SUBNET && l >= 4 && 4+l <= len(rd) {
			return l-4 == (int(rd[6])+7)/8
		}
		rd = rd[min(4+l, len(rd)):]
	}
	return true
}

// FuzzECSOption feeds arbitrary messages to ecsOption: whenever miekg/dns
// unpacks one with a single OPT carrying ECS, ecsOption finds that option,
// its data unpacking to the same subnet; without one it finds nothing.
func FuzzECSOption(f *testing.F) {
	for _, pkt := range querySeeds(f) {
		f.Add(pkt)
	}
	for _, rd := range optSeeds(f) {
		f.Add(optQuery(rd))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		got := ecsOption(msg)
		m := new(dns.Msg)
		if m.Unpack(msg) != nil {
			return
		}
		var opts []*dns.OPT
		for _, rr := range m.Extra {
			if o, ok := rr.(*dns.OPT); ok {
				opts = append(opts, o)
			}
		}
		if len(opts) != 1 {
			return
		}
		var want *dns.EDNS0_SUBNET
		for _, o := range opts[0].Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				want = e
				break
			}
		}
		if want == nil {
			if got != nil {
				t.Fatalf("%x: found ECS %x in a message without one", msg, got)
			}
			return
		}
		// The data found, as the only option of a query, unpacks to the
		// same subnet.
		again := new(dns.Msg)
		if got == nil || again.Unpack(optQuery(option(dns.EDNS0SUBNET, got...))) != nil {
			t.Fatalf("%x: found %x; the message has %v", msg, got, want)
		}
		if e := replyECS(again); e == nil || e.String() != want.String() {
			t.Fatalf("%x: found %x (%v); the message has %v", msg, got, e, want)
		}
	})
}

// checkNSID checks that the reply carries our NSID exactly when the query
// asked for it.
func checkNSID(t *testing.T, rdata []byte, req, r *dns.Msg) {
	t.Helper()
	asked, got := false, ""
	for _, o := range req.IsEdns0().Option {
		asked = asked || o.Option() == dns.EDNS0NSID
	}
	if ropt := r.IsEdns0(); ropt != nil {
		for _, o := range ropt.Option {
			if n, ok := o.(*dns.EDNS0_NSID); ok {
				got = n.Nsid
			}
		}
	}
	if want := hex.EncodeToString([]byte("node-1")); asked != (got == want) || (!asked && got != "") {
		t.Errorf("%x: NSID asked %v; got %q", rdata, asked, got)
	}
}

// checkFastECS checks that the fast path read the subnet the general path
// reads.
func checkFastECS(t *testing.T, rdata []byte, q *wireQuery, ecs *dns.EDNS0_SUBNET) {
	t.Helper()
	if q.ecs != (ecs != nil) {
		t.Fatalf("%x: fast path read ECS %v; general path %v", rdata, q.ecs, ecs)
	}
	if ecs == nil {
		return
	}
	addr := ecs.Address
	if ecs.Family == 1 {
		addr = addr.To4()
	} else if ecs.Family == 0 {
		addr = net.IP{}
	}
	n := (int(q.ecsSrc) + 7) / 8
	if q.ecsFam != ecs.Family || q.ecsSrc != ecs.SourceNetmask || !bytes.Equal(q.ecsAddr[:n], addr[:n]) {
		t.Fatalf("%x: fast path read ECS family %d %x/%d; general path %v", rdata, q.ecsFam, q.ecsAddr[:n], q.ecsSrc, ecs)
	}
}

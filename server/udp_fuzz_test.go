package server

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// capturedQueries are queries as real resolvers and tools send them,
// captured off the wire: dig 9.18 (AD set, a client cookie) and kdig 3.2.
var capturedQueries = []string{
	// dig app.example.com A +subnet=198.51.100.0/24
	"27380120000100000000000103617070076578616d706c6503636f6d000001000100002904d00000000000170008000700011800c63364000a00085591b4c4e8e39fab",
	// dig www.example.org AAAA +nsid +padding=128
	"3c7b0120000100000000000103777777076578616d706c65036f726700001c000100002904d000000000005400030000000a00083156efb1f05015bf000c004000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
	// kdig nope.example.org TXT +nsid +cookie +subnet=2001:db8:2::/48
	"f62701200001000000000001046e6f7065076578616d706c65036f72670000100001000029100000000000001e000300000008000a0002300020010db80002000a000837a0201bdbbfd5aa",
}

// querySeeds returns the seed corpus of FuzzQuery: captured queries, a
// sample of the fast path's corpus (static and dynamic names, ECS, NSID,
// cookies, NXDOMAIN), the general path's corpus, padding, signed queries
// (see signedSeeds), and damaged packets.
func querySeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, h := range capturedQueries {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	// Every 7th, so that each name, type and variant still appears.
	fast := fastCorpus(t)
	for i := 0; i < len(fast); i += 7 {
		seeds = append(seeds, fast[i])
	}
	seeds = append(seeds, generalCorpus(t)...)
	seeds = append(seeds, signedSeeds(t)...)
	for _, m := range []*dns.Msg{
		query("www.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_PADDING{Padding: make([]byte, 64)})),
		query("app.example.com.", dns.TypeA, withECS(1, "198.51.100.0", 24),
			func(m *dns.Msg) {
				m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
			}),
		query("big.example.org.", dns.TypeTXT, withEDNS(4096)),
		query("example.org.", dns.TypeANY, withEDNS(512)),
		query("Rand0m.wild.example.org.", dns.TypeA, withEDNS(1232)),
		query("x.y.wild.example.org.", 4242),
		query("alias.example.org.", 4242, withEDNS(1232)),
	} {
		seeds = append(seeds, pack(t, m))
	}
	// Damaged: cut short inside the question and inside the OPT, and with
	// a compression pointer looping on itself as the name.
	www := pack(t, query("www.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})))
	loop := append(append([]byte(nil), www[:12]...), 0xc0, 12, 0, 1, 0, 1)
	seeds = append(seeds, www[:20], www[:len(www)-3], loop)
	return seeds
}

// FuzzQuery feeds arbitrary packets to the whole UDP answer path, fast
// path and general path together, with a TSIG key configured so that
// signed packets are checked. Whatever comes in, the server either sends
// nothing or a well-formed response to it, never a panic; the fast path
// answers exactly as the general path would, drawing on the same
// rate-limiting budget; and the answer to the same bytes as the start of
// an oversize query is FORMERR with the header alone.
func FuzzQuery(f *testing.F) {
	for _, pkt := range querySeeds(f) {
		f.Add(pkt)
	}
	s := newFastServer(f, Options{UDPSize: 1232, NSID: "node-1"})
	s.SetTransfer(TransferOptions{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Key: testKey()})
	fw, gw := newWorker(s), newWorker(s)
	src := netip.MustParseAddr("192.0.2.33")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		out := fw.answer(pkt, src)
		checkResponse(t, s.opts.Load(), pkt, out)
		general := gw.general(pkt, src)
		sameResponse(t, pkt, out, general)
		if out != nil {
			sameRRLKey(t, pkt, fw.rrl, gw.rrl)
		}
		checkOversize(t, pkt, fw.oversize(pkt, src))
	})
}

// checkOversize checks the answer to pkt as the start of a query too long
// to read: none to a packet that is no query, else FORMERR with pkt's ID
// and nothing but the header.
func checkOversize(t *testing.T, pkt, out []byte) {
	t.Helper()
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		if out != nil {
			t.Fatalf("%x: oversize answer %x to a packet that is no query", pkt, out)
		}
		return
	}
	if len(out) != 12 || out[0] != pkt[0] || out[1] != pkt[1] || out[2]&0x80 == 0 || out[3]&0xF != dns.RcodeFormatError {
		t.Fatalf("%x: oversize answer %x; want FORMERR, the header alone", pkt, out)
	}
}

// checkResponse checks that out is a response the server may send to the
// query pkt: nothing to a packet without a header or to a response, else
// a message that unpacks, with QR set, the query's ID, at most one
// question (the query's), EDNS only when asked for, and no longer than
// the client and we allow.
func checkResponse(t *testing.T, o *Options, pkt, out []byte) {
	t.Helper()
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		if out != nil {
			t.Fatalf("%x: got response %x; want none to a packet that is no query", pkt, out)
		}
		return
	}
	if out == nil {
		return // dropped: allowed (e.g. rate limiting)
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("%x: response %x does not unpack: %v", pkt, out, err)
	}
	if !r.Response {
		t.Errorf("%x: response without QR", pkt)
	}
	if id := binary.BigEndian.Uint16(pkt); r.Id != id {
		t.Errorf("%x: response ID %d; want %d", pkt, r.Id, id)
	}
	if len(r.Question) > 1 {
		t.Errorf("%x: response has %d questions; want at most 1", pkt, len(r.Question))
	}
	if r.Truncated && len(r.Answer)+len(r.Ns) > 0 {
		t.Errorf("%x: truncated response carries %d answer and %d authority records", pkt, len(r.Answer), len(r.Ns))
	}
	// What the query asked for, as the general path reads it; a FORMERR
	// echoes the question of a query that fails to unpack after it.
	req := new(dns.Msg)
	reqOK := req.Unpack(pkt) == nil
	limit := dns.MinMsgSize
	if ropt := r.IsEdns0(); ropt != nil {
		if !reqOK || req.IsEdns0() == nil {
			t.Fatalf("%x: response has EDNS; the query has none", pkt)
		}
		limit = max(dns.MinMsgSize, int(min(req.IsEdns0().UDPSize(), o.UDPSize)))
	}
	if len(out) > limit {
		t.Errorf("%x: response is %d bytes; the limit is %d", pkt, len(out), limit)
	}
	if len(r.Question) == 1 {
		if len(req.Question) != 1 || r.Question[0] != req.Question[0] {
			t.Errorf("%x: response question %v is not the query's", pkt, r.Question[0])
		}
	}
}

// sameResponse checks that the UDP answer path (fast, with the general
// path behind it) answered pkt as the general path alone does, as
// TestFastPathMatchesGeneral checks for its corpus: the same message, if
// not packed the same way.
func sameResponse(t *testing.T, pkt, got, general []byte) {
	t.Helper()
	if (got == nil) != (general == nil) {
		t.Fatalf("%x: answered %x; general path %x", pkt, got, general)
	}
	if got == nil {
		return
	}
	// A signed answer's MAC depends on the second it was signed in.
	if g, w := normalize(t, got), normalize(t, general); g != w {
		t.Errorf("%x: answered\n%s\ngeneral path:\n%s", pkt, g, w)
	}
}

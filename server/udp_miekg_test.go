package server

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The general UDP path (worker.general) copies what a miekg/dns server does
// with a packet before and after its handler: the accept function, the
// FORMERR and NOTIMP it answers for rejected or unparsable messages, the
// TSIG check, the signing of the answer. TestGeneralPathMatchesMiekg pins
// it to a real dns.Server configured as ours would be (MsgAcceptFunc
// accept, TsigProvider tsigKeys, the Server itself as handler, a 4096-byte
// read buffer), over the same corpus. Both sides are compared after
// unpacking, with the TSIG's time and MAC (which depend on the second)
// reduced to whether there is one.
//
// The differences are intended, and listed in miekgDifferences.

// miekgDifference is a case where our UDP listener answers unlike a
// dns.Server on purpose.
type miekgDifference struct {
	name   string
	match  func(pkt []byte) bool
	ours   string // what the listener answers
	miekg  string // what dns.Server answers
	reason string
}

var miekgDifferences = []miekgDifference{
	{
		name:   "query longer than 4096 bytes",
		match:  func(pkt []byte) bool { return len(pkt) > maxUDPQuery },
		ours:   "FORMERR, the header alone",
		miekg:  "answers the first 4096 bytes as if they were the query: FORMERR with the question, or an answer when they unpack",
		reason: "recvmmsg reads 4096 bytes a packet; the rest of a longer query is gone, so nothing in it can be trusted beyond the header (README, malformed input)",
	},
	{
		name:   "a panic answering the query",
		match:  func([]byte) bool { return false }, // the corpus has none; TestPanicContained covers it
		ours:   "SERVFAIL built from the header and question; the socket keeps serving",
		miekg:  "the process exits",
		reason: "one poison query must not take every node down (panics.go)",
	},
	{
		name:   "rate limiting",
		match:  func([]byte) bool { return false }, // off in this test; rrl_test.go covers it
		ours:   "dropped or slipped under dns.rrl",
		miekg:  "always answered",
		reason: "response rate limiting is ours",
	},
}

// differentialCorpus is querySeeds with signed queries, headers of every
// opcode and flag, garbage, and damaged copies of all of these.
func differentialCorpus(t *testing.T) [][]byte {
	corpus := append(querySeeds(t), signedSeeds(t)...)
	base := pack(t, query("www.example.org.", dns.TypeA, withEDNS(1232)))
	for op := range 16 {
		pkt := append([]byte(nil), base...)
		pkt[2] = pkt[2]&^0x78 | byte(op)<<3
		corpus = append(corpus, pkt)
	}
	for bit := range 16 {
		pkt := append([]byte(nil), base...)
		binary.BigEndian.PutUint16(pkt[2:], binary.BigEndian.Uint16(pkt[2:])|1<<bit)
		corpus = append(corpus, pkt)
	}
	for _, counts := range [][4]uint16{{0, 0, 0, 1}, {2, 0, 0, 1}, {1, 1, 0, 1}, {1, 0, 1, 1}, {1, 0, 0, 0}, {1, 0, 0, 2}} {
		pkt := append([]byte(nil), base...)
		for i, c := range counts {
			binary.BigEndian.PutUint16(pkt[4+2*i:], c)
		}
		corpus = append(corpus, pkt)
	}
	r := rand.New(rand.NewPCG(19, 6891))
	for n := range 40 {
		garbage := make([]byte, n)
		for i := range garbage {
			garbage[i] = byte(r.Uint32())
		}
		corpus = append(corpus, garbage)
	}
	for range 400 {
		pkt := append([]byte(nil), corpus[r.IntN(len(corpus))]...)
		switch {
		case len(pkt) == 0:
		case r.IntN(3) == 0:
			pkt = pkt[:r.IntN(len(pkt))]
		default:
			for range 1 + r.IntN(3) {
				pkt[r.IntN(len(pkt))] = byte(r.Uint32())
			}
		}
		corpus = append(corpus, pkt)
	}
	big := query("www.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_PADDING{Padding: make([]byte, 4200)}))
	return append(corpus, pack(t, big))
}

// signedSeeds are TSIG-signed queries: with the key of the test servers
// (xfrKeyName), with another key, a wrong secret, a clock an hour off, of
// several types and opcodes, and with the TSIG not last.
func signedSeeds(t testing.TB) [][]byte {
	const wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
	now := time.Now()
	var out [][]byte
	add := func(m *dns.Msg, key, secret string, at time.Time) {
		pkt, _ := signedQuery(t, m, key, secret, at)
		out = append(out, pkt)
	}
	add(query("example.org.", dns.TypeSOA), xfrKeyName, xfrSecret, now)
	add(query("www.example.org.", dns.TypeA, withEDNS(1232)), xfrKeyName, xfrSecret, now)
	add(query("big.example.org.", dns.TypeTXT), xfrKeyName, xfrSecret, now)
	add(query("app.example.com.", dns.TypeA, withECS(1, "198.51.100.0", 24)), xfrKeyName, xfrSecret, now)
	add(ixfr("example.org.", 1), xfrKeyName, xfrSecret, now)
	add(query("example.org.", dns.TypeAXFR), xfrKeyName, xfrSecret, now)
	add(query("version.bind.", dns.TypeTXT, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }), xfrKeyName, xfrSecret, now)
	add(query("example.org.", dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }), xfrKeyName, xfrSecret, now)
	add(query("example.org.", dns.TypeSOA), "other.", xfrSecret, now)
	add(query("example.org.", dns.TypeSOA), xfrKeyName, wrong, now)
	add(query("example.org.", dns.TypeSOA), xfrKeyName, xfrSecret, now.Add(-time.Hour))
	// The TSIG before the OPT: not a signed message (it must come last).
	m := query("www.example.org.", dns.TypeA)
	pkt, _ := signedQuery(t, m, xfrKeyName, xfrSecret, now)
	m = new(dns.Msg)
	if err := m.Unpack(pkt); err != nil {
		t.Fatal(err)
	}
	m.SetEdns0(1232, false)
	return append(out, pack(t, m))
}

// normalize unpacks a response for comparison: "" for none, else its
// text with the TSIG's time, MAC and other data (our clock, for BADTIME)
// reduced to their presence.
func normalize(t *testing.T, out []byte) string {
	t.Helper()
	if out == nil {
		return ""
	}
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatalf("response %x does not unpack: %v", out, err)
	}
	if ts := m.IsTsig(); ts != nil {
		ts.TimeSigned = 0
		if ts.MAC != "" {
			ts.MAC, ts.MACSize = "00", 1
		}
		if ts.OtherData != "" {
			ts.OtherData = "00"
		}
	}
	return m.String()
}

// exchangeAll sends each packet from its own socket to addr and returns
// the replies (nil: none). A packet expected to get no reply (none[i]) is
// waited for briefly; the others for up to 3 s.
func exchangeAll(t *testing.T, addr string, pkts [][]byte, none []bool) [][]byte {
	t.Helper()
	out := make([][]byte, len(pkts))
	const chunk = 200
	for lo := 0; lo < len(pkts); lo += chunk {
		var wg sync.WaitGroup
		for i := lo; i < min(lo+chunk, len(pkts)); i++ {
			c, err := net.Dial("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			wait := 3 * time.Second
			if none[i] {
				wait = 300 * time.Millisecond
			}
			c.SetDeadline(time.Now().Add(wait))
			if _, err := c.Write(pkts[i]); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, dns.MaxMsgSize)
				if n, err := c.Read(buf); err == nil {
					out[i] = buf[:n]
				}
			}()
		}
		wg.Wait()
	}
	return out
}

func TestGeneralPathMatchesMiekg(t *testing.T) {
	s := newFastServer(t, Options{Listen: []string{"127.0.0.1:0"}, UDPSize: 1232, NSID: "node-1", UDPSockets: 1,
		TCPMaxConns: 8, TCPIdleTimeout: time.Second, TCPReadTimeout: time.Second})
	s.SetTransfer(TransferOptions{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Key: testKey()})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	ref := &dns.Server{PacketConn: pc, Handler: s, MsgAcceptFunc: accept, TsigProvider: tsigKeys{s: s},
		UDPSize: maxUDPQuery, NotifyStartedFunc: func() { close(started) }}
	go ref.ActivateAndServe()
	<-started
	defer ref.Shutdown()

	corpus := differentialCorpus(t)
	w := newWorker(s)
	src := netip.MustParseAddr("127.0.0.1")
	general := make([]string, len(corpus))
	none := make([]bool, len(corpus))
	for i, pkt := range corpus {
		if len(pkt) <= maxUDPQuery {
			general[i] = normalize(t, w.general(pkt, src))
			none[i] = general[i] == ""
		}
	}
	refOut := exchangeAll(t, pc.LocalAddr().String(), corpus, none)
	ourOut := exchangeAll(t, s.Addrs()[0].String(), corpus, none)

	answered, differ := 0, map[string]int{}
	for i, pkt := range corpus {
		miekg, ours := normalize(t, refOut[i]), normalize(t, ourOut[i])
		if miekg != "" {
			answered++
		}
		var diff *miekgDifference
		for j := range miekgDifferences {
			if miekgDifferences[j].match(pkt) {
				diff = &miekgDifferences[j]
			}
		}
		if diff != nil {
			differ[diff.name]++
			continue
		}
		if general[i] != miekg {
			t.Errorf("%x: general path\n%s\ndns.Server\n%s", pkt, general[i], miekg)
		}
		if ours != miekg {
			t.Errorf("%x: our listener\n%s\ndns.Server\n%s", pkt, ours, miekg)
		}
	}
	if answered < len(corpus)/2 {
		t.Errorf("dns.Server answered %d packets of %d; want most", answered, len(corpus))
	}
	// The one intended difference the corpus holds.
	if differ["query longer than 4096 bytes"] != 1 {
		t.Errorf("differences seen: %v", differ)
	}
	big := ourOut[len(ourOut)-1]
	if len(big) != 12 || big[3]&0xF != dns.RcodeFormatError || refOut[len(refOut)-1] == nil {
		t.Errorf("oversize query: ours %x (want FORMERR, the header alone), dns.Server %x (want an answer)", big, refOut[len(refOut)-1])
	}
	t.Logf("%d packets, %d answered by dns.Server", len(corpus), answered)
}

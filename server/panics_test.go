package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const poison = "boom.example.org."

// newPanickyServer is newFastServer with the test hook armed for poison
// and the log kept in logs.
func newPanickyServer(t *testing.T, o Options) (*Server, *syncBuffer) {
	t.Helper()
	s := newFastServer(t, o)
	logs := new(syncBuffer)
	s.log = slog.New(slog.NewTextHandler(logs, nil))
	s.panicName = poison
	return s, logs
}

// wantServfail checks that r is the SERVFAIL answer to m.
func wantServfail(t *testing.T, m, r *dns.Msg) {
	t.Helper()
	if r.Rcode != dns.RcodeServerFailure || !r.Response || r.Id != m.Id || len(r.Question) != 1 ||
		r.Question[0] != m.Question[0] || len(r.Answer)+len(r.Ns) != 0 {
		t.Errorf("got\n%v\nwant SERVFAIL to %v", r, m.Question)
	}
}

// TestPanicContained: a query that panics, on the fast path, the general
// path or TCP, gets SERVFAIL, is logged in hex and counted, and the server
// keeps answering, on the same socket and connection.
func TestPanicContained(t *testing.T) {
	s, logs := newPanickyServer(t, Options{Listen: []string{"127.0.0.1:0"}, UDPSize: 1232, UDPSockets: 1,
		TCPMaxConns: 8, TCPIdleTimeout: 5 * time.Second, TCPReadTimeout: 5 * time.Second})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	addr := s.Addrs()[0].String()
	udp, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	tcp, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	fastPoison := query(poison, dns.TypeA)
	generalPoison := query("BOOM.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_EXPIRE{Code: dns.EDNS0EXPIRE}))
	for _, tt := range []struct {
		name string
		conn net.Conn
		m    *dns.Msg
	}{
		{"udp fast path", udp, fastPoison},
		{"udp general path", udp, generalPoison},
		{"tcp", tcp, fastPoison},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if v := newWorker(s).parse(pack(t, tt.m)); (v == fastAnswer) != (tt.m == fastPoison) {
				t.Fatalf("the query does not take the path under test")
			}
			co := &dns.Conn{Conn: tt.conn}
			tt.conn.SetDeadline(time.Now().Add(2 * time.Second))
			for range 2 {
				if err := co.WriteMsg(tt.m); err != nil {
					t.Fatal(err)
				}
				r, err := co.ReadMsg()
				if err != nil {
					t.Fatalf("no answer to the poison query: %v", err)
				}
				wantServfail(t, tt.m, r)
				good := query("www.example.org.", dns.TypeA)
				co.WriteMsg(good)
				if r, err = co.ReadMsg(); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					t.Fatalf("after the panic: got %v, %v; want the answer", r, err)
				}
			}
			if !strings.Contains(logs.String(), hex.EncodeToString(pack(t, tt.m))) {
				t.Errorf("the query's hex is not in the log:\n%s", logs)
			}
		})
	}
	diffSeries(t, "meridian_dns_panics_total", series(t, s.Collector(), "meridian_dns_panics_total"),
		map[string]float64{`transport="udp"`: 4, `transport="tcp"`: 2})
	if !strings.Contains(logs.String(), "level=ERROR msg=\"panic while answering a query") ||
		!strings.Contains(logs.String(), "testPanic") {
		t.Errorf("want an error line with the stack:\n%s", logs)
	}
}

// TestPanicInBatch: a poison query in the middle of a burst costs the
// queries around it nothing, whether or not they share its recvmmsg.
func TestPanicInBatch(t *testing.T) {
	s, _ := newPanickyServer(t, Options{Listen: []string{"127.0.0.1:0"}, UDPSize: 1232, UDPSockets: 1})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 20
	for i := range n {
		m := query("www.example.org.", dns.TypeA)
		if i%5 == 2 {
			m = query(poison, dns.TypeA)
		}
		m.Id = uint16(i)
		c.Write(pack(t, m))
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	got := map[uint16]int{}
	buf := make([]byte, 512)
	for len(got) < n {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("got %d answers of %d: %v", len(got), n, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatal(err)
		}
		got[r.Id] = r.Rcode
	}
	for i := range n {
		want := dns.RcodeSuccess
		if i%5 == 2 {
			want = dns.RcodeServerFailure
		}
		if got[uint16(i)] != want {
			t.Errorf("query %d: got %s; want %s", i, dns.RcodeToString[got[uint16(i)]], dns.RcodeToString[want])
		}
	}
}

// TestPanicSimpleLoop: the loop of one system call per packet (where
// recvmmsg is not used) contains panics the same way.
func TestPanicSimpleLoop(t *testing.T) {
	s, _ := newPanickyServer(t, Options{UDPSize: 1232})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &udpListener{s: s, conns: []*net.UDPConn{pc.(*net.UDPConn)}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.serveSimple(pc.(*net.UDPConn))
	}()
	defer l.shutdown(context.Background())
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for range 2 {
		m := query(poison, dns.TypeA)
		r, _, err := c.Exchange(m, pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		wantServfail(t, m, r)
		if r, _, err = c.Exchange(query("www.example.org.", dns.TypeA), pc.LocalAddr().String()); err != nil || len(r.Answer) != 1 {
			t.Fatalf("after the panic: got %v, %v; want the answer", r, err)
		}
	}
	if got := s.metrics.panics[0].Load(); got != 2 {
		t.Errorf("got %d panics counted; want 2", got)
	}
}

// TestPanicLogBounded: a flood of poison queries logs at most
// panicLogLimit lines a second, and says how many it left out.
func TestPanicLogBounded(t *testing.T) {
	var l panicLog
	now := time.Unix(1000, 0)
	logged := 0
	for range 3 * panicLogLimit {
		if ok, _ := l.allow(now); ok {
			logged++
		}
	}
	if logged != panicLogLimit {
		t.Errorf("logged %d in one second; want %d", logged, panicLogLimit)
	}
	if ok, skipped := l.allow(now.Add(time.Second)); !ok || skipped != 2*panicLogLimit {
		t.Errorf("next second: got %v, %d left out; want true, %d", ok, skipped, 2*panicLogLimit)
	}
}

func TestServfail(t *testing.T) {
	notify := query("example.org.", dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify; m.RecursionDesired = true })
	rdcd := query("www.example.org.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.RecursionDesired, m.CheckingDisabled = true, true })
	noq := new(dns.Msg)
	noq.Id = 7
	for _, tt := range []struct {
		name string
		pkt  []byte
		want *dns.Msg // nil: no answer
	}{
		{"query", pack(t, rdcd), new(dns.Msg).SetRcode(rdcd, dns.RcodeServerFailure)},
		{"other opcode", pack(t, notify), new(dns.Msg).SetRcode(notify, dns.RcodeServerFailure)},
		{"no question", pack(t, noq), new(dns.Msg).SetRcode(noq, dns.RcodeServerFailure)},
		{"compressed name", []byte{0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1},
			new(dns.Msg).SetRcode(noq, dns.RcodeServerFailure)},
		{"question cut short", pack(t, rdcd)[:20], func() *dns.Msg {
			m := new(dns.Msg).SetRcode(rdcd, dns.RcodeServerFailure)
			m.Question = nil
			return m
		}()},
		{"response", pack(t, new(dns.Msg).SetReply(rdcd)), nil},
		{"no header", []byte{1, 2, 3}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := servfail(nil, tt.pkt)
			if tt.want == nil {
				if out != nil {
					t.Errorf("got %x; want no answer", out)
				}
				return
			}
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil {
				t.Fatalf("%x: %v", out, err)
			}
			if r.String() != tt.want.String() {
				t.Errorf("got\n%v\nwant\n%v", r, tt.want)
			}
		})
	}
}

// FuzzServfail: whatever the packet, the SERVFAIL built from it is no
// answer at all or a message that unpacks, with the packet's ID.
func FuzzServfail(f *testing.F) {
	for _, pkt := range querySeeds(f) {
		f.Add(pkt)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		out := servfail(nil, pkt)
		if out == nil {
			if len(pkt) >= 12 && pkt[2]&0x80 == 0 {
				t.Fatalf("%x: no SERVFAIL to a query", pkt)
			}
			return
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("%x: SERVFAIL %x does not unpack: %v", pkt, out, err)
		}
		if r.Id != uint16(pkt[0])<<8|uint16(pkt[1]) || r.Rcode != dns.RcodeServerFailure || !r.Response || len(out) > 12+255+4 {
			t.Fatalf("%x: got %v", pkt, r)
		}
	})
}

package server

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestOversizeQuery: a UDP query longer than maxUDPQuery gets FORMERR with
// its header alone, from the recvmmsg loop and from the one-packet loop
// alike; an oversize response gets nothing.
func TestOversizeQuery(t *testing.T) {
	s := newFastServer(t, Options{Listen: []string{"127.0.0.1:0"}, UDPSize: 1232, UDPSockets: 1})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	simple := &udpListener{s: s, conns: []*net.UDPConn{pc.(*net.UDPConn)}}
	simple.wg.Add(1)
	go func() {
		defer simple.wg.Done()
		simple.serveSimple(pc.(*net.UDPConn))
	}()
	defer simple.shutdown(context.Background())

	big := query("www.example.org.", dns.TypeA, withEDNS(1232, &dns.EDNS0_PADDING{Padding: make([]byte, maxUDPQuery)}),
		func(m *dns.Msg) { m.RecursionDesired = true })
	pkt := pack(t, big)
	resp := append([]byte(nil), pkt...)
	resp[2] |= 0x80
	for _, tt := range []struct{ name, addr string }{
		{"recvmmsg", s.Addrs()[0].String()},
		{"one packet", pc.LocalAddr().String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("udp", tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.Write(resp) // no answer: the next one read is the query's
			c.Write(pkt)
			buf := make([]byte, 1500)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("no answer to a %d-byte query: %v", len(pkt), err)
			}
			r := new(dns.Msg)
			if err := r.Unpack(buf[:n]); err != nil {
				t.Fatal(err)
			}
			if r.Rcode != dns.RcodeFormatError || r.Id != big.Id || !r.RecursionDesired || n != 12 {
				t.Errorf("got %d bytes\n%v\nwant FORMERR, the header alone", n, r)
			}
			co := &dns.Conn{Conn: c}
			co.WriteMsg(query("www.example.org.", dns.TypeA))
			if r, err := co.ReadMsg(); err != nil || len(r.Answer) != 1 {
				t.Fatalf("then: got %v, %v; want the answer", r, err)
			}
		})
	}
}

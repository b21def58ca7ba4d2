package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startTCP starts s on a loopback port and returns its address.
func startTCP(t *testing.T, s *Server) string {
	t.Helper()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s.Addrs()[0].String()
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closes c within d.
func closedByServer(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// exchangeOn sends q over the open connection c and reads the answer.
func exchangeOn(c net.Conn, q *dns.Msg) (*dns.Msg, error) {
	co := &dns.Conn{Conn: c}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	return co.ReadMsg()
}

func tcpGauge(t *testing.T, s *Server) float64 {
	return series(t, s.Collector(), "meridian_dns_tcp_connections")[""]
}

// TestTCPIdleFlood opens far more idle connections than the server allows,
// from many addresses: UDP and new TCP clients must still be answered, the
// connections held stay within the limits, and each address is capped.
func TestTCPIdleFlood(t *testing.T) {
	o := DefaultOptions()
	o.Listen = []string{"127.0.0.1:0"}
	o.TCPMaxConns, o.TCPMaxPerClient = 20, 4
	o.TCPReadTimeout, o.TCPIdleTimeout = time.Minute, time.Minute // idle clients are not timed out here
	s := newTestServer(t, o)
	addr := startTCP(t, s)

	var idle []net.Conn
	for i := range 30 { // 30 addresses × 6 connections: 180 idle clients
		for range 6 {
			idle = append(idle, dialFrom(t, fmt.Sprintf("127.0.1.%d", i+1), addr))
		}
	}
	// Per client: the fifth and sixth connection of one address are closed.
	first := idle[:6]
	time.Sleep(100 * time.Millisecond)
	closed := 0
	for _, c := range first {
		if closedByServer(c, 200*time.Millisecond) {
			closed++
		}
	}
	if closed < 2 {
		t.Errorf("%d of one address's 6 connections closed; want at least the 2 over its limit", closed)
	}
	if n := tcpGauge(t, s); n > 20 {
		t.Errorf("%v TCP connections open; the limit is 20", n)
	}

	// UDP is answered.
	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	if r, _, err := udp.Exchange(query("www.example.org.", dns.TypeA), addr); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("UDP query during the flood: %v %v", r, err)
	}
	// New TCP clients are answered: each takes an idle connection's place.
	for i := range 5 {
		c := dialFrom(t, fmt.Sprintf("127.0.2.%d", i+1), addr)
		r, err := exchangeOn(c, query("www.example.org.", dns.TypeA))
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("new TCP client %d during the flood: %v %v", i, r, err)
		}
	}
	m := series(t, s.Collector(), "meridian_dns_tcp_limited_total")
	if m[`action="evicted"`] < 5 || m[`action="refused"`] < 30*2 {
		t.Errorf("limit metrics: %v; want at least 5 evicted and 60 refused", m)
	}
	if n := tcpGauge(t, s); n > 20 {
		t.Errorf("%v TCP connections open; the limit is 20", n)
	}
}

// TestTCPEvictsOnlyIdle: when every connection is busy writing, a new one
// is refused rather than cutting a response short.
func TestTCPEvictsOnlyIdle(t *testing.T) {
	o := DefaultOptions()
	o.Listen = []string{"127.0.0.1:0"}
	o.TCPMaxConns = 2
	s := newTestServer(t, o)
	addr := startTCP(t, s)
	a := dialFrom(t, "127.0.3.1", addr)
	b := dialFrom(t, "127.0.3.2", addr)
	time.Sleep(50 * time.Millisecond)
	s.tcpLimits.mu.Lock()
	for c := range s.tcpLimits.conns {
		c.busy.Add(1)
	}
	s.tcpLimits.mu.Unlock()
	c := dialFrom(t, "127.0.3.3", addr)
	if !closedByServer(c, time.Second) {
		t.Errorf("a third connection was kept while both others were busy")
	}
	if closedByServer(a, 100*time.Millisecond) || closedByServer(b, 100*time.Millisecond) {
		t.Errorf("a busy connection was closed")
	}
}

func TestTCPMaxQueries(t *testing.T) {
	o := DefaultOptions()
	o.Listen = []string{"127.0.0.1:0"}
	o.TCPMaxQueries = 3
	s := newTestServer(t, o)
	addr := startTCP(t, s)
	c := dialFrom(t, "127.0.0.1", addr)
	for i := range 3 {
		if _, err := exchangeOn(c, query("www.example.org.", dns.TypeA)); err != nil {
			t.Fatalf("query %d: %v", i+1, err)
		}
	}
	if _, err := exchangeOn(c, query("www.example.org.", dns.TypeA)); err == nil {
		t.Fatal("a fourth query was answered on a connection limited to 3")
	}
}

// TestTCPLifetime: a busy connection is closed at the end of its lifetime.
func TestTCPLifetime(t *testing.T) {
	o := DefaultOptions()
	o.Listen = []string{"127.0.0.1:0"}
	o.TCPMaxLifetime = 700 * time.Millisecond
	s := newTestServer(t, o)
	addr := startTCP(t, s)
	c := dialFrom(t, "127.0.0.1", addr)
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		if _, err := exchangeOn(c, query("www.example.org.", dns.TypeA)); err != nil {
			if el := time.Since(start); el < 600*time.Millisecond {
				t.Fatalf("closed after %v; the lifetime is 700ms", el)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("a connection outlived its lifetime by seconds")
}

// TestTCPSlowReader: a client that queues queries and never reads the
// answers loses its connection after the write timeout, and holds nothing.
func TestTCPSlowReader(t *testing.T) {
	o := DefaultOptions()
	o.Listen = []string{"127.0.0.1:0"}
	o.TCPWriteTimeout = 300 * time.Millisecond
	o.TCPMaxQueries = 0
	s := newTestServer(t, o)
	addr := startTCP(t, s)
	c := dialFrom(t, "127.0.0.1", addr).(*net.TCPConn)
	c.SetReadBuffer(4096)
	q, err := query("big.example.org.", dns.TypeTXT).Pack()
	if err != nil {
		t.Fatal(err)
	}
	frame := append([]byte{byte(len(q) >> 8), byte(len(q))}, q...)
	go func() { // queue answers far beyond what the socket buffers hold
		for range 20000 {
			if _, err := c.Write(frame); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if series(t, s.Collector(), "meridian_dns_tcp_limited_total")[`action="write_timeout"`] >= 1 && tcpGauge(t, s) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the slow reader still holds its connection: %v open, limits %v", tcpGauge(t, s),
		series(t, s.Collector(), "meridian_dns_tcp_limited_total"))
}

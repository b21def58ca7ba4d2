//go:build unix

package server

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkUDPListener answers queries through a real socket and the
// recvmmsg loop, in bursts of 32 as a busy resolver sends them: the cost
// of a query with the system calls and the loop around the answer. One op
// is one query; the client's own calls are in the figures too. cpu-ns/op
// is the CPU time of the whole process per query, which other work on the
// machine does not inflate as it does the time per op.
func BenchmarkUDPListener(b *testing.B) {
	s := newFastServer(b, Options{Listen: []string{"127.0.0.1:0"}, UDPSize: 1232, UDPSockets: 1})
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	c, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.(*net.UDPConn).SetReadBuffer(1 << 20)
	pkt := pack(b, query("www.example.org.", dns.TypeA, withEDNS(1232)))
	buf := make([]byte, 1500)
	const burst = 32
	b.ReportAllocs()
	start := cpuTime()
	for n := 0; n < b.N; n += burst {
		k := min(burst, b.N-n)
		c.SetReadDeadline(time.Now().Add(5 * time.Second)) // a lost answer fails, not hangs
		for range k {
			if _, err := c.Write(pkt); err != nil {
				b.Fatal(err)
			}
		}
		for range k {
			if _, err := c.Read(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Package notifytest runs a stand-in secondary for tests: a UDP DNS
// server on loopback that records every NOTIFY it gets with the outcome
// of its TSIG check, and answers a NOTIFY only once it has ignored the
// first few of the same zone and serial, so tests can watch retries.
package notifytest

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Notify is one NOTIFY the secondary received.
type Notify struct {
	Zone   string
	Serial uint32 // from the answer section's SOA; 0 when absent
	Signed bool
	TSIG   error // the TSIG check; nil when signed and good
}

// Secondary is the stand-in; Addr is where it listens.
type Secondary struct {
	Addr   string
	ignore int

	mu  sync.Mutex
	got []Notify
}

// Start starts a secondary that ignores the first ignore NOTIFYs of each
// zone and serial and verifies TSIG with the keys in tsig (name → secret).
// It stops when the test ends.
func Start(t testing.TB, ignore int, tsig map[string]string) *Secondary {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Secondary{Addr: pc.LocalAddr().String(), ignore: ignore}
	srv := &dns.Server{PacketConn: pc, TsigSecret: tsig,
		MsgAcceptFunc: func(dns.Header) dns.MsgAcceptAction { return dns.MsgAccept }}
	srv.Handler = dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Opcode != dns.OpcodeNotify || len(r.Question) != 1 {
			return
		}
		got := Notify{Zone: r.Question[0].Name, Signed: r.IsTsig() != nil, TSIG: w.TsigStatus()}
		for _, rr := range r.Answer {
			if soa, ok := rr.(*dns.SOA); ok {
				got.Serial = soa.Serial
			}
		}
		s.mu.Lock()
		s.got = append(s.got, got)
		s.mu.Unlock()
		if len(s.Of(got.Zone, got.Serial)) <= s.ignore {
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		if ts := r.IsTsig(); ts != nil {
			m.SetTsig(ts.Hdr.Name, ts.Algorithm, 300, time.Now().Unix())
		}
		w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

// Received returns every NOTIFY so far, in order.
func (s *Secondary) Received() []Notify {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notify(nil), s.got...)
}

// Of returns the NOTIFYs of zone with serial; serial 0 matches any.
func (s *Secondary) Of(zone string, serial uint32) []Notify {
	var out []Notify
	for _, g := range s.Received() {
		if g.Zone == zone && (serial == 0 || g.Serial == serial) {
			out = append(out, g)
		}
	}
	return out
}

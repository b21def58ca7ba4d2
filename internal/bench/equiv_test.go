package bench

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serveDNS runs h on a UDP socket on loopback until the test ends.
func serveDNS(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// fakeAuth answers like an authoritative server: NXDOMAIN for nx-*
// names, else an A record with address addr (or, for weighted names, the
// next of values in turn), echoing ECS with the given scope.
func fakeAuth(addr string, values []string, scope uint8) dns.HandlerFunc {
	var n atomic.Int64
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		switch {
		case strings.HasPrefix(q.Name, "nx-"):
			m.Rcode = dns.RcodeNameError
			soa, _ := dns.NewRR("bench-0.test. 60 IN SOA ns1.bench-0.test. hostmaster.bench-0.test. 1 2 3 4 60")
			m.Ns = append(m.Ns, soa)
		case strings.HasPrefix(q.Name, "w-"):
			rr, _ := dns.NewRR(q.Name + " 30 IN A " + values[int(n.Add(1)-1)%len(values)])
			m.Answer = append(m.Answer, rr)
		default:
			rr, _ := dns.NewRR(q.Name + " 30 IN A " + addr)
			m.Answer = append(m.Answer, rr)
		}
		if o := r.IsEdns0(); o != nil {
			ro := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			ro.SetUDPSize(1232)
			for _, opt := range o.Option {
				if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
					e.SourceScope = scope
					ro.Option = append(ro.Option, e)
				}
			}
			m.Extra = append(m.Extra, ro)
		}
		w.WriteMsg(m)
	}
}

func TestCheckEquivalence(t *testing.T) {
	ecs := netip.MustParsePrefix("100.64.1.0/24")
	set := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	qs := []Query{
		{Class: ClassStatic, Name: "host-1.bench-0.test.", Type: dns.TypeA},
		{Class: ClassGeo, Name: "geo-1.bench-0.test.", Type: dns.TypeA, ECS: ecs},
		{Class: ClassNX, Name: "nx-abc.bench-0.test.", Type: dns.TypeA},
		{Class: ClassWeighted, Name: "w-1.bench-0.test.", Type: dns.TypeA, Allowed: set},
	}
	ctx := context.Background()
	tests := []struct {
		name       string
		a, b       dns.HandlerFunc
		wantDiffs  []string // substrings, one per expected diff
		wantScopes int
	}{
		{name: "same", a: fakeAuth("192.0.2.9", []string{"192.0.2.1"}, 24), b: fakeAuth("192.0.2.9", []string{"192.0.2.2", "192.0.2.1"}, 24)},
		{name: "scope only", a: fakeAuth("192.0.2.9", []string{"192.0.2.1"}, 24), b: fakeAuth("192.0.2.9", []string{"192.0.2.1"}, 20), wantScopes: 1},
		{name: "answers", a: fakeAuth("192.0.2.9", []string{"192.0.2.1"}, 0), b: fakeAuth("192.0.2.8", []string{"192.0.2.1"}, 0),
			wantDiffs: []string{"answers differ", "answers differ"}},
		{name: "weighted outside the set", a: fakeAuth("192.0.2.9", []string{"192.0.2.1"}, 0), b: fakeAuth("192.0.2.9", []string{"192.0.2.1", "192.0.2.7"}, 0),
			wantDiffs: []string{"gdnsd: weighted answer 192.0.2.7", "gdnsd: weighted answer 192.0.2.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := CheckEquivalence(ctx, qs, serveDNS(t, tt.a), serveDNS(t, tt.b))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(e.Diffs), len(tt.wantDiffs); got != want {
				t.Fatalf("got %d diffs, want %d: %v", got, want, e.Diffs)
			}
			for i, d := range e.Diffs {
				if !strings.Contains(d.String(), tt.wantDiffs[i]) {
					t.Errorf("diff %d: got %q, want it to mention %q", i, d, tt.wantDiffs[i])
				}
			}
			if got := e.ScopeDiffs; got != tt.wantScopes {
				t.Errorf("got %d scope diffs, want %d", got, tt.wantScopes)
			}
			if got, want := e.WeightedDraws, 2*WeightedRepeats; got != want {
				t.Errorf("got %d weighted draws, want %d", got, want)
			}
		})
	}
}

func TestCheckEquivalenceClassPromise(t *testing.T) {
	// Two servers that fail alike still fail: a static name must answer.
	refuse := func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeRefused)
		w.WriteMsg(m)
	}
	qs := []Query{{Class: ClassStatic, Name: "host-1.bench-0.test.", Type: dns.TypeA}}
	e, err := CheckEquivalence(context.Background(), qs, serveDNS(t, refuse), serveDNS(t, refuse))
	if err != nil {
		t.Fatal(err)
	}
	if e.OK() || !strings.Contains(e.Diffs[0].Why, "expected NOERROR") {
		t.Errorf("got %v, want both flagged for REFUSED", e.Diffs)
	}
}

func TestCheckEquivalenceDeadServer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	qs := []Query{{Class: ClassStatic, Name: "host-1.bench-0.test.", Type: dns.TypeA}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := CheckEquivalence(ctx, qs, serveDNS(t, fakeAuth("192.0.2.1", nil, 0)), pc.LocalAddr().String()); err == nil {
		t.Error("want an error for a server that does not answer")
	}
}

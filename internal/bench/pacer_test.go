package bench

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestPacer(t *testing.T) {
	addr := serveDNS(t, fakeAuth("192.0.2.1", nil, 0))
	var packed [][]byte
	for _, name := range []string{"host-1.bench-0.test.", "nx-a.bench-0.test."} {
		b, err := (Query{Name: name, Type: dns.TypeA}).Msg().Pack()
		if err != nil {
			t.Fatal(err)
		}
		packed = append(packed, b)
	}
	p := &Pacer{Addr: addr, Rate: 2000, Queries: packed, Timeout: 500 * time.Millisecond, Max: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	r, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// About rate × duration queries, every one answered.
	if n := len(r.Sent); n < 800 || n > 1100 {
		t.Errorf("sent %d queries in 0.5s at 2000 qps", n)
	}
	all := r.Stats(nil, true)
	if all.Lost != 0 || all.N != len(r.Sent) || all.P50 <= 0 {
		t.Errorf("got %s", all)
	}
	first := r.Stats([]Window{{From: 0, To: 250 * time.Millisecond}}, false)
	rest := r.Stats([]Window{{From: 0, To: 250 * time.Millisecond}}, true)
	if first.N+rest.N != all.N || first.N < all.N/3 || rest.N < all.N/3 {
		t.Errorf("windows split %d into %d and %d", all.N, first.N, rest.N)
	}
	var b strings.Builder
	r.Timeline(&b, 100*time.Millisecond, []Window{{From: 0, To: 50 * time.Millisecond}})
	if lines := strings.Count(b.String(), "\n"); lines < 5 || !strings.HasPrefix(strings.Split(b.String(), "\n")[1], "*") {
		t.Errorf("timeline:\n%s", b.String())
	}
}

func TestPacerLoss(t *testing.T) {
	var drop atomic.Int64
	addr := serveDNS(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if drop.Add(1)%2 == 0 {
			return // no answer
		}
		fakeAuth("192.0.2.1", nil, 0)(w, r)
	})
	b, _ := (Query{Name: "host-1.bench-0.test.", Type: dns.TypeA}).Msg().Pack()
	p := &Pacer{Addr: addr, Rate: 1000, Queries: [][]byte{b}, Timeout: 200 * time.Millisecond, Max: 200 * time.Millisecond}
	r, err := p.Run(context.Background()) // stops at Max
	if err != nil {
		t.Fatal(err)
	}
	st := r.Stats(nil, true)
	if st.Lost < len(r.Sent)/3 || st.N < len(r.Sent)/3 {
		t.Errorf("every other query dropped: got %s of %d", st, len(r.Sent))
	}
}

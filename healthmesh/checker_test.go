package healthmesh

import (
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/meridiandns/meridian/pools"
)

func fastCheck(port int) Check {
	return Check{Protocol: "HTTP", Path: "/", Port: port, Interval: 100 * time.Millisecond,
		Timeout: 50 * time.Millisecond, Rise: 2, Fall: 2, Expect: []StatusRange{{Lo: 200, Hi: 399}}}
}

func portOf(t *testing.T, addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCheckerVerdicts(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.2:0", "ok")
	ep := Endpoint{Address: "127.0.0.2", Check: fastCheck(portOf(t, o.Addr))}
	v := &pools.Value{Value: "127.0.0.2", Endpoint: ep.ID()}
	c := NewChecker(Options{AssumeUp: true}, &Prober{}, slog.New(slog.DiscardHandler))
	defer c.Stop()
	c.Reconcile([]Endpoint{ep})
	if got := c.State(nil, v); got != pools.Healthy {
		t.Fatalf("fresh endpoint: got %v; want up (assumed)", got)
	}
	if !c.Settled() {
		t.Error("every endpoint up: not settled")
	}
	o.SetMode(testorigin.Status500)
	waitFor(t, "the verdict to go down", func() bool { return c.State(nil, v) == pools.Unhealthy })
	if c.Settled() {
		t.Error("an endpoint down: settled")
	}
	st := c.Status()
	if len(st) != 1 || st[0].Up || st[0].Last.Reason != "status 500" {
		t.Errorf("status: got %+v", st)
	}
	o.SetMode(testorigin.OK)
	waitFor(t, "the verdict to come back", func() bool { return c.State(nil, v) == pools.Healthy })
	if !c.Settled() {
		t.Error("the endpoint back up: not settled")
	}
	if got := c.State(nil, &pools.Value{Value: "x"}); got != pools.Unknown {
		t.Errorf("unprobed value: got %v; want unknown", got)
	}
}

func TestCheckerAssumeDown(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.2:0", "ok")
	ep := Endpoint{Address: "127.0.0.2", Check: fastCheck(portOf(t, o.Addr))}
	v := &pools.Value{Value: "127.0.0.2", Endpoint: ep.ID()}
	c := NewChecker(Options{AssumeUp: false}, &Prober{}, slog.New(slog.DiscardHandler))
	defer c.Stop()
	c.Reconcile([]Endpoint{ep})
	if got := c.State(nil, v); got != pools.Unhealthy {
		t.Fatalf("fresh endpoint with assume down: got %v", got)
	}
	waitFor(t, "rise successes", func() bool { return c.State(nil, v) == pools.Healthy })
}

func TestCheckerReconcile(t *testing.T) {
	before := runtime.NumGoroutine()
	a := testorigin.NewHTTP(t, "127.0.0.2:0", "ok")
	port := portOf(t, a.Addr)
	b := testorigin.NewHTTP(t, "127.0.0.3:"+strconv.Itoa(port), "ok")
	epA := Endpoint{Address: "127.0.0.2", Check: fastCheck(port)}
	epB := Endpoint{Address: "127.0.0.3", Check: fastCheck(port)}
	c := NewChecker(Options{AssumeUp: true}, &Prober{}, slog.New(slog.DiscardHandler))
	c.Reconcile([]Endpoint{epA})
	waitFor(t, "probes of a", func() bool { return a.Hits() >= 3 })
	a.SetMode(testorigin.Status500)
	va := &pools.Value{Endpoint: epA.ID()}
	waitFor(t, "a down", func() bool { return c.State(nil, va) == pools.Unhealthy })

	// a is kept with its state, b starts.
	c.Reconcile([]Endpoint{epA, epB, epA})
	if got := c.State(nil, va); got != pools.Unhealthy {
		t.Errorf("kept endpoint lost its state: got %v", got)
	}
	waitFor(t, "probes of b", func() bool { return b.Hits() >= 2 })
	if n := len(c.Status()); n != 2 {
		t.Errorf("endpoints: got %d; want 2 (duplicates probed once)", n)
	}

	// a is removed: no more probes of it.
	c.Reconcile([]Endpoint{epB})
	hits := a.Hits()
	time.Sleep(300 * time.Millisecond)
	if a.Hits() != hits {
		t.Errorf("removed endpoint still probed: %d → %d", hits, a.Hits())
	}
	if got := c.State(nil, va); got != pools.Unknown {
		t.Errorf("removed endpoint: got %v; want unknown", got)
	}
	c.Stop()
	a.Stop()
	b.Stop()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestEndpointsDedupe(t *testing.T) {
	chk := &pools.Check{Protocol: "HTTP", Port: 80, Path: "/"}
	mk := func(values ...string) *pools.Record {
		p := &pools.Pool{ID: "p"}
		for _, v := range values {
			p.Values = append(p.Values, &pools.Value{Value: v})
		}
		r := &pools.Record{Pools: []*pools.Pool{p}}
		r.SetCheck(chk)
		return r
	}
	up := &pools.Record{Pools: []*pools.Pool{{ID: "p", Values: []*pools.Value{{Value: "192.0.2.9", Status: pools.Up}}}}}
	up.SetCheck(chk)
	eps := Endpoints([]*pools.Record{mk("192.0.2.1", "192.0.2.2"), mk("192.0.2.2"), up, {}})
	if len(eps) != 2 || eps[0].Address != "192.0.2.1" || eps[1].Address != "192.0.2.2" {
		t.Errorf("got %v; want each obey value once, status up not probed", eps)
	}
}

// TestCheckerProbesInBatches: probes start on the tick grid, so that a
// node probing many endpoints wakes a few times a second for all that are
// due rather than once per probe (the CPU BenchmarkCheckerHTTP measures);
// each endpoint still keeps its interval.
func TestCheckerProbesInBatches(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.2:0", "ok")
	port := portOf(t, o.Addr)
	const iv = time.Second
	tick := probeTick(iv)
	var eps []Endpoint
	for i := range 20 {
		chk := fastCheck(port)
		chk.Path, chk.Interval, chk.Timeout = "/e"+strconv.Itoa(i), iv, 500*time.Millisecond
		eps = append(eps, Endpoint{Address: "127.0.0.2", Check: chk})
	}
	c := NewChecker(Options{AssumeUp: true}, &Prober{}, slog.New(slog.DiscardHandler))
	defer c.Stop()
	c.Reconcile(eps)
	starts := map[string][]time.Time{}
	waitFor(t, "two probes of every endpoint", func() bool {
		done := 0
		for _, st := range c.Status() {
			id := st.Endpoint.ID()
			if at := st.Last.At; !at.IsZero() && (len(starts[id]) == 0 || !starts[id][len(starts[id])-1].Equal(at)) {
				starts[id] = append(starts[id], at)
			}
			if len(starts[id]) >= 2 {
				done++
			}
		}
		return done == len(eps)
	})
	// Timers fire late, never early, and later still on a loaded machine:
	// look at medians. Unbatched, the offsets would spread over the tick.
	var offs, gaps []time.Duration
	for _, at := range starts {
		for _, a := range at {
			offs = append(offs, a.Sub(a.Truncate(tick)))
		}
		gaps = append(gaps, at[1].Sub(at[0]))
	}
	if m := median(offs); m > tick/4 {
		t.Errorf("probes started a median %v after a tick (%v); want them started on the %v grid", m, offs, tick)
	}
	if m := median(gaps); m < iv-tick/2 || m > iv+tick/2 {
		t.Errorf("probes a median %v apart (%v); want the interval, %v", m, gaps, iv)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestOnTick(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ in, want time.Duration }{
		{0, 0}, {time.Millisecond, 100 * time.Millisecond}, {100 * time.Millisecond, 100 * time.Millisecond},
		{101 * time.Millisecond, 200 * time.Millisecond},
	} {
		if got := onTick(base.Add(c.in), 100*time.Millisecond).Sub(base); got != c.want {
			t.Errorf("onTick(+%v): got +%v; want +%v", c.in, got, c.want)
		}
	}
	if got := probeTick(5 * time.Second); got != 100*time.Millisecond {
		t.Errorf("probeTick(5s) = %v; want 100ms", got)
	}
	if got := probeTick(200 * time.Millisecond); got != 20*time.Millisecond {
		t.Errorf("probeTick(200ms) = %v; want 20ms", got)
	}
}

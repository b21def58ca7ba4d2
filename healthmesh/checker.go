package healthmesh

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandns/meridian/pools"
)

// Options configures a Checker.
type Options struct {
	AssumeUp    bool // verdict of an endpoint before its first fall failures (default true)
	Concurrency int  // probes in flight at once; <= 0 means 64
}

// Checker probes endpoints on a schedule and publishes their verdicts. It
// implements pools.Health: the query path reads one atomic pointer to an
// immutable verdict table, never waiting on probing.
type Checker struct {
	log    *slog.Logger
	prober *Prober
	opts   Options
	sem    chan struct{}
	// metrics counts probes by endpoint; a vector is cheap at probe rates.
	metrics *probeMetrics

	verdicts atomic.Pointer[verdictTable]

	mu      sync.Mutex // guards running and every tracker in it
	running map[string]*runner
	wg      sync.WaitGroup // one per runner goroutine

	// notify, when set (by a Node, before Reconcile), receives this node's
	// verdict for an endpoint after every probe and when probing starts;
	// changed says the verdict flipped. Called without locks held.
	notify func(id string, up bool, since time.Time, changed bool)
}

// verdictTable is immutable once published.
type verdictTable struct {
	state map[string]pools.State // by endpoint ID
	down  int                    // how many are Unhealthy
}

// set records endpoint id's verdict.
func (t *verdictTable) set(id string, up bool) {
	if up {
		t.state[id] = pools.Healthy
	} else {
		t.state[id] = pools.Unhealthy
		t.down++
	}
}

// runner is one scheduled endpoint.
type runner struct {
	ep     Endpoint
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop has returned
	track  *tracker
	stats  endpointMetrics
}

// NewChecker returns a Checker with no endpoints.
func NewChecker(o Options, p *Prober, log *slog.Logger) *Checker {
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if p == nil {
		p = &Prober{}
	}
	c := &Checker{log: log, prober: p, opts: o, sem: make(chan struct{}, o.Concurrency), running: map[string]*runner{},
		metrics: newProbeMetrics()}
	c.verdicts.Store(&verdictTable{state: map[string]pools.State{}})
	return c
}

// Endpoints lists what the records' health checks probe, each (value,
// check) pair once.
func Endpoints(records []*pools.Record) []Endpoint {
	seen := map[string]bool{}
	var out []Endpoint
	for _, r := range records {
		if r.Check == nil {
			continue
		}
		for _, p := range r.Pools {
			for _, v := range p.Values {
				if v.Endpoint == "" || seen[v.Endpoint] {
					continue
				}
				seen[v.Endpoint] = true
				out = append(out, Endpoint{Address: v.Value, Check: *r.Check})
			}
		}
	}
	return out
}

// Reconcile makes the scheduled endpoints equal to eps: endpoints that did
// not change keep running with their state, new ones start, removed ones
// stop (and their goroutines are gone when Reconcile returns).
func (c *Checker) Reconcile(eps []Endpoint) {
	want := make(map[string]Endpoint, len(eps))
	for _, e := range eps {
		want[e.ID()] = e
	}
	c.mu.Lock()
	var stopped []*runner
	for id, r := range c.running {
		if _, ok := want[id]; !ok {
			r.cancel()
			stopped = append(stopped, r)
			delete(c.running, id)
		}
	}
	now := time.Now()
	started := 0
	for id, e := range want {
		if _, ok := c.running[id]; ok {
			continue
		}
		started++
		ctx, cancel := context.WithCancel(context.Background())
		r := &runner{ep: e, cancel: cancel, done: make(chan struct{}), track: newTracker(c.opts.AssumeUp, now)}
		c.running[id] = r
		c.wg.Add(1)
		go c.loop(ctx, id, r)
	}
	c.publishLocked()
	// What a new runner assumes, read now: its probe goroutine changes
	// the tracker under c.mu from here on.
	type assumed struct {
		id    string
		up    bool
		since time.Time
	}
	var fresh []assumed
	for id := range want {
		if r := c.running[id]; r.track.probes == 0 {
			fresh = append(fresh, assumed{id, r.track.up, r.track.since})
		}
	}
	c.mu.Unlock()
	for _, r := range stopped {
		<-r.done
		c.metrics.forget(r.ep.ID())
	}
	if c.notify != nil {
		for _, a := range fresh {
			c.notify(a.id, a.up, a.since, false)
		}
	}
	if started+len(stopped) > 0 {
		c.log.Info("health checks changed", "endpoints", len(want), "started", started, "stopped", len(stopped))
	}
}

// Stop stops every probe loop and waits for them.
func (c *Checker) Stop() {
	c.mu.Lock()
	for id, r := range c.running {
		r.cancel()
		delete(c.running, id)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// loop probes one endpoint every interval, starting at a random offset
// within the first interval so that probes spread out.
func (c *Checker) loop(ctx context.Context, id string, r *runner) {
	defer c.wg.Done()
	defer close(r.done)
	iv := r.ep.Check.Interval
	if iv <= 0 {
		iv = 5 * time.Second
	}
	tick := probeTick(iv)
	due := onTick(time.Now().Add(rand.N(iv)), tick)
	timer := time.NewTimer(time.Until(due))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		res := c.prober.Probe(ctx, r.ep)
		<-c.sem
		if ctx.Err() != nil {
			return
		}
		c.record(id, r, res)
		if due = onTick(due.Add(iv), tick); time.Until(due) < 0 { // the probe took longer than the interval
			due = onTick(time.Now(), tick)
		}
		timer.Reset(time.Until(due))
	}
}

// probeTick is the grid probes are started on: every endpoint keeps its
// own interval and phase, but probes start only on multiples of the tick,
// so that a node probing many endpoints wakes a few times a second for a
// batch of probes instead of once per probe. Waking an idle process costs
// more CPU than the probe itself on a loopback origin.
func probeTick(iv time.Duration) time.Duration {
	return max(time.Millisecond, min(100*time.Millisecond, iv/10))
}

// onTick is the first multiple of tick at or after t.
func onTick(t time.Time, tick time.Duration) time.Time {
	if r := t.Truncate(tick); r.Before(t) {
		return r.Add(tick)
	}
	return t
}

// record feeds a result to the endpoint's tracker, publishes a new
// verdict table when the verdict changed, and tells the node.
func (c *Checker) record(id string, r *runner, res Result) {
	c.mu.Lock()
	if c.running[id] != r {
		c.mu.Unlock()
		return // removed while probing
	}
	if r.stats.latency == nil { // looked up at the first probe, under c.mu, so never after forget
		r.stats = c.metrics.endpoint(r.ep)
	}
	r.stats.observe(res)
	wasUp := r.track.up
	changed := r.track.observe(res, r.ep.Check.Rise, r.ep.Check.Fall)
	up, since := r.track.up, r.track.since
	if changed {
		c.log.Info("probe verdict changed", "endpoint", r.ep.String(), "from", upDown(wasUp), "to", upDown(up), "reason", res.Reason)
		c.publishLocked()
	}
	c.mu.Unlock()
	if c.notify != nil {
		c.notify(id, up, since, changed)
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func (c *Checker) publishLocked() {
	t := &verdictTable{state: make(map[string]pools.State, len(c.running))}
	for id, r := range c.running {
		t.set(id, r.track.up)
	}
	c.verdicts.Store(t)
}

// State implements pools.Health.
func (c *Checker) State(_ *pools.Record, v *pools.Value) pools.State {
	if v.Endpoint == "" {
		return pools.Unknown
	}
	return c.verdicts.Load().state[v.Endpoint]
}

// Drained implements pools.Health; operator drains come with the mesh.
func (c *Checker) Drained(*pools.Record, *pools.Pool, *pools.Value) bool { return false }

// Settled implements pools.Settled: no endpoint is down.
func (c *Checker) Settled() bool { return c.verdicts.Load().down == 0 }

// EndpointStatus is what is known about one endpoint, for people.
type EndpointStatus struct {
	Endpoint Endpoint
	Up       bool
	Since    time.Time
	Last     Result // zero before the first probe
	Probes   int
}

// Status returns every scheduled endpoint's state, sorted by name.
func (c *Checker) Status() []EndpointStatus {
	c.mu.Lock()
	out := make([]EndpointStatus, 0, len(c.running))
	for _, r := range c.running {
		out = append(out, EndpointStatus{Endpoint: r.ep, Up: r.track.up, Since: r.track.since, Last: r.track.last, Probes: r.track.probes})
	}
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Endpoint.ID() < out[j].Endpoint.ID() })
	return out
}

package explain

import (
	"context"
	"strings"
	"sync"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/pools"
)

// Live probes every endpoint involved once, now, as a tool without a
// running node can. Down overrides the probes: a listed value counts as
// failing its checks, a listed "pool:ID" as drained.
type Live struct {
	Down   []string
	Prober *healthmesh.Prober // nil: a default prober
}

// Check implements Verdicts.
func (l Live) Check(ctx context.Context, eps []healthmesh.Endpoint) Checked {
	h := simulated{values: map[string]bool{}, pools: map[string]bool{}, probed: map[string]healthmesh.Result{}}
	for _, d := range l.Down {
		if id, ok := strings.CutPrefix(d, "pool:"); ok {
			h.pools[id] = true
		} else {
			h.values[d] = true
		}
	}
	p := l.Prober
	if p == nil {
		p = &healthmesh.Prober{}
	}
	probeAll(ctx, p, eps, h.probed)
	out := Checked{Source: SourceProbe, Down: l.Down, Health: h}
	for _, e := range eps {
		r := h.probed[e.ID()]
		out.Endpoints = append(out.Endpoints, Endpoint{ID: e.ID(), Name: e.String(), Up: r.OK, Probed: r.At,
			Reason: r.Reason, Latency: r.Latency})
	}
	return out
}

// simulated is the Health of a live explain: the probes' results with the
// Down overrides on top.
type simulated struct {
	values map[string]bool
	pools  map[string]bool
	probed map[string]healthmesh.Result // by endpoint ID
}

func (s simulated) State(_ *pools.Record, v *pools.Value) pools.State {
	if s.values[v.Value] || s.values[strings.TrimSuffix(v.Value, ".")] {
		return pools.Unhealthy
	}
	if r, ok := s.probed[v.Endpoint]; ok {
		if r.OK {
			return pools.Healthy
		}
		return pools.Unhealthy
	}
	return pools.Unknown
}

func (s simulated) Drained(_ *pools.Record, p *pools.Pool, _ *pools.Value) bool {
	return p != nil && s.pools[p.ID]
}

// probeAll probes each endpoint once, concurrently.
func probeAll(ctx context.Context, p *healthmesh.Prober, eps []healthmesh.Endpoint, into map[string]healthmesh.Result) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, e := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.Probe(ctx, e)
			mu.Lock()
			into[e.ID()] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
}

// Node reads a running node's verdicts and drains: what it would answer
// now. It never probes.
type Node struct {
	N *healthmesh.Node
}

// Check implements Verdicts.
func (n Node) Check(_ context.Context, eps []healthmesh.Endpoint) Checked {
	out := Checked{Source: SourceNode, Health: n.N}
	if len(eps) == 0 {
		return out
	}
	st := n.N.Status()
	byID := make(map[string]healthmesh.EndpointState, len(st.Endpoints))
	for _, e := range st.Endpoints {
		byID[e.ID] = e
	}
	drained := map[string]bool{}
	for _, d := range st.Drains {
		drained[d.Target] = true
	}
	for _, e := range eps {
		ep := Endpoint{ID: e.ID(), Name: e.String(), Up: true,
			Drained: drained[e.Address] || drained[strings.TrimSuffix(e.Address, ".")]}
		// An endpoint not scheduled yet (a reload in flight) has no
		// verdict; answers treat it as up, and so does the report.
		if s, ok := byID[e.ID()]; ok {
			ep.Up, ep.Since, ep.Observations = s.Up, s.Since, s.Observations
			if s.LastProbe != nil {
				ep.Reason, ep.Latency = s.LastProbe.Reason, s.LastProbe.Latency
			}
		}
		out.Endpoints = append(out.Endpoints, ep)
	}
	return out
}

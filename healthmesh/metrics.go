package healthmesh

import (
	"github.com/meridiandns/meridian/pools"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// Probes are seconds apart, so the per-probe series are ordinary vectors;
// everything else is read from the node's state at scrape time.

// probeMetrics are the prober's series, by endpoint. An endpoint's series
// go when it stops being probed, so cardinality follows the zones.
type probeMetrics struct {
	probes  *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

func newProbeMetrics() *probeMetrics {
	return &probeMetrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_health_probes_total",
			Help: "Health probes run by this node, by endpoint and result (ok, fail).",
		}, []string{"id", "endpoint", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meridian_health_probe_duration_seconds",
			Help:    "Time health probes took to reach their result, by endpoint.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"id", "endpoint"}),
	}
}

// endpointMetrics are one endpoint's series, looked up once when its
// probing starts rather than by label values on every probe.
type endpointMetrics struct {
	ok, fail prometheus.Counter
	latency  prometheus.Observer
}

func (m *probeMetrics) endpoint(ep Endpoint) endpointMetrics {
	id, name := ep.ID(), ep.String()
	return endpointMetrics{
		ok:      m.probes.WithLabelValues(id, name, "ok"),
		fail:    m.probes.WithLabelValues(id, name, "fail"),
		latency: m.latency.WithLabelValues(id, name),
	}
}

func (e endpointMetrics) observe(r Result) {
	if r.OK {
		e.ok.Inc()
	} else {
		e.fail.Inc()
	}
	e.latency.Observe(r.Latency.Seconds())
}

func (m *probeMetrics) forget(id string) {
	m.probes.DeletePartialMatch(prometheus.Labels{"id": id})
	m.latency.DeletePartialMatch(prometheus.Labels{"id": id})
}

var (
	endpointUpDesc = prometheus.NewDesc("meridian_health_endpoint_up",
		"The verdict answers obey, by endpoint: 1 up, 0 down.", []string{"id", "endpoint"}, nil)
	membersDesc = prometheus.NewDesc("meridian_mesh_members",
		"Mesh members this node knows, by region and state (alive, suspect, dead, left).", []string{"region", "state"}, nil)
	meshMessagesDesc = prometheus.NewDesc("meridian_mesh_messages_total",
		"Gossip messages (observations and drains) sent and received, by direction.", []string{"direction"}, nil)
	meshBytesDesc = prometheus.NewDesc("meridian_mesh_bytes_total",
		"Bytes of gossip messages sent and received, by direction.", []string{"direction"}, nil)
	meshRefusedDesc = prometheus.NewDesc("meridian_mesh_refused_total",
		"Peer messages that decoded but were refused, by reason: signature (not signed by the key in the named member's metadata, or for another region than it says), unsigned (no member of that name, or no key), stale (older than what is held), list (an endpoint list beyond the bounds or not matching its hash), queue (the node's loop was behind; push/pull brings it again), name_conflict (a member announced a name already used from another address).",
		[]string{"reason"}, nil)
	meshUnauthDesc = prometheus.NewDesc("meridian_mesh_unauthenticated_packets_total",
		"Packets and streams to the gossip port refused because they were not sealed with the mesh key (mesh.keyfile).", nil, nil)
	meshMalformedDesc = prometheus.NewDesc("meridian_mesh_malformed_messages_total",
		"Gossip messages, state exchanges and member metadata ignored (in whole or part) because they could not be decoded or were malformed.", nil, nil)
	zoneDriftDesc = prometheus.NewDesc("meridian_mesh_zone_drift",
		"Live mesh members (this node included) whose zone set has differed from the majority's for longer than mesh.drift_grace, as this node sees them.", nil, nil)
	zoneDriftSelfDesc = prometheus.NewDesc("meridian_mesh_zone_drift_self",
		"1 while this node's own zone set has differed from the majority's for longer than mesh.drift_grace, else 0.", nil, nil)
	drainsDesc = prometheus.NewDesc("meridian_drains_active",
		"Operator drains in force.", nil, nil)
	drainsRefusedDesc = prometheus.NewDesc("meridian_mesh_drains_refused_total",
		"Well-formed drains from peers refused, by reason: future (stamped more than a minute ahead of this node's clock), limit (a new target beyond the most a node holds).", []string{"reason"}, nil)
)

// drainRefusals are the reasons a peer's drain is refused for, each
// reported from 0.
var drainRefusals = []string{"future", "limit"}

// memberStates are the states members are reported in, each with a
// series per region, so that a region whose members all died shows 0
// alive rather than nothing.
var memberStates = []string{"alive", "suspect", "dead", "left"}

// Collector returns the collector of the node's health and mesh metrics.
func (n *Node) Collector() prometheus.Collector { return nodeCollector{n} }

type nodeCollector struct{ n *Node }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	c.n.checker.metrics.probes.Describe(ch)
	c.n.checker.metrics.latency.Describe(ch)
	c.n.verdictChanges.Describe(ch)
	for _, d := range []*prometheus.Desc{endpointUpDesc, membersDesc, meshMessagesDesc, meshBytesDesc, meshMalformedDesc, meshUnauthDesc, meshRefusedDesc, drainsDesc, drainsRefusedDesc, zoneDriftDesc, zoneDriftSelfDesc} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	n.checker.metrics.probes.Collect(ch)
	n.checker.metrics.latency.Collect(ch)
	n.verdictChanges.Collect(ch)

	t := n.verdicts.Load()
	for _, ep := range *n.eps.Load() {
		id := ep.ID()
		up := 0.0
		if t.state[id] != pools.Unhealthy {
			up = 1 // no verdict yet: answers treat it as up
		}
		ch <- prometheus.MustNewConstMetric(endpointUpDesc, prometheus.GaugeValue, up, id, ep.String())
	}
	n.mu.Lock()
	for _, r := range drainRefusals {
		ch <- prometheus.MustNewConstMetric(drainsRefusedDesc, prometheus.CounterValue, float64(n.refused[r]), r)
	}
	n.mu.Unlock()

	var members []Member
	var in, out, msgsIn, msgsOut, bad, unauth int64
	if n.mesh != nil {
		members = n.mesh.members()
		in, out = n.mesh.bytesIn.Load(), n.mesh.bytesOut.Load()
		msgsIn, msgsOut = n.mesh.msgsIn.Load(), n.mesh.msgsOut.Load()
		bad = n.mesh.badMsgs.Load()
		unauth = n.mesh.unauth.total.Load()
	} else {
		members = []Member{{Name: n.name, Region: n.region, State: "alive"}}
	}
	counts := map[[2]string]int{}
	regions := map[string]bool{}
	for _, m := range members {
		counts[[2]string{m.Region, m.State}]++
		regions[m.Region] = true
	}
	rs := make([]string, 0, len(regions))
	for r := range regions {
		rs = append(rs, r)
	}
	sort.Strings(rs)
	for _, r := range rs {
		for _, s := range memberStates {
			ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(counts[[2]string{r, s}]), r, s)
		}
	}
	ch <- prometheus.MustNewConstMetric(meshMessagesDesc, prometheus.CounterValue, float64(msgsOut), "sent")
	ch <- prometheus.MustNewConstMetric(meshMessagesDesc, prometheus.CounterValue, float64(msgsIn), "received")
	ch <- prometheus.MustNewConstMetric(meshBytesDesc, prometheus.CounterValue, float64(out), "sent")
	ch <- prometheus.MustNewConstMetric(meshBytesDesc, prometheus.CounterValue, float64(in), "received")
	ch <- prometheus.MustNewConstMetric(meshMalformedDesc, prometheus.CounterValue, float64(bad))
	ch <- prometheus.MustNewConstMetric(meshUnauthDesc, prometheus.CounterValue, float64(unauth))
	r := &n.view.refused
	var conflicts int64
	if n.mesh != nil {
		conflicts = n.mesh.conflicts.Load()
	}
	for _, c := range []struct {
		reason string
		v      float64
	}{{"signature", float64(r.badSig.Load())}, {"unsigned", float64(r.unsigned.Load())}, {"stale", float64(r.stale.Load())},
		{"list", float64(r.overLimit.Load())}, {"queue", float64(n.dropped.Load())}, {"name_conflict", float64(conflicts)}} {
		ch <- prometheus.MustNewConstMetric(meshRefusedDesc, prometheus.CounterValue, c.v, c.reason)
	}
	ch <- prometheus.MustNewConstMetric(drainsDesc, prometheus.GaugeValue, float64(len(n.Drains())))
	drifting, self := 0.0, 0.0
	if v := n.drift.Load(); v != nil {
		drifting = float64(v.drifting)
		if v.members[n.name].drifting {
			self = 1
		}
	}
	ch <- prometheus.MustNewConstMetric(zoneDriftDesc, prometheus.GaugeValue, drifting)
	ch <- prometheus.MustNewConstMetric(zoneDriftSelfDesc, prometheus.GaugeValue, self)
}

// newVerdictChanges is the counter of verdict flips, by endpoint and the
// verdict flipped to.
func newVerdictChanges() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridian_health_verdict_changes_total",
		Help: "Times an endpoint's verdict (the one answers obey) changed, by endpoint and new verdict (up, down).",
	}, []string{"id", "endpoint", "to"})
}

package daemon

import (
	"net/netip"

	"github.com/meridiandns/meridian/internal/api"
	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Records lists the dynamic records of the set being served, with the
// verdicts and drains answers obey right now, where each rule's clients
// are answered from, and what is served.
func (b backend) Records() []api.Record {
	h := b.d.health
	drained := map[string]bool{}
	for _, dr := range h.Drains() {
		drained[dr.Target] = true
	}
	counts := b.d.decisionCounts()
	var out []api.Record
	for _, z := range b.d.loader.Current().Zones() {
		for _, zr := range z.Records {
			if r := zr.Policy; r != nil {
				rec := record(h, r, drained)
				rec.Zone = z.Origin
				rec.Decisions = counts[decisionKey{r.Name, rec.Type}]
				out = append(out, rec)
			}
		}
	}
	return out
}

// record is r as the status shows it.
func record(h pools.Health, r *pools.Record, drained map[string]bool) api.Record {
	rec := api.Record{Name: r.Name, Type: dns.TypeToString[r.Type], Outcome: api.OutcomePool}
	serviceable := map[string]bool{} // pool id: has a serviceable value
	for _, p := range r.Pools {
		ps := api.Pool{ID: p.ID, Fallback: p.Fallback, Drained: drained["pool:"+p.ID]}
		for _, v := range p.Values {
			vs := valueState(h, r, p, v)
			if vs.Serviceable {
				ps.Serviceable++
			}
			ps.Values = append(ps.Values, vs)
		}
		serviceable[p.ID] = ps.Serviceable > 0
		rec.Pools = append(rec.Pools, ps)
	}
	served := map[string]bool{} // pool id: answers some rule's clients
	for _, ru := range r.Rules {
		rs := api.Rule{Pool: ru.PoolID, Subnets: prefixes(ru.Subnets), Geos: geoCodes(ru)}
		rs.Outcome, rs.ServedBy = ruleOutcome(r, ru, serviceable)
		if rs.ServedBy != "" {
			served[rs.ServedBy] = true
		}
		if r.Nearest && ru.CatchAll() && rs.Outcome != api.OutcomeFailOpen {
			for id := range r.Locations {
				served[id] = served[id] || serviceable[id]
			}
		}
		if worse(rs.Outcome, rec.Outcome) {
			rec.Outcome = rs.Outcome
		}
		rec.Rules = append(rec.Rules, rs)
	}
	for i := range rec.Pools {
		p := &rec.Pools[i]
		p.Served = served[p.ID]
		for j := range p.Values {
			p.Values[j].Served = p.Served && p.Values[j].Serviceable
		}
	}
	// The record's own values answer the clients whose rules fail open.
	// (The last rule matches everyone, as validation requires, so no
	// client is left without a rule.)
	failOpen := rec.Outcome == api.OutcomeFailOpen
	for _, v := range r.Values {
		vs := valueState(h, r, nil, v)
		vs.Served = failOpen && vs.Serviceable
		rec.Values = append(rec.Values, vs)
	}
	return rec
}

// ruleOutcome is where the clients of rule ru are answered from, given the
// pools with a serviceable value: the pool Select would pick, walking the
// fallback chain, and how degraded that is.
func ruleOutcome(r *pools.Record, ru *pools.Rule, serviceable map[string]bool) (outcome, pool string) {
	if r.Nearest && ru.CatchAll() && len(r.Locations) > 0 {
		// The closest located pool with a serviceable value answers; it
		// depends on the client, so only how degraded it can be is known.
		up, down := 0, 0
		for id := range r.Locations {
			if serviceable[id] {
				up++
			} else {
				down++
			}
		}
		switch {
		case up == 0:
			return api.OutcomeFailOpen, ""
		case down > 0:
			return api.OutcomeNearest, ""
		}
		return api.OutcomePool, ""
	}
	outcome = api.OutcomePool
	seen := map[string]bool{}
	for p := r.Pool(ru.PoolID); p != nil && !seen[p.ID]; p = r.Pool(p.Fallback) {
		if serviceable[p.ID] {
			return outcome, p.ID
		}
		seen[p.ID] = true
		outcome = api.OutcomeFallback
	}
	return api.OutcomeFailOpen, ""
}

// worse reports whether outcome a is more degraded than b.
func worse(a, b string) bool {
	rank := map[string]int{api.OutcomePool: 0, api.OutcomeNearest: 1, api.OutcomeFallback: 2, api.OutcomeFailOpen: 3}
	return rank[a] > rank[b]
}

// valueState is v's verdict and whether answers may use it, by the rules
// pools.Select applies: a drain beats the status, which beats the verdict.
// A record's own value (p nil) is serviceable unless drained: fail-open
// answers with it whatever its health.
func valueState(h pools.Health, r *pools.Record, p *pools.Pool, v *pools.Value) api.Value {
	st := h.State(r, v)
	out := api.Value{Value: v.Value, Weight: v.Weight, Status: v.Status.String(), Endpoint: v.Endpoint,
		Verdict: st.String(), Drained: h.Drained(r, p, v)}
	switch {
	case out.Drained:
	case p == nil || v.Status == pools.Up:
		out.Serviceable = true
	case v.Status == pools.Down:
	default:
		out.Serviceable = st != pools.Unhealthy
	}
	return out
}

func prefixes(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func geoCodes(ru *pools.Rule) []string {
	out := make([]string, len(ru.Geos))
	for i, g := range ru.Geos {
		out[i] = g.String()
	}
	return out
}

// decisionKey names a dynamic record in the decision counts.
type decisionKey struct{ name, typ string }

// decisionsMetric is the server's counter of dynamic record decisions.
const decisionsMetric = "meridian_dns_dynamic_decisions_total"

// decisionCounts reads the server's decision counters, as /metrics serves
// them, summed by record and outcome.
func (d *Daemon) decisionCounts() map[decisionKey]map[string]uint64 {
	out := map[decisionKey]map[string]uint64{}
	fams, err := d.decisions.Gather()
	if err != nil {
		d.log.Debug("reading the decision counters", "err", err)
	}
	for _, f := range fams {
		if f.GetName() != decisionsMetric {
			continue
		}
		for _, m := range f.GetMetric() {
			var k decisionKey
			var outcome string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "record":
					k.name = l.GetValue()
				case "type":
					k.typ = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			if out[k] == nil {
				out[k] = map[string]uint64{}
			}
			out[k][outcome] += uint64(m.GetCounter().GetValue())
		}
	}
	return out
}

// newDecisionRegistry is a registry of the server's query metrics alone,
// which the status reads the decision counts from.
func newDecisionRegistry(c prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return reg
}

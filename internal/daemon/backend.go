package daemon

import (
	"context"
	"net/netip"
	"time"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/api"
	"github.com/meridiandns/meridian/internal/explain"
	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
)

// backend serves the API from the daemon's parts.
type backend struct{ d *Daemon }

func (b backend) Status() healthmesh.Status { return b.d.health.Status() }

func (b backend) Reload() api.ReloadStatus {
	ps, at := b.d.loader.LastReload()
	dir, pending := b.d.loader.Source()
	r := api.ReloadStatus{At: at, OK: len(ps) == 0, Problems: []string{}, Zones: len(b.d.loader.Current().Zones()),
		Directory: dir.String(), Pending: append([]string{}, pending...)}
	for _, p := range ps {
		r.Problems = append(r.Problems, p.String())
	}
	return r
}

// ReloadConfig reloads as SIGHUP does and reports the zone reload it
// ended with (or a newer one, when the file watcher reloaded meanwhile).
func (b backend) ReloadConfig() (api.ReloadStatus, error) {
	if err := b.d.ReloadConfig(); err != nil {
		return api.ReloadStatus{}, err
	}
	return b.Reload(), nil
}

// geoReader is the GeoIP reader in force; nil without databases.
func (d *Daemon) geoReader() *geo.Reader {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.geo
}

// Explain answers as the node would now: the set being served, the GeoIP
// databases in force, the mesh verdicts and drains. It never probes.
func (b backend) Explain(ctx context.Context, q explain.Query) (*explain.Report, error) {
	return explain.Run(ctx, b.d.loader.Current(), b.d.geoReader(), explain.Node{N: b.d.health}, q), nil
}

// Records lists the dynamic records of the set being served, with the
// verdicts and drains answers obey right now.
func (b backend) Records() []api.Record {
	h := b.d.health
	drained := map[string]bool{}
	for _, dr := range h.Drains() {
		drained[dr.Target] = true
	}
	var out []api.Record
	for _, z := range b.d.loader.Current().Zones() {
		for _, zr := range z.Records {
			r := zr.Policy
			if r == nil {
				continue
			}
			rec := api.Record{Name: r.Name, Zone: z.Origin, Type: dns.TypeToString[r.Type]}
			for _, ru := range r.Rules {
				rec.Rules = append(rec.Rules, api.Rule{Pool: ru.PoolID, Subnets: prefixes(ru.Subnets), Geos: geoCodes(ru)})
			}
			for _, p := range r.Pools {
				ps := api.Pool{ID: p.ID, Fallback: p.Fallback, Drained: drained["pool:"+p.ID]}
				for _, v := range p.Values {
					vs := valueState(h, r, p, v)
					if vs.Serviceable {
						ps.Serviceable++
					}
					ps.Values = append(ps.Values, vs)
				}
				rec.Pools = append(rec.Pools, ps)
			}
			for _, v := range r.Values {
				rec.Values = append(rec.Values, valueState(h, r, nil, v))
			}
			out = append(out, rec)
		}
	}
	return out
}

// valueState is v's verdict and whether answers may use it, by the rules
// pools.Select applies: a drain beats the status, which beats the verdict.
func valueState(h pools.Health, r *pools.Record, p *pools.Pool, v *pools.Value) api.Value {
	st := h.State(r, v)
	out := api.Value{Value: v.Value, Weight: v.Weight, Status: v.Status.String(), Endpoint: v.Endpoint,
		Verdict: st.String(), Drained: h.Drained(r, p, v)}
	switch {
	case out.Drained:
	case v.Status == pools.Up:
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

func (b backend) Drains() []healthmesh.Drain { return b.d.health.Drains() }

// SetDrain applies the drain in memory and on the mesh even when it cannot
// be written to the state dir; that error is logged and kept for status.
func (b backend) SetDrain(target string, d time.Duration, reason, by string) (healthmesh.Drain, error) {
	dr, _ := b.d.health.SetDrain(target, d, reason, by, false)
	return dr, nil
}

func (b backend) Undrain(target, by string) error {
	b.d.health.SetDrain(target, 0, "", by, true)
	return nil
}

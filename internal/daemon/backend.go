package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/api"
	"github.com/meridiandns/meridian/internal/explain"
	"github.com/meridiandns/meridian/zones"
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

func (b backend) Drains() []healthmesh.Drain { return b.d.health.Drains() }

// SetDrain applies the drain in memory and on the mesh even when it cannot
// be written to the state dir; that error is logged and kept for status.
// Without force, a target that names no value or pool of the zones served
// is refused, with the closest that do.
func (b backend) SetDrain(target string, d time.Duration, reason, by string, force bool) (healthmesh.Drain, error) {
	t, err := healthmesh.CanonicalTarget(target)
	if err != nil {
		return healthmesh.Drain{}, apiError(err)
	}
	if !force {
		if err := checkServed(t, b.d.loader.Current()); err != nil {
			return healthmesh.Drain{}, err
		}
	}
	dr, err := b.d.health.SetDrain(t, d, reason, by, false)
	if dr.Target == "" {
		return dr, apiError(err) // refused; a failed write only shows in status
	}
	return dr, nil
}

// Undrain refuses a target with no drain in force, naming the drained
// targets it may have been meant as.
func (b backend) Undrain(target, by string) error {
	dr, err := b.d.health.SetDrain(target, 0, "", by, true)
	if dr.Target != "" {
		return nil
	}
	if errors.Is(err, healthmesh.ErrNotDrained) {
		err = kindError{errors.New(err.Error() + drainedHint(target, b.d.health.Drains())), err}
	}
	return apiError(err)
}

// drainedHint follows a refused undo: the drains in force that target is
// close to, else the drains in force when they are few, else nothing.
func drainedHint(target string, ds []healthmesh.Drain) string {
	if len(ds) == 0 {
		return "; nothing is drained"
	}
	t, _ := healthmesh.CanonicalTarget(target)
	known := make([]string, len(ds))
	for i, d := range ds {
		known[i] = d.Target
	}
	if near := healthmesh.CloseTargets(t, known, closeShown); len(near) > 0 {
		return "; did you mean " + strings.Join(near, ", ") + "?"
	}
	if len(known) <= listShown {
		return "; drained now: " + strings.Join(known, ", ")
	}
	return ""
}

// closeShown is how many close matches a refused target's error names;
// listShown is how many known targets it lists when none is close.
const (
	closeShown = 3
	listShown  = 8
)

// checkServed refuses a canonical drain target that no dynamic record of
// set names: a value (of a pool, or the record's own) or a pool id.
func checkServed(target string, set *zones.Set) error {
	seen := map[string]bool{}
	var known []string
	for _, z := range set.Zones() {
		for _, zr := range z.Records {
			r := zr.Policy
			if r == nil {
				continue
			}
			add := func(t string) bool {
				if !seen[t] {
					seen[t] = true
					known = append(known, t)
				}
				return t == target
			}
			for _, v := range r.Values {
				if add(strings.TrimSuffix(v.Value, ".")) {
					return nil
				}
			}
			for _, p := range r.Pools {
				if add("pool:" + p.ID) {
					return nil
				}
				for _, v := range p.Values {
					if add(strings.TrimSuffix(v.Value, ".")) {
						return nil
					}
				}
			}
		}
	}
	what := "value or pool:ID"
	isPool := strings.HasPrefix(target, "pool:")
	if isPool {
		what = "pool id"
	}
	msg := fmt.Sprintf("%s is no %s of the dynamic records served", target, what)
	if near := healthmesh.CloseTargets(target, known, closeShown); len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, ", ") + "?"
	} else if isPool {
		var ids []string
		for _, k := range known {
			if strings.HasPrefix(k, "pool:") {
				ids = append(ids, k)
			}
		}
		sort.Strings(ids)
		switch {
		case len(ids) == 0:
			msg += "; they have no pools"
		case len(ids) <= listShown:
			msg += "; the pools are " + strings.Join(ids, ", ")
		}
	}
	if !strings.HasSuffix(msg, "?") {
		msg += "."
	}
	return kindError{errors.New(msg + " Set force (meridian drain --force) to drain it anyway, for a target about to appear"), api.ErrInvalid}
}

// apiError gives a refusal of the health node the API status it calls for.
func apiError(err error) error {
	switch {
	case errors.Is(err, healthmesh.ErrNotDrained):
		return kindError{err, api.ErrNotFound}
	case errors.Is(err, healthmesh.ErrBadDrain):
		return kindError{err, api.ErrInvalid}
	}
	return err
}

// kindError is err, with its message, that is also kind.
type kindError struct{ err, kind error }

func (e kindError) Error() string   { return e.err.Error() }
func (e kindError) Unwrap() []error { return []error{e.err, e.kind} }

package daemon

import (
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/api"
)

// backend serves the API from the daemon's parts.
type backend struct{ d *Daemon }

func (b backend) Status() healthmesh.Status { return b.d.health.Status() }

func (b backend) Reload() api.ReloadStatus {
	ps, at := b.d.loader.LastReload()
	r := api.ReloadStatus{At: at, OK: len(ps) == 0, Problems: []string{}}
	for _, p := range ps {
		r.Problems = append(r.Problems, p.String())
	}
	return r
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

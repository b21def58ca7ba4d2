package pools

import (
	"math"
	"net/netip"
	"slices"

	"github.com/meridiandns/meridian/geo"
)

type poolDist struct {
	p *Pool
	d float64
}

// nearest walks the record's located pools from the closest to the client
// to the farthest and answers from the first with a serviceable value;
// anything but the closest is a degraded answer. None: fail-open.
func (r *Record) nearest(d *Decision, c *Client, h Health, tr *Trace) {
	loc := c.Location()
	var buf [16]poolDist
	order := buf[:0]
	for _, p := range r.Pools {
		if p.hasLoc {
			order = append(order, poolDist{p, geo.Distance(loc.Lat, loc.Lon, p.lat, p.lon)})
		}
	}
	slices.SortFunc(order, func(a, b poolDist) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return 0
	})
	for i, pd := range order {
		if tr != nil {
			tr.add("nearest: pool %s at %.0f km", pd.p.ID, pd.d)
		}
		outcome := FromPool
		if i > 0 {
			outcome = FromNearest
		}
		if r.pick(d, pd.p, outcome, c, h, tr) {
			return
		}
	}
	d.Outcome = FailOpen
	r.failOpen(d, h, tr)
}

// score is the weighted rendezvous score of v for the client subnet key:
// the value with the highest score wins, and removing a value moves only
// the clients that had it.
func score(key netip.Prefix, v *Value) float64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	a := key.Addr().As16()
	for _, b := range a {
		h = (h ^ uint64(b)) * prime
	}
	h = (h ^ uint64(key.Bits())) * prime
	for i := 0; i < len(v.Value); i++ {
		h = (h ^ uint64(v.Value[i])) * prime
	}
	// splitmix64 finaliser: FNV's low bits are weak.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	u := (float64(h>>11) + 0.5) / (1 << 53) // uniform in (0, 1)
	return -float64(v.Weight) / math.Log(u)
}

package zones

import (
	"sort"

	"github.com/meridiandns/meridian/pools"
)

// Set is every zone a node serves: an immutable snapshot. Build one with a
// Loader; never modify it after it is published.
type Set struct {
	zones map[string]*Zone // by origin
}

// NewSet returns a set of the given zones, for tests and tools.
func NewSet(zs ...*Zone) *Set {
	s := &Set{zones: make(map[string]*Zone, len(zs))}
	for _, z := range zs {
		s.zones[z.Origin] = z
	}
	return s
}

// Zone returns the zone with the given fully qualified lower-case origin.
func (s *Set) Zone(origin string) *Zone { return s.zones[origin] }

// Zones returns the zones sorted by origin.
func (s *Set) Zones() []*Zone {
	out := make([]*Zone, 0, len(s.zones))
	for _, z := range s.zones {
		out = append(out, z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Origin < out[j].Origin })
	return out
}

// Policies returns every dynamic record of the set, zone by zone in file
// order: what the health checker probes.
func (s *Set) Policies() []*pools.Record {
	var out []*pools.Record
	for _, z := range s.Zones() {
		for _, r := range z.Records {
			if r.Policy != nil {
				out = append(out, r.Policy)
			}
		}
	}
	return out
}

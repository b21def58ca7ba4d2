package zones

import (
	"sort"

	"github.com/meridiandns/meridian/pools"
)

// Set is every zone a node serves: an immutable snapshot. Build one with a
// Loader; never modify it after it is published.
type Set struct {
	zones map[string]*Zone // by origin

	// names maps the owner names that a lookup answers straight from
	// their own node to that node (which knows its zone): a query for
	// one of them costs one map probe instead of one per label of the
	// zone search and the walk down from the apex. A name is left out,
	// and found the long way, when a zone of the set with a longer
	// origin holds it or when a delegation cut or DNAME lies on the way
	// down to it from its apex.
	names nameIndex
}

// NewSet returns a set of the given zones, for tests and tools.
func NewSet(zs ...*Zone) *Set {
	s := &Set{zones: make(map[string]*Zone, len(zs))}
	for _, z := range zs {
		s.zones[z.Origin] = z
	}
	s.index()
	return s
}

// index builds s.names once s.zones is complete.
func (s *Set) index() {
	n := 0
	for _, z := range s.zones {
		n += len(z.nodes)
	}
	s.names = newNameIndex(n)
	for _, z := range s.zones {
		if z.apex.dname != nil {
			// Every name below the apex is substituted: only the apex
			// answers for itself.
			if s.owns(z, z.Origin) {
				s.names.add(z.apex)
			}
			continue
		}
		for name, nd := range z.nodes {
			if s.owns(z, name) && z.direct(nd) {
				s.names.add(nd)
			}
		}
	}
}

// owns reports whether z is the zone a lookup of name (in z) searches:
// no zone of s with a longer origin holds it.
func (s *Set) owns(z *Zone, name string) bool {
	for n := range below(name, z.Origin) {
		if s.zones[n] != nil {
			return false
		}
	}
	return true
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

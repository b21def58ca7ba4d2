package daemon

import (
	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/zones"
)

// zoneSet is what the health node announces of s: its digest, compared
// across the mesh to find a node whose zone files differ, and its zones
// with their serials, for this node's status.
func zoneSet(s *zones.Set) healthmesh.ZoneSet {
	zs := healthmesh.ZoneSet{Version: zones.DigestVersion, Digest: s.Digest().Short()}
	for _, z := range s.ZoneDigests() {
		zs.Zones = append(zs.Zones, healthmesh.ZoneSerial{Origin: z.Origin, Serial: z.Serial, Hash: z.Hash})
	}
	return zs
}

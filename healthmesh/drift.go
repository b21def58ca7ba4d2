package healthmesh

import (
	"slices"
	"time"
)

// Drift: a node whose zone files differ from the rest of the fleet's (a
// deploy that reached only some nodes) answers differently. Every node
// announces the digest of the zone set it serves in its metadata; every
// node compares the live members' digests, finds the one more than half
// of them announce, and flags a member whose digest has differed from it
// for longer than the grace period. Ties, and a mesh where no digest has
// more than half, flag nobody: there is no fleet to differ from.

// ZoneSet is what a node serves, as the daemon hands it over after every
// reload.
type ZoneSet struct {
	// Version is the version of the digest's definition (zones.DigestVersion):
	// digests of different versions are never compared.
	Version int
	// Digest is the set's digest in hex, digestHexLen digits
	// (zones.Digest.Short); "" announces nothing.
	Digest string
	// Zones lists every zone, for this node's status: they are not
	// announced to peers.
	Zones []ZoneSerial
}

// ZoneSerial is one zone a node serves.
type ZoneSerial struct {
	Origin string `json:"origin"`
	Serial uint32 `json:"serial"`
	// Hash is the start of the zone's content hash in hex: the same
	// content has the same hash on every node, even where YAML zones'
	// serials differ.
	Hash string `json:"hash"`
}

// MemberZones is a member's zone set and whether it drifts.
type MemberZones struct {
	// Digest is the set's digest; "" when the member announces none (an
	// older version, metadata that could not be read, or zones not loaded
	// yet), and then it is not compared.
	Digest string `json:"digest"`
	Count  int    `json:"count"` // zones in the set
	// Differs is set while the digest differs from the majority's.
	Differs bool `json:"differs"`
	// Since is when this node first saw it differ, this time; zero while
	// it does not.
	Since time.Time `json:"since,omitzero"`
	// Drifting is set once it has differed for longer than the grace
	// period (mesh.drift_grace).
	Drifting bool `json:"drifting"`
}

// LocalZones is this node's zone set and the mesh's majority.
type LocalZones struct {
	Digest string `json:"digest"` // "" before the first load
	Count  int    `json:"count"`
	// Majority is the digest more than half of the live members that
	// announce one announce; "" when no digest has that many.
	Majority string `json:"majority"`
	// Drifting counts the live members flagged, this node included.
	Drifting int `json:"drifting"`
	// Grace is how long a member may differ before it is flagged.
	Grace time.Duration `json:"drift_grace"`
	// Zones lists every zone this node serves, with its serial.
	Zones []ZoneSerial `json:"zones"`
}

// SetZones records the zone set the node serves now, and announces it to
// the mesh when it changed. It never blocks.
func (n *Node) SetZones(zs ZoneSet) {
	zs.Zones = slices.Clone(zs.Zones)
	old := n.zoneSet.Swap(&zs)
	if n.mesh != nil && (old == nil || old.Version != zs.Version || old.Digest != zs.Digest || len(old.Zones) != len(zs.Zones)) {
		n.mesh.metaChanged()
	}
}

// driftView is the drift of every live member at one moment: what the
// node's ticker publishes for status and metrics.
type driftView struct {
	majority string                 // "" without one
	members  map[string]memberDrift // the live members that differ
	drifting int                    // how many of them are flagged
}

type memberDrift struct {
	since    time.Time
	drifting bool
}

// driftTracker follows how long each live member has differed from the
// majority. It belongs to the node's ticker.
type driftTracker struct {
	since map[string]time.Time // members differing now → since when
}

// update compares the digests of the live members that announce one
// (member name → digest) at now, flags those that have differed for at
// least grace, and forgets members no longer listed or no longer
// differing.
func (t *driftTracker) update(now time.Time, grace time.Duration, digests map[string]string) *driftView {
	if t.since == nil {
		t.since = map[string]time.Time{}
	}
	maj, ok := majority(digests)
	v := &driftView{majority: maj, members: map[string]memberDrift{}}
	for name, d := range digests {
		if !ok || d == maj {
			delete(t.since, name)
			continue
		}
		since, had := t.since[name]
		if !had {
			since = now
			t.since[name] = now
		}
		md := memberDrift{since: since, drifting: now.Sub(since) >= grace}
		if md.drifting {
			v.drifting++
		}
		v.members[name] = md
	}
	for name := range t.since {
		if _, ok := digests[name]; !ok {
			delete(t.since, name)
		}
	}
	return v
}

// majority returns the digest that more than half of digests hold.
func majority(digests map[string]string) (string, bool) {
	counts := map[string]int{}
	for _, d := range digests {
		counts[d]++
		if counts[d]*2 > len(digests) {
			return d, true
		}
	}
	return "", false
}

// updateDrift compares the live members' zone sets now and publishes the
// result. Only the ticker calls it.
func (n *Node) updateDrift(now time.Time) {
	self := n.zoneSet.Load()
	digests := map[string]string{}
	grace := DefaultDriftGrace
	if n.mesh != nil {
		grace = n.mesh.grace
		for _, m := range n.mesh.members() {
			if m.State == "alive" && m.Name != n.name && self != nil && m.ZoneSet.Digest != "" && m.zonesVersion == self.Version {
				digests[m.Name] = m.ZoneSet.Digest
			}
		}
	}
	if self != nil && self.Digest != "" {
		digests[n.name] = self.Digest
	}
	n.drift.Store(n.driftT.update(now, grace, digests))
}

// zoneStatus fills in the zone sets of st's members and st.ZoneSet.
func (n *Node) zoneStatus(st *Status) {
	v := n.drift.Load()
	if v == nil {
		v = &driftView{}
	}
	st.ZoneSet = LocalZones{Majority: v.majority, Drifting: v.drifting, Grace: DefaultDriftGrace, Zones: []ZoneSerial{}}
	if n.mesh != nil {
		st.ZoneSet.Grace = n.mesh.grace
	}
	if zs := n.zoneSet.Load(); zs != nil {
		st.ZoneSet.Digest, st.ZoneSet.Count = zs.Digest, len(zs.Zones)
		st.ZoneSet.Zones = append(st.ZoneSet.Zones, zs.Zones...)
	}
	for i := range st.Members {
		m := &st.Members[i]
		if m.Name == n.name {
			m.ZoneSet.Digest, m.ZoneSet.Count = st.ZoneSet.Digest, st.ZoneSet.Count
		}
		if d, ok := v.members[m.Name]; ok && m.State == "alive" {
			m.ZoneSet.Differs, m.ZoneSet.Since, m.ZoneSet.Drifting = true, d.since, d.drifting
		}
	}
}

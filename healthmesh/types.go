package healthmesh

import (
	"strings"
	"time"
)

// Observation is one observer's current view of one endpoint: the verdict
// of its own probes after rise/fall. Observations are what nodes gossip.
type Observation struct {
	Endpoint string    `json:"endpoint"` // endpoint ID
	Observer string    `json:"observer"` // node name
	Region   string    `json:"region"`   // the observer's region
	Up       bool      `json:"up"`
	Since    time.Time `json:"since"` // when the observer's verdict last changed
	Seq      uint64    `json:"seq"`   // grows with every change the observer makes
	// Age is how long ago the observer last probed, as known to this node
	// (local receive time plus the age the sender reported; no clocks are
	// compared across nodes).
	Age time.Duration `json:"age"`
}

// Drain is an operator override: a value (an address or target name) or a
// pool id ("pool:eu") taken out of service across every record. Drains are
// mesh state: the newest SetAt wins.
type Drain struct {
	Target  string    `json:"target"`           // "198.51.100.1" or "pool:eu"
	Until   time.Time `json:"until,omitzero"`   // zero: until undone
	Reason  string    `json:"reason,omitempty"` // free text
	SetAt   time.Time `json:"set_at"`           // last-writer-wins timestamp
	By      string    `json:"by"`               // node (and API caller) that wrote it
	Deleted bool      `json:"deleted,omitempty"`
}

// Active reports whether d takes its target out at time now.
func (d Drain) Active(now time.Time) bool {
	return !d.Deleted && (d.Until.IsZero() || now.Before(d.Until))
}

// Pool returns the pool id of a pool drain ("pool:eu" → "eu", true).
func (d Drain) Pool() (string, bool) { return strings.CutPrefix(d.Target, "pool:") }

// newer reports whether d wins over o under last-writer-wins: the later
// SetAt, ties broken by writer name so every node picks the same.
func (d Drain) newer(o Drain) bool {
	if !d.SetAt.Equal(o.SetAt) {
		return d.SetAt.After(o.SetAt)
	}
	return d.By > o.By
}

// Member is a node of the mesh as memberlist sees it.
type Member struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	Addr   string `json:"addr"`
	State  string `json:"state"` // alive, suspect, dead, left
	// ZoneSet is the zone set the member serves, as its metadata says,
	// and how it compares with the majority of live members.
	ZoneSet MemberZones `json:"zone_set"`
	// MetaError says why the member's metadata could not be read whole
	// (what could be read is shown); "" when it could.
	MetaError string `json:"meta_error,omitempty"`

	zonesVersion int // of ZoneSet.Digest
}

// EndpointState is everything known about one endpoint, for the API.
type EndpointState struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"` // protocol://address:port/path
	Up           bool          `json:"up"`   // the verdict answers obey
	Since        time.Time     `json:"since"`
	Observations []Observation `json:"observations"`
	LastProbe    *Result       `json:"last_probe,omitempty"` // this node's latest probe
}

// Status is the node's view of the mesh.
type Status struct {
	Node      string          `json:"node"`
	Region    string          `json:"region"`
	Members   []Member        `json:"members"`
	Endpoints []EndpointState `json:"endpoints"`
	Drains    []Drain         `json:"drains"` // active ones
	// ZoneSet is this node's zone set, zone by zone, and how the mesh
	// compares.
	ZoneSet LocalZones `json:"zone_set"`
}

// Package api serves Meridian's HTTP API for operators and tools, and the
// status page people watch it through.
package api

import (
	"context"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/explain"
)

// Backend is what the API reads and changes. Implementations must be safe
// for concurrent use.
type Backend interface {
	// Status is the node's view of the mesh and its endpoints.
	Status() healthmesh.Status
	// Records lists the dynamic records served, with the verdict of each
	// value as answers see it now.
	Records() []Record
	// Reload is the result of the last zone reload.
	Reload() ReloadStatus
	// ReloadConfig re-reads the config file and then the zones, as SIGHUP
	// does. A config that fails to load is returned as the error and the
	// running config is kept; zone problems are in the status.
	ReloadConfig() (ReloadStatus, error)
	// Explain looks q up as the node would answer it now, with its own
	// verdicts and drains, and reports why. ctx ends with the request.
	Explain(ctx context.Context, q explain.Query) (*explain.Report, error)
	// Drains lists the active drains.
	Drains() []healthmesh.Drain
	// SetDrain takes target ("198.51.100.1" or "pool:eu") out of service,
	// for d (0 = until undone), and replicates it to the mesh. A target
	// that names no value or pool of the zones served is refused
	// (ErrInvalid) unless force is set.
	SetDrain(target string, d time.Duration, reason, by string, force bool) (healthmesh.Drain, error)
	// Undrain puts target back; ErrNotFound when it is not drained.
	Undrain(target, by string) error
}

// StateReporter is implemented by backends that keep state files (drains,
// zone serials, last good zone copies); the status then says whether each
// can be written. Implementations must be safe for concurrent use.
type StateReporter interface {
	StateFiles() []StateFile
}

// StateFile is one kind of state a node keeps on disk.
type StateFile struct {
	Name string `json:"name"` // drains, zone_serials, zone_last_good
	Path string `json:"path"` // the file, or the directory of a set of files
	// OK is false while writing fails: the state still applies in memory
	// (and, for drains, on the mesh) but would not survive a restart.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"` // of the last write
	// Since is when the writes began failing; zero while they succeed.
	Since time.Time `json:"since,omitzero"`
	// Failures counts the failed writes since the node started.
	Failures uint64 `json:"failures"`
	// LoadError is why the file could not be read at start (a corrupt
	// drains file is moved aside, never emptied); "" when it was fine.
	LoadError string `json:"load_error,omitempty"`
}

// ReloadStatus is the outcome of the last zone reload.
type ReloadStatus struct {
	At       time.Time `json:"at"`
	OK       bool      `json:"ok"`
	Problems []string  `json:"problems"`
	// Zones counts the zones served; 0 means every query is refused.
	Zones int `json:"zones"`
	// Directory is how the reload found the zones directory: "ok",
	// "unreadable" (missing, or not readable) or "empty" (no zone
	// files). Unless "ok", every zone loaded before keeps serving.
	Directory string `json:"directory"`
	// Pending lists the files that changed while the reload read them:
	// each keeps its previous version until a reload finds it settled.
	Pending []string `json:"pending"`
}

// Record is one dynamic record as served now.
type Record struct {
	Name  string `json:"name"` // fully qualified
	Zone  string `json:"zone"` // origin of the zone holding it
	Type  string `json:"type"` // A, AAAA or CNAME
	Rules []Rule `json:"rules"`
	Pools []Pool `json:"pools"`
	// Values are the record's own values: the fail-open answer.
	Values []Value `json:"values"`
	// Outcome is the most degraded of its rules' outcomes: "pool" while
	// every rule answers from its own pool, else "nearest", "fallback" or
	// "failopen" (see Rule.Outcome).
	Outcome string `json:"outcome"`
	// Decisions counts the answers the record gave since the node started,
	// by outcome (pool, fallback, nearest, failopen, norule), as the
	// meridian_dns_dynamic_decisions_total metric does.
	Decisions map[string]uint64 `json:"decisions"`
}

// Outcomes of a rule or record, from the least degraded to the most.
const (
	OutcomePool     = "pool"     // the rule's own pool
	OutcomeNearest  = "nearest"  // a farther pool of a nearest record, for some clients
	OutcomeFallback = "fallback" // a pool down the fallback chain
	OutcomeFailOpen = "failopen" // the record's own values: no pool has a serviceable value
)

// Rule is one rule of a record, in order.
type Rule struct {
	Pool    string   `json:"pool"`
	Subnets []string `json:"subnets,omitempty"`
	Geos    []string `json:"geos,omitempty"` // octoDNS geo codes
	// Outcome is where the rule's clients are answered from now: one of
	// the Outcome constants.
	Outcome string `json:"outcome"`
	// ServedBy is the pool that answers them: the rule's pool or one down
	// its fallback chain; "" for failopen, and for a nearest record's
	// catch-all rule, whose pool depends on the client.
	ServedBy string `json:"served_by,omitempty"`
}

// Pool is one pool of a record.
type Pool struct {
	ID       string  `json:"id"`
	Fallback string  `json:"fallback,omitempty"`
	Drained  bool    `json:"drained"` // by a "pool:ID" drain
	Values   []Value `json:"values"`
	// Serviceable counts the values that may be served now: when it is 0
	// the pool's traffic falls back.
	Serviceable int `json:"serviceable"`
	// Served is whether some rule's clients are answered from the pool
	// now; a pool that is only a fallback is not, while the pools before
	// it serve.
	Served bool `json:"served"`
}

// Value is one answer of a pool and its state.
type Value struct {
	Value    string `json:"value"`
	Weight   int    `json:"weight"`
	Status   string `json:"status"`   // configured: obey, up or down
	Endpoint string `json:"endpoint"` // endpoint ID; "" when not health-checked
	Verdict  string `json:"verdict"`  // up, down or unknown
	Drained  bool   `json:"drained"`
	// Serviceable is whether answers may use the value now: its status,
	// verdict and drains together. A record's own value is always
	// serviceable unless drained: fail-open ignores health.
	Serviceable bool `json:"serviceable"`
	// Served is whether answers carry the value now: a serviceable value
	// of a pool that is served, or a record's own value while some
	// clients get the fail-open answer.
	Served bool `json:"served"`
}

// Package pools holds dynamic-record policies: rules that map a client to
// a pool, pools of weighted values with fallback chains, fail-open to the
// record's own values, nearest-pool and sticky selection, and the TTL and
// ECS scope of each decision. A Record is immutable once parsed; Select is
// safe for concurrent use and does not allocate on the common path.
package pools

import (
	"net/netip"
	"sync/atomic"
	"unsafe"

	"github.com/meridiandns/meridian/geo"
	"github.com/miekg/dns"
)

// Status is a value's configured status (octoDNS `status`).
type Status uint8

const (
	Obey Status = iota // follow the health verdict (the default)
	Up                 // always serviceable, whatever the checks say
	Down               // never serviceable
)

func (s Status) String() string { return [...]string{"obey", "up", "down"}[s] }

// Value is one answer a pool (or the record's fail-open set) can give.
type Value struct {
	Value  string // IP address text for A/AAAA, fully qualified target for CNAME
	Addr   netip.Addr
	Weight int // 1..100; 1 when not given
	Status Status
	Line   int // line in the zone file, for messages
	// Endpoint is the ID of the (value, check) pair whose verdict this
	// value obeys; "" when the value is not probed.
	Endpoint string

	// rrs are prebuilt one-RR answers: rrs[0] with the record TTL,
	// rrs[1] with the degraded TTL. Built by Record.Prepare.
	rrs [2][]dns.RR
	// wire is rrs in wire form (see internal/packed); nil when the RR
	// does not pack.
	wire [2][]byte
}

// Pool is a named set of values with an optional fallback pool.
type Pool struct {
	ID       string
	Values   []*Value
	Fallback string // "" = none
	Line     int

	fallback *Pool
	up       []*Value // Values whose status is not down, set by Prepare
	index    int      // position in the record's Pools, set by Prepare
	lat, lon float64  // nearest location
	hasLoc   bool
}

// Rule sends clients matching any of its subnets or geos (or every client,
// when it has neither) to a pool.
type Rule struct {
	Index   int // position in the rules list, from 0
	PoolID  string
	Subnets []netip.Prefix // masked
	Geos    []geo.Code
	Line    int

	pool *Pool
	// keys are Geos in packed form (geo.Code.Key), set by Prepare when
	// every one of them packs.
	keys []codeKey
}

// codeKey is a packed geo code: a packed location lk is inside it when
// lk&mask == key.
type codeKey struct{ key, mask uint64 }

// CatchAll reports whether the rule matches every client.
func (r *Rule) CatchAll() bool { return len(r.Subnets) == 0 && len(r.Geos) == 0 }

// Record is one dynamic record: the compiled `dynamic:` section plus the
// record's own values and Meridian's settings from `octodns.meridian`.
type Record struct {
	Name   string // fully qualified, lower case
	Type   uint16 // dns.TypeA, dns.TypeAAAA or dns.TypeCNAME
	TTL    uint32 // the record's ttl, else dynamic_ttl
	Pools  []*Pool
	Rules  []*Rule
	Values []*Value // top-level values: the fail-open answer

	Answers   int  // octodns.meridian.answers: up to N distinct values; default 1
	Sticky    bool // octodns.meridian.sticky: rendezvous hash of the client's /24 or /56
	Nearest   bool // octodns.meridian.nearest
	Locations map[string][2]float64

	// Check is how the record's values are probed; nil when the record has
	// no health check (its obey values then count as up).
	Check *Check

	degradedTTL uint32
	tab         []tabCell   // Rules laid out for matching, set by Prepare; nil: match rule by rule
	ptab        []poolEntry // Pools laid out for the settled path (see settled.go)
	ups         []upValue
	byID        map[string]*Pool
	valueRRs    [2][]dns.RR // all fail-open values: full and degraded TTL
	valueWire   [2][]byte   // valueRRs in wire form

	// cells is the number of decision counter cells: one per (rule, pool,
	// outcome), set by Prepare. counters holds them once the first
	// decision has been counted (see Cell).
	cells    int
	counters atomic.Pointer[atomic.Pointer[atomic.Uint64]] // the first of cells cells: one hop fewer than a slice
}

// Pool returns the pool with the given id, or nil.
// DegradedTTL is the TTL of the record's degraded answers (fallback,
// farther nearest pool, fail-open): the record's TTL capped at the
// degraded TTL given to Prepare.
func (r *Record) DegradedTTL() uint32 { return min(r.TTL, r.degradedTTL) }

func (r *Record) Pool(id string) *Pool { return r.byID[id] }

// Cell returns the cell that counts d, a decision of r, for the server's
// decision metrics; nil when r was not prepared. A cell points at its
// counter once the first decision that needs it has resolved it; counting
// through the record the query already holds costs no lookup. The cells
// of a record are made by its first counted decision, so records never
// asked for cost no memory for them.
func (r *Record) Cell(d *Decision) *atomic.Pointer[atomic.Uint64] {
	i := r.CounterIndex(d)
	if i < 0 {
		return nil
	}
	first := r.counters.Load()
	if first == nil {
		fresh := make([]atomic.Pointer[atomic.Uint64], r.cells)
		if r.counters.CompareAndSwap(nil, &fresh[0]) {
			first = &fresh[0]
		} else {
			first = r.counters.Load()
		}
	}
	return (*atomic.Pointer[atomic.Uint64])(unsafe.Add(unsafe.Pointer(first), uintptr(i)*unsafe.Sizeof(*first)))
}

// CounterIndex is the index of the cell that counts d, a decision of r;
// -1 when r was not prepared.
func (r *Record) CounterIndex(d *Decision) int {
	if d.cell > 0 && d.Record == r && int(d.cell) <= r.cells {
		return int(d.cell) - 1
	}
	rule, pool := 0, 0
	if d.Rule != nil {
		rule = d.Rule.Index + 1
	}
	if d.Pool != nil {
		pool = d.Pool.index + 1
	}
	i := (rule*(len(r.Pools)+1)+pool)*nOutcomes + int(d.Outcome)
	if i < 0 || i >= r.cells {
		return -1
	}
	return i
}

// nOutcomes is the number of Outcome values.
const nOutcomes = int(NoRule) + 1

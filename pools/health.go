package pools

// State is a health verdict for one value.
type State uint8

const (
	Unknown   State = iota // no verdict yet: treated as up
	Healthy                // checks pass
	Unhealthy              // checks fail: not served unless status is up
)

func (s State) String() string { return [...]string{"unknown", "up", "down"}[s] }

// Health tells Select which values may be served. Implementations are read
// on the query path: they must be safe for concurrent use, must not block
// and should not allocate (an atomic load of an immutable table).
type Health interface {
	// State returns the health verdict for value v of record r.
	State(r *Record, v *Value) State
	// Drained reports whether an operator took v out of service, by value
	// or by pool. p is the pool v is served from; nil for the record's
	// fail-open values.
	Drained(r *Record, p *Pool, v *Value) bool
}

// Settled is implemented by a Health that can tell, cheaply, that no
// value is unhealthy and nothing is drained right now: every value is
// then serviceable unless its status is down, and Select takes each
// pool's such values, listed by Prepare, instead of asking about each
// value. A Health that is not a Settled is asked value by value.
type Settled interface {
	Settled() bool
}

// settled reports whether h is a Settled that is settled.
func settled(h Health) bool {
	s, ok := h.(Settled)
	return ok && s.Settled()
}

// AllUp is the Health of a node without health checks or drains: every
// value is healthy and nothing is drained.
type AllUp struct{}

func (AllUp) State(*Record, *Value) State         { return Unknown }
func (AllUp) Drained(*Record, *Pool, *Value) bool { return false }
func (AllUp) Settled() bool                       { return true }

// serviceable reports whether v may be served from pool p, and why not.
func serviceable(h Health, r *Record, p *Pool, v *Value) (bool, string) {
	if h.Drained(r, p, v) {
		return false, "drained"
	}
	switch v.Status {
	case Up:
		return true, "status up"
	case Down:
		return false, "status down"
	}
	switch h.State(r, v) {
	case Unhealthy:
		return false, "health down"
	case Healthy:
		return true, "health up"
	}
	return true, "health unknown (up)"
}

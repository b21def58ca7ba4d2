package pools

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/miekg/dns"
)

// Outcome says where an answer came from.
type Outcome uint8

const (
	FromPool     Outcome = iota // the matching rule's pool
	FromFallback                // a pool further down the rule pool's fallback chain
	FromNearest                 // a nearest pool other than the closest
	FailOpen                    // no pool had a serviceable value: the record's values
	NoRule                      // no rule matched: the record's values, full TTL
)

func (o Outcome) String() string {
	return [...]string{"pool", "fallback", "nearest", "failopen", "norule"}[o]
}

// Degraded reports whether the answer is a fallback of some kind, whose TTL
// is capped at the degraded TTL so clients come back soon.
func (o Outcome) Degraded() bool { return o == FromFallback || o == FromNearest || o == FailOpen }

// Decision is the result of Select. Answer may share memory with the
// record: callers must not modify it.
type Decision struct {
	Record  *Record // the record that decided; nil for the zero Decision
	Rule    *Rule   // nil when no rule matched
	Pool    *Pool   // nil for FailOpen and NoRule
	Outcome Outcome
	Answer  []dns.RR
	// Wire is Answer in wire form (see internal/packed), for callers that
	// write responses themselves; nil when Answer has none.
	Wire []byte
	TTL  uint32
	// Scope is the ECS scope prefix length: every client address inside
	// Addr/Scope gets the same rule and pool. It counts the bits of the
	// address as the client was given, so an IPv4-mapped client's scope
	// is 96 or more.
	Scope int

	cell int32 // CounterIndex+1 when Select worked it out; 0: not yet
}

// Select chooses the answer for client c. tr, when not nil, records why;
// the query path passes nil and then Select does not allocate for the
// common one-answer case.
func (r *Record) Select(c *Client, h Health, tr *Trace) Decision {
	if tr == nil && r.ptab != nil && settled(h) {
		if d, ok := r.selectSettled(c); ok {
			return d
		}
	}
	d := Decision{Record: r}
	need := 0
	if tr == nil && r.tab != nil {
		d.Rule, need = r.firstRule(c)
	} else {
		for _, ru := range r.Rules {
			ok, bits := ru.match(c)
			need = max(need, bits)
			if tr != nil {
				tr.rule(ru, ok, c)
			}
			if ok {
				d.Rule = ru
				break
			}
		}
	}
	if d.Rule == nil {
		d.Outcome = NoRule
		r.failOpen(&d, h, tr)
		d.Scope = c.scopeBits(need)
		return d
	}
	if r.Nearest && d.Rule.CatchAll() {
		if loc := c.Location(); loc.HasCoords {
			need = max(need, c.locationBits())
			r.nearest(&d, c, h, tr)
			d.Scope = r.scope(c, need)
			return d
		}
		if tr != nil {
			tr.add("nearest: client has no coordinates; using the catch-all pool")
		}
	}
	outcome := FromPool
	for p := d.Rule.pool; p != nil; p = p.fallback {
		if r.pick(&d, p, outcome, c, h, tr) {
			d.Scope = r.scope(c, need)
			return d
		}
		outcome = FromFallback
	}
	d.Outcome = FailOpen
	r.failOpen(&d, h, tr)
	d.Scope = r.scope(c, need)
	return d
}

// scope widens need for sticky records, whose pick depends on the /24 or
// /56 of the client, and gives it in the family the client was asked in.
func (r *Record) scope(c *Client, need int) int {
	if r.Sticky {
		_, bits := c.stickyKey()
		need = max(need, bits)
	}
	return c.scopeBits(need)
}

// match reports whether the rule matches c and how many leading address
// bits that decision depends on: for a subnet that contains the client, its
// length; for one that does not, one bit past the common prefix (so the
// scope excludes it); for geos, the length of the database network.
func (ru *Rule) match(c *Client) (bool, int) {
	if ru.CatchAll() {
		return true, 0
	}
	need := 0
	for _, s := range ru.Subnets {
		if s.Addr().Is4() != c.Addr.Is4() {
			continue
		}
		if s.Contains(c.Addr) {
			return true, s.Bits()
		}
		need = max(need, min(s.Bits(), commonBits(c.Addr, s.Addr())+1))
	}
	if len(ru.Geos) > 0 && c.Geo != nil {
		bits := c.locationBits()
		need = max(need, bits)
		if c.inAny(ru) {
			return true, bits
		}
	}
	return false, need
}

// pick chooses from pool p's serviceable values, recording outcome; false
// when it has none.
func (r *Record) pick(d *Decision, p *Pool, outcome Outcome, c *Client, h Health, tr *Trace) bool {
	var buf [32]*Value
	cand := buf[:0]
	if tr == nil && settled(h) {
		if len(p.up) == 0 {
			return false
		}
		cand = p.up
		if r.Answers > 1 && len(cand) > 1 {
			cand = append(buf[:0], p.up...) // several reorders it
		}
		d.Pool = p
		d.Outcome = outcome
		r.answer(d, cand, c, tr)
		return true
	}
	for _, v := range p.Values {
		ok, why := serviceable(h, r, p, v)
		if tr != nil {
			tr.value(p, v, ok, why)
		}
		if ok {
			cand = append(cand, v)
		}
	}
	if len(cand) == 0 {
		if tr != nil {
			tr.add("pool %s: no serviceable value", p.ID)
		}
		return false
	}
	d.Pool = p
	d.Outcome = outcome
	r.answer(d, cand, c, tr)
	return true
}

// answer fills d.Answer with up to r.Answers values of cand, chosen by
// weight (or by rendezvous hash when sticky), and sets the TTL.
func (r *Record) answer(d *Decision, cand []*Value, c *Client, tr *Trace) {
	deg := r.ttlFor(d)
	n := min(r.Answers, len(cand))
	if n <= 1 {
		v := r.one(cand, c)
		d.Answer, d.Wire = v.rrs[deg], v.wire[deg]
		if tr != nil {
			tr.chosen(d, []*Value{v}, r.Sticky)
		}
		return
	}
	chosen := r.several(cand, n, c)
	if cap(c.Scratch) >= n {
		d.Answer = c.Scratch[:n]
	} else {
		d.Answer = make([]dns.RR, n)
	}
	for i, v := range chosen {
		d.Answer[i] = v.rrs[deg][0]
	}
	d.Wire = c.WireScratch[:0]
	for _, v := range chosen {
		if v.wire[deg] == nil || len(d.Wire)+len(v.wire[deg]) > cap(d.Wire) {
			d.Wire = nil // no room: the caller packs Answer
			break
		}
		d.Wire = append(d.Wire, v.wire[deg]...)
	}
	if tr != nil {
		tr.chosen(d, chosen, r.Sticky)
	}
}

// ttlFor sets d's TTL from its outcome: the record TTL, or the degraded
// TTL (capped at it) for a fallback of some kind. It returns which of a
// value's prebuilt forms (Value.rrs, Value.wire) carries that TTL.
func (r *Record) ttlFor(d *Decision) int {
	if d.Outcome.Degraded() {
		d.TTL = min(r.TTL, r.degradedTTL)
		return 1
	}
	d.TTL = r.TTL
	return 0
}

// one picks a single value: the highest rendezvous score when sticky, else
// a weighted random draw.
func (r *Record) one(cand []*Value, c *Client) *Value {
	if len(cand) == 1 {
		return cand[0]
	}
	if r.Sticky {
		key, _ := c.stickyKey()
		best, bestScore := cand[0], math.Inf(-1)
		for _, v := range cand {
			if s := score(key, v); s > bestScore {
				best, bestScore = v, s
			}
		}
		return best
	}
	total := 0
	for _, v := range cand {
		total += v.Weight
	}
	x := rand.IntN(total)
	for _, v := range cand {
		if x < v.Weight {
			return v
		}
		x -= v.Weight
	}
	return cand[len(cand)-1]
}

// several picks n distinct values: the n best rendezvous scores when
// sticky, else weighted draws without replacement. It reorders cand, which
// is the caller's, and returns its first n elements in the order chosen.
func (r *Record) several(cand []*Value, n int, c *Client) []*Value {
	if r.Sticky {
		key, _ := c.stickyKey()
		slices.SortFunc(cand, func(a, b *Value) int {
			sa, sb := score(key, a), score(key, b)
			switch {
			case sa > sb:
				return -1
			case sa < sb:
				return 1
			}
			return 0
		})
		return cand[:n]
	}
	for k := range n {
		rest := cand[k:]
		v := r.one(rest, c)
		i := slices.Index(rest, v)
		rest[0], rest[i] = rest[i], rest[0]
	}
	return cand[:n]
}

// failOpen answers with the record's own values, less any drained ones.
func (r *Record) failOpen(d *Decision, h Health, tr *Trace) {
	deg := r.ttlFor(d)
	all := true
	for _, v := range r.Values {
		if h.Drained(r, nil, v) {
			all = false
			break
		}
	}
	if all {
		d.Answer, d.Wire = r.valueRRs[deg], r.valueWire[deg]
	} else {
		for _, v := range r.Values {
			if !h.Drained(r, nil, v) {
				d.Answer = append(d.Answer, v.rrs[deg][0])
			}
		}
	}
	if tr != nil {
		tr.failOpen(d, r, h)
	}
}

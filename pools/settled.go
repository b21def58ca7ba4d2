package pools

import (
	"math/rand/v2"

	"github.com/miekg/dns"
)

// While the health is settled (nothing down or drained), a decision only
// depends on the rule table and on each pool's values not configured
// down. Prepare lays those out per record in two arrays, so the common
// decision reads the rule table, one poolEntry per pool on the fallback
// chain and the upValues it draws from, and leaves the Rule, Pool and
// Value objects alone. Sticky and nearest records, fail-open and traced
// decisions take the general path.

// poolEntry is a pool as the settled path reads it.
type poolEntry struct {
	first, end uint32 // its values not configured down, in Record.ups
	fallback   int32  // index of its fallback pool in Record.Pools; -1: none
	total      uint32 // their total weight
}

// upValue is a value not configured down, with its answer at the record
// TTL.
type upValue struct {
	rrs    []dns.RR // v.rrs[0]
	wire   []byte   // v.wire[0]
	weight uint32
	v      *Value
}

// maxUp bounds the values of a pool the settled path draws several from.
const maxUp = 64

// prepareSettled lays out r's pools for the settled path; it leaves them
// unset for records the path does not take.
func (r *Record) prepareSettled() {
	r.ptab, r.ups = nil, nil
	if r.tab == nil || r.Sticky || len(r.Pools) > 1<<30 {
		return
	}
	n := 0
	for _, p := range r.Pools {
		if len(p.up) > maxUp {
			return
		}
		n += len(p.up)
	}
	r.ptab = make([]poolEntry, len(r.Pools))
	r.ups = make([]upValue, 0, n)
	for i, p := range r.Pools {
		e := poolEntry{first: uint32(len(r.ups)), fallback: -1}
		if p.fallback != nil {
			e.fallback = int32(p.fallback.index)
		}
		for _, v := range p.up {
			r.ups = append(r.ups, upValue{rrs: v.rrs[0], wire: v.wire[0], weight: uint32(v.Weight), v: v})
			e.total += uint32(v.Weight)
		}
		e.end = uint32(len(r.ups))
		r.ptab[i] = e
	}
}

// selectSettled is Select for a settled health, without a trace; false
// when the decision needs the general path.
func (r *Record) selectSettled(c *Client) (Decision, bool) {
	m := r.matchTab(c)
	if m.rule < 0 || m.pool < 0 || (r.Nearest && m.catchAll) {
		return Decision{}, false
	}
	outcome := FromPool
	for p := m.pool; p >= 0; p = int(r.ptab[p].fallback) {
		e := &r.ptab[p]
		if e.end == e.first {
			outcome = FromFallback
			continue
		}
		d := Decision{Record: r, Rule: r.Rules[m.rule], Pool: r.Pools[p], Outcome: outcome, Scope: c.scopeBits(m.need)}
		d.cell = int32(((m.rule+1)*(len(r.Pools)+1)+p+1)*nOutcomes+int(outcome)) + 1
		r.answerUp(&d, r.ups[e.first:e.end], e.total, c)
		return d, true
	}
	return Decision{}, false // fail-open
}

// answerUp is answer over a pool's upValues: up to r.Answers of them,
// drawn by weight without replacement.
func (r *Record) answerUp(d *Decision, ups []upValue, total uint32, c *Client) {
	deg := r.ttlFor(d)
	n := min(r.Answers, len(ups))
	if n <= 1 {
		u := &ups[0]
		if len(ups) > 1 {
			u = &ups[drawUp(ups, nil, total)]
		}
		if deg == 0 {
			d.Answer, d.Wire = u.rrs, u.wire
		} else {
			d.Answer, d.Wire = u.v.rrs[1], u.v.wire[1]
		}
		return
	}
	var buf [maxUp]uint8
	order := buf[:len(ups)]
	for i := range order {
		order[i] = uint8(i)
	}
	for k := range n {
		j := k + drawUp(ups, order[k:], total)
		order[k], order[j] = order[j], order[k]
		total -= ups[order[k]].weight
	}
	if cap(c.Scratch) >= n {
		d.Answer = c.Scratch[:n]
	} else {
		d.Answer = make([]dns.RR, n)
	}
	d.Wire = c.WireScratch[:0]
	for i, k := range order[:n] {
		v := ups[k].v
		d.Answer[i] = v.rrs[deg][0]
		if d.Wire != nil {
			if w := v.wire[deg]; w != nil && len(d.Wire)+len(w) <= cap(d.Wire) {
				d.Wire = append(d.Wire, w...)
			} else {
				d.Wire = nil // no room: the caller packs Answer
			}
		}
	}
}

// drawUp draws one of ups by weight (those listed in order when it is not
// nil, whose weights add up to total) and returns its position.
func drawUp(ups []upValue, order []uint8, total uint32) int {
	x := uint32(rand.IntN(int(total)))
	if order == nil {
		for i := range ups {
			if x < ups[i].weight {
				return i
			}
			x -= ups[i].weight
		}
		return len(ups) - 1
	}
	for i, k := range order {
		if x < ups[k].weight {
			return i
		}
		x -= ups[k].weight
	}
	return len(order) - 1
}

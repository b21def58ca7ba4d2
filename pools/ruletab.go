package pools

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// A rule table is a record's rules laid out for the query path in one
// array of 16-byte cells, read front to back: per rule, a header cell,
// two cells per subnet, one per packed geo code. Matching a client walks
// one short array instead of a Rule, its subnet slice and its code slice
// per rule, each a separate allocation and so a cache line of its own.
// Select uses it when it is not tracing; the rules themselves stay the
// reference (TestRuleTab).
type tabCell struct{ a, b uint64 }

// Header cell: a = the rule's index in Record.Rules | the index of its
// pool in Record.Pools<<32; b = subnet count | code count<<16 |
// has-geos<<32. Subnet: (address hi, lo) as 128 bits,
// IPv4 mapped, then (prefix length in its family, 1 for IPv4). Code:
// (key, mask) as codeKey.

// addr128 is a client address as the table holds subnets.
type addr128 struct {
	hi, lo uint64
	v4     bool
	valid  bool
}

func addrOf(a netip.Addr) addr128 {
	b := a.As16()
	return addr128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), a.Is4(), a.IsValid()}
}

// newRuleTab lays out rs; nil when a geo code does not pack or a rule has
// more subnets or codes than a header counts.
func newRuleTab(rs []*Rule) []tabCell {
	n := 0
	for _, ru := range rs {
		if len(ru.keys) != len(ru.Geos) || len(ru.Subnets) > 0xffff || len(ru.Geos) > 0xffff {
			return nil
		}
		n += 1 + 2*len(ru.Subnets) + len(ru.Geos)
	}
	t := make([]tabCell, 0, n)
	for i, ru := range rs {
		h := uint64(len(ru.Subnets)) | uint64(len(ru.Geos))<<16
		if len(ru.Geos) > 0 {
			h |= 1 << 32
		}
		pool := uint64(0xffffffff)
		if ru.pool != nil {
			pool = uint64(ru.pool.index)
		}
		t = append(t, tabCell{uint64(i) | pool<<32, h})
		for _, s := range ru.Subnets {
			a := addrOf(s.Addr())
			v4 := uint64(0)
			if a.v4 {
				v4 = 1
			}
			t = append(t, tabCell{a.hi, a.lo}, tabCell{uint64(s.Bits()), v4})
		}
		for _, k := range ru.keys {
			t = append(t, tabCell{k.key, k.mask})
		}
	}
	return t
}

// firstRule returns the first of r's rules that matches c (nil: none) and
// how many leading address bits the decision depends on, as the loop over
// Rule.match in Select computes them.
func (r *Record) firstRule(c *Client) (*Rule, int) {
	m := r.matchTab(c)
	if m.rule < 0 {
		return nil, m.need
	}
	return r.Rules[m.rule], m.need
}

// tabMatch is what matchTab found: the index of the first matching rule
// (-1: none) and of its pool (-1: none), whether it is a catch-all, and
// the address bits the decision depends on.
type tabMatch struct {
	rule, pool int
	catchAll   bool
	need       int
}

// matchTab is firstRule by indexes, without touching the rules.
func (r *Record) matchTab(c *Client) tabMatch {
	t := r.tab
	need := 0
	var a addr128
	haveAddr := false
	for i := 0; i < len(t); {
		h := t[i].b
		idx, nNets, nKeys, geos := int(t[i].a&0xffffffff), int(h&0xffff), int(h>>16&0xffff), h>>32 != 0
		pool := int(int32(uint32(t[i].a >> 32)))
		i++
		if nNets == 0 && !geos {
			return tabMatch{idx, pool, true, need}
		}
		if nNets > 0 && !haveAddr {
			a, haveAddr = addrOf(c.Addr), true
		}
		// A rule that matches depends on what matched it; one that does
		// not, on every near miss (see Rule.match).
		miss := 0
		for range nNets {
			n, nb := t[i], t[i+1]
			i += 2
			if (nb.b == 1) != a.v4 {
				continue
			}
			common := 128
			if x := a.hi ^ n.a; x != 0 {
				common = bits.LeadingZeros64(x)
			} else if x := a.lo ^ n.b; x != 0 {
				common = 64 + bits.LeadingZeros64(x)
			}
			if a.v4 {
				common -= 96
			}
			if a.valid && common >= int(nb.a) {
				return tabMatch{idx, pool, false, max(need, int(nb.a))}
			}
			miss = max(miss, min(int(nb.a), common+1))
		}
		keys := t[i : i+nKeys]
		i += nKeys
		if geos && c.Geo != nil {
			lb := c.locationBits()
			if c.keyed {
				for _, k := range keys {
					if c.key&k.b == k.a {
						return tabMatch{idx, pool, false, max(need, lb)}
					}
				}
			} else if c.inAny(r.Rules[idx]) {
				return tabMatch{idx, pool, false, max(need, lb)}
			}
			miss = max(miss, lb)
		}
		need = max(need, miss)
	}
	return tabMatch{-1, -1, false, need}
}

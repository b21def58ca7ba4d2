package pools

import (
	"github.com/meridiandns/meridian/internal/packed"
	"github.com/miekg/dns"
)

// Prepare builds the answer RRs of every value, with the record TTL and
// with the degraded TTL (capped at the record TTL), and their wire form,
// so that Select only hands out prebuilt slices. Call it once, before the
// record is shared.
//
// A zone set holds thousands of records, so the answers are laid out in
// a few allocations per record rather than several per value: one array
// of RR structs, one of one-RR slices, one buffer for the addresses and
// one for the wire forms. The fail-open answer shares the values' RRs.
func (r *Record) Prepare(degradedTTL uint32) {
	r.degradedTTL = degradedTTL
	for i, p := range r.Pools {
		p.index = i
		p.up = nil
		for _, v := range p.Values {
			if v.Status != Down {
				p.up = append(p.up, v)
			}
		}
	}
	for _, ru := range r.Rules {
		ru.keys = nil
		keys := make([]codeKey, 0, len(ru.Geos))
		for _, g := range ru.Geos {
			if key, mask, ok := g.Key(); ok {
				keys = append(keys, codeKey{key, mask})
			}
		}
		if len(keys) == len(ru.Geos) && len(keys) > 0 {
			ru.keys = keys
		}
	}
	r.tab = newRuleTab(r.Rules)
	r.cells = (len(r.Rules) + 1) * (len(r.Pools) + 1) * nOutcomes
	ttls := [2]uint32{r.TTL, min(r.TTL, degradedTTL)}

	var values []*Value
	for _, p := range r.Pools {
		values = append(values, p.Values...)
	}
	values = append(values, r.Values...)
	n := len(values)

	one := make([]dns.RR, 2*n) // v.rrs[i] is one element of it
	all := make([]dns.RR, 2*len(r.Values))
	rrs := r.newRRs(2 * n)
	for i, v := range values {
		for t, ttl := range ttls {
			rr := rrs(2*i+t, v, ttl)
			one[2*i+t] = rr
			v.rrs[t] = one[2*i+t : 2*i+t+1 : 2*i+t+1]
		}
	}
	for t := range ttls {
		r.valueRRs[t] = all[t*len(r.Values) : (t+1)*len(r.Values) : (t+1)*len(r.Values)]
		for j, v := range r.Values {
			r.valueRRs[t][j] = v.rrs[t][0]
		}
	}

	size := 0
	for _, rr := range append(one, all...) {
		size += dns.Len(rr)
	}
	wire := make([]byte, 0, size) // each value's forms, then the fail-open answers'
	for _, v := range values {
		for t := range ttls {
			v.wire[t] = nil
			start := len(wire)
			if b, ok := packed.Append(wire, v.rrs[t]...); ok {
				wire = b
				v.wire[t] = wire[start:len(wire):len(wire)]
			}
		}
	}
	for t := range ttls {
		r.valueWire[t] = nil
		start := len(wire)
		if b, ok := packed.Append(wire, r.valueRRs[t]...); ok && len(r.valueRRs[t]) > 0 {
			wire = b
			r.valueWire[t] = wire[start:len(wire):len(wire)]
		}
	}
	r.prepareSettled()
}

// newRRs returns a function that makes the i-th of n answer RRs of r's
// type, backed by one array.
func (r *Record) newRRs(n int) func(i int, v *Value, ttl uint32) dns.RR {
	hdr := func(ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: r.Name, Rrtype: r.Type, Class: dns.ClassINET, Ttl: ttl}
	}
	// Both TTL forms of a value (i even, then odd) share its address.
	ips, last := make([]byte, 0, 16*n/2), 0
	addr := func(i int, v *Value) []byte {
		if i%2 == 0 {
			last = len(ips)
			if a := v.Addr; r.Type == dns.TypeA && (a.Is4() || a.Is4In6()) {
				b := a.As4()
				ips = append(ips, b[:]...)
			} else {
				b := a.As16()
				ips = append(ips, b[:]...)
			}
		}
		return ips[last:len(ips):len(ips)]
	}
	switch r.Type {
	case dns.TypeA:
		as := make([]dns.A, n)
		return func(i int, v *Value, ttl uint32) dns.RR {
			as[i] = dns.A{Hdr: hdr(ttl), A: addr(i, v)}
			return &as[i]
		}
	case dns.TypeAAAA:
		as := make([]dns.AAAA, n)
		return func(i int, v *Value, ttl uint32) dns.RR {
			as[i] = dns.AAAA{Hdr: hdr(ttl), AAAA: addr(i, v)}
			return &as[i]
		}
	default:
		cs := make([]dns.CNAME, n)
		return func(i int, v *Value, ttl uint32) dns.RR {
			cs[i] = dns.CNAME{Hdr: hdr(ttl), Target: v.Value}
			return &cs[i]
		}
	}
}

package pools

import (
	"sync/atomic"

	"github.com/meridiandns/meridian/internal/packed"
	"github.com/miekg/dns"
)

// Prepare builds the answer RRs of every value, with the record TTL and
// with the degraded TTL (capped at the record TTL), and their wire form,
// so that Select only hands out prebuilt slices. Call it once, before the record is shared.
func (r *Record) Prepare(degradedTTL uint32) {
	r.degradedTTL = degradedTTL
	for i, p := range r.Pools {
		p.index = i
	}
	r.Counters = make([]atomic.Pointer[atomic.Uint64], (len(r.Rules)+1)*(len(r.Pools)+1)*nOutcomes)
	ttls := [2]uint32{r.TTL, min(r.TTL, degradedTTL)}
	build := func(v *Value) {
		for i, ttl := range ttls {
			v.rrs[i] = []dns.RR{r.rr(v, ttl)}
			v.wire[i] = packed.Of(v.rrs[i])
		}
	}
	for _, p := range r.Pools {
		for _, v := range p.Values {
			build(v)
		}
	}
	for i, ttl := range ttls {
		r.valueRRs[i] = make([]dns.RR, 0, len(r.Values))
		for _, v := range r.Values {
			if i == 0 {
				build(v)
			}
			r.valueRRs[i] = append(r.valueRRs[i], r.rr(v, ttl))
		}
		r.valueWire[i] = packed.Of(r.valueRRs[i])
	}
}

func (r *Record) rr(v *Value, ttl uint32) dns.RR {
	hdr := dns.RR_Header{Name: r.Name, Rrtype: r.Type, Class: dns.ClassINET, Ttl: ttl}
	switch r.Type {
	case dns.TypeA:
		return &dns.A{Hdr: hdr, A: v.Addr.AsSlice()}
	case dns.TypeAAAA:
		return &dns.AAAA{Hdr: hdr, AAAA: v.Addr.AsSlice()}
	default:
		return &dns.CNAME{Hdr: hdr, Target: v.Value}
	}
}

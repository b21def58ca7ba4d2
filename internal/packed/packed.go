// Package packed keeps answers in wire form, made once when a zone or a
// dynamic record is compiled, so that the UDP fast path writes a response
// by copying bytes instead of packing RRs one interface call, pointer and
// name at a time. On a mix spread over thousands of names most of the
// cost of packing is cache misses on the RR structs and their address
// slices; a section's wire form is one contiguous slice next to the data
// the lookup has just read.
//
// A section's wire form is its RRs packed uncompressed one after the
// other (owner, type, class, TTL, RDLENGTH, RDATA), in order. Any RR that
// miekg/dns can pack has one.
package packed

import "github.com/miekg/dns"

// Append appends the wire form of rrs to b. It reports false, with b as
// it was, when an RR does not pack.
func Append(b []byte, rrs ...dns.RR) ([]byte, bool) {
	start := len(b)
	for _, rr := range rrs {
		if rr == nil {
			return b[:start], false
		}
		off := len(b)
		b = append(b, make([]byte, dns.Len(rr))...)
		end, err := dns.PackRR(rr, b, off, nil, false)
		if err != nil {
			return b[:start], false
		}
		b = b[:end]
	}
	return b, true
}

// Of returns the wire form of rrs in a slice of its own; nil when rrs is
// empty or an RR does not pack, so callers tell "no wire form" by
// len(rrs) > 0 with a nil result.
func Of(rrs []dns.RR) []byte {
	if len(rrs) == 0 {
		return nil
	}
	size := 0
	for _, rr := range rrs {
		if rr == nil {
			return nil
		}
		size += dns.Len(rr)
	}
	b, ok := Append(make([]byte, 0, size), rrs...)
	if !ok {
		return nil
	}
	return b[:len(b):len(b)]
}

// Write appends the RRs of section p to the message out, whose question
// name (wire form, as the query had it) is qname at offset 12: an owner
// that equals it byte for byte becomes a pointer to it, as the fast path
// has always compressed, and every other name is copied as it is. It
// reports how many RRs it wrote, and false when p is not well formed.
func Write(out, p, qname []byte) ([]byte, int, bool) {
	n := 0
	for len(p) > 0 {
		owner, next := first(p)
		if next < 0 {
			return out, n, false
		}
		if string(p[:owner]) == string(qname) {
			out = append(out, 0xC0, 12)
			out = append(out, p[owner:next]...)
		} else {
			out = append(out, p[:next]...)
		}
		p = p[next:]
		n++
	}
	return out, n, true
}

// Each calls f with the wire form of each RR of section p, in order; it
// stops at the first that is not well formed.
func Each(p []byte, f func(rr []byte)) {
	for len(p) > 0 {
		_, next := first(p)
		if next < 0 {
			return
		}
		f(p[:next])
		p = p[next:]
	}
}

// first measures the RR that starts p: the length of its owner name and
// of the whole RR; next is -1 when p does not start with a well-formed RR.
func first(p []byte) (owner, next int) {
	owner = -1
	for off := 0; off < len(p); {
		l := int(p[off])
		if l == 0 {
			owner = off + 1
			break
		}
		if l > 63 {
			return -1, -1
		}
		off += 1 + l
	}
	if owner < 0 || owner+10 > len(p) {
		return -1, -1
	}
	next = owner + 10 + (int(p[owner+8])<<8 | int(p[owner+9]))
	if next > len(p) {
		return -1, -1
	}
	return owner, next
}

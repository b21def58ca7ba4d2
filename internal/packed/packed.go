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
	b, ok := Append(nil, rrs...)
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
		end := nameEnd(p)
		if end < 0 || end+10 > len(p) {
			return out, n, false
		}
		rdlen := int(p[end+8])<<8 | int(p[end+9])
		next := end + 10 + rdlen
		if next > len(p) {
			return out, n, false
		}
		if string(p[:end]) == string(qname) {
			out = append(out, 0xC0, 12)
			out = append(out, p[end:next]...)
		} else {
			out = append(out, p[:next]...)
		}
		p = p[next:]
		n++
	}
	return out, n, true
}

// nameEnd is the offset just past the uncompressed name that starts b;
// -1 when b does not start with one.
func nameEnd(b []byte) int {
	off := 0
	for off < len(b) {
		l := int(b[off])
		if l == 0 {
			return off + 1
		}
		if l > 63 {
			return -1
		}
		off += 1 + l
	}
	return -1
}

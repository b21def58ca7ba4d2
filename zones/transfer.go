package zones

import (
	"bytes"
	"slices"

	"github.com/miekg/dns"
)

// TransferRRs returns the zone as a secondary copies it (AXFR, RFC 5936):
// the SOA first, then every other RRset, owner names in canonical order
// (RFC 4034 6.1) and types ascending at each name; the closing SOA is the
// caller's to add. The order is the same for the same zone data, so two
// transfers of one serial are byte-for-byte alike.
//
// A secondary cannot run policies, so a dynamic record is transferred as
// its top-level values (the fail-open answers) with the TTL the fleet
// answers it with (its ttl, else dynamic_ttl): a static copy a secondary
// can serve should the whole fleet be unreachable. An apex
// ALIAS is transferred as the A and AAAA RRsets it answers with (its
// target's values, with the ALIAS's TTL). Glue and other records below a
// delegation are included, as AXFR requires.
//
// The RRs are shared with the snapshot: callers must not modify them.
func (z *Zone) TransferRRs() []dns.RR {
	names := make([]*node, 0, len(z.nodes))
	n := 1 // the SOA
	for _, nd := range z.nodes {
		if len(nd.sets) == 0 && nd.alias == "" {
			continue // an empty non-terminal
		}
		names = append(names, nd)
		for i := range nd.sets {
			n += len(nd.sets[i].rrs)
		}
	}
	keys := make(map[*node][][]byte, len(names))
	for _, nd := range names {
		keys[nd] = canonicalLabels(nd.name)
	}
	slices.SortFunc(names, func(a, b *node) int { return compareLabels(keys[a], keys[b]) })

	out := make([]dns.RR, 0, n)
	out = append(out, z.SOA)
	for _, nd := range names {
		alias := z.aliasRRs(nd) // A before AAAA, so one pass merges them in
		for i := range nd.sets {
			typ := nd.sets[i].typ
			for len(alias) > 0 && alias[0].Header().Rrtype < typ {
				out, alias = append(out, alias[0]), alias[1:]
			}
			if typ != dns.TypeSOA {
				out = append(out, transferSet(nd, &nd.sets[i])...)
			}
		}
		out = append(out, alias...)
	}
	return out
}

// transferSet is one RRset as transferred: a dynamic record's values get
// the TTL the fleet answers the name with (its ttl, else dynamic_ttl).
func transferSet(nd *node, s *rrset) []dns.RR {
	if s.dyn == nil || len(s.rrs) == 0 || s.rrs[0].Header().Ttl == s.dyn.TTL {
		return s.rrs
	}
	return withOwner(s.rrs, nd.name, s.dyn.TTL)
}

// aliasRRs are the A and AAAA RRs an ALIAS at nd answers with, owned by
// nd's name.
func (z *Zone) aliasRRs(nd *node) []dns.RR {
	if nd.alias == "" {
		return nil
	}
	t := z.nodes[nd.alias]
	if t == nil {
		return nil
	}
	var out []dns.RR
	for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
		if nd.get(typ) != nil {
			continue // never two RRsets of one type at a name
		}
		if s := t.get(typ); s != nil {
			out = append(out, withOwner(s.rrs, nd.name, nd.aliasTTL)...)
		}
	}
	return out
}

// canonicalLabels returns the labels of name, rightmost first, as the wire
// has them (escapes resolved), for canonical ordering. Names in the tree
// are already lower case.
func canonicalLabels(name string) [][]byte {
	buf := make([]byte, 256)
	end, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return [][]byte{[]byte(name)} // cannot happen for a loaded zone; still a stable key
	}
	var labels [][]byte
	for off := 0; off < end && buf[off] != 0; off += int(buf[off]) + 1 {
		labels = append(labels, buf[off+1:off+1+int(buf[off])])
	}
	slices.Reverse(labels)
	return labels
}

// compareLabels orders two names given by canonicalLabels: label by label
// from the right, a name sorting before the names below it.
func compareLabels(a, b [][]byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := bytes.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

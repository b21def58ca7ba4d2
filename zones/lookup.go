package zones

import (
	"github.com/miekg/dns"
)

// Kind is the outcome of a lookup. The server maps it to an rcode and the
// AA bit; nothing in this package knows about messages.
type Kind uint8

const (
	// Refused: the name is in none of our zones.
	Refused Kind = iota
	// Success: Answer holds the RRset (after any CNAME chain).
	Success
	// NoData: the name exists but has no RRset of the type; Ns holds the SOA.
	NoData
	// NameError: the name does not exist; Ns holds the SOA.
	NameError
	// Delegation: the name is at or below a zone cut; Ns holds the cut's
	// NS RRset and Extra its glue. Not authoritative.
	Delegation
	// YXDomain: a DNAME substitution produced a name longer than 255 octets.
	YXDomain
)

var kindNames = [...]string{"Refused", "Success", "NoData", "NameError", "Delegation", "YXDomain"}

func (k Kind) String() string { return kindNames[k] }

// maxChain bounds CNAME/DNAME chasing (RFC 1034 leaves it to the server).
const maxChain = 8

// Result is what a lookup found. Its slices may share memory with the
// snapshot: callers must not modify them or the RRs in them.
type Result struct {
	Kind   Kind
	Zone   *Zone // zone of the query name; nil when Refused
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR
}

// step is the result of looking a name up in one zone.
type step struct {
	kind   Kind
	answer []dns.RR
	ns     []dns.RR
	extra  []dns.RR
	next   string // CNAME target to chase; "" when done
}

// Lookup answers qname/qtype from the set, chasing CNAMEs (and DNAME
// substitutions) through every zone of the set. qname is the name as asked;
// synthesised owners keep its case.
func (s *Set) Lookup(qname string, qtype uint16) Result {
	lname := lower(qname)
	z := s.find(lname, qtype)
	if z == nil {
		return Result{Kind: Refused}
	}
	st := z.lookup(qname, lname, qtype)
	res := Result{Kind: st.kind, Zone: z, Answer: st.answer, Ns: st.ns, Extra: st.extra}
	if st.next == "" {
		return res
	}
	var seen [maxChain + 1]string
	seen[0] = lname
	for hop := 1; st.next != "" && hop <= maxChain; hop++ {
		name := st.next
		lname = lower(name)
		for _, v := range seen[:hop] {
			if v == lname {
				return res // loop: answer the chain so far
			}
		}
		seen[hop] = lname
		tz := s.find(lname, qtype)
		if tz == nil {
			return res // leaves our zones: the resolver continues from here
		}
		st = tz.lookup(name, lname, qtype)
		if st.kind == Delegation {
			return res
		}
		res.Answer = append(res.Answer, st.answer...)
		res.Extra = append(res.Extra, st.extra...)
		res.Kind = st.kind
		res.Ns = st.ns
		if res.Kind == NoData || res.Kind == NameError {
			// RFC 6604: the rcode describes the last name of the chain.
			res.Zone = tz
		}
	}
	return res
}

// find returns the zone with the longest origin that contains lname. A DS
// query for a zone's apex goes to the parent zone when we serve it too
// (RFC 4035 3.1.4.1): DS lives on the parent side of a cut.
func (s *Set) find(lname string, qtype uint16) *Zone {
	var best *Zone
	for name := lname; ; {
		if z := s.zones[name]; z != nil {
			if best == nil {
				best = z
				if !(qtype == dns.TypeDS && name == lname) {
					return best
				}
			} else {
				return z
			}
		}
		_, parent, ok := cutLabel(name)
		if !ok {
			return best
		}
		name = parent
	}
}

// lookup resolves one name in z, walking from the apex down so that a
// delegation cut or DNAME is found before wildcard or negative logic runs.
func (z *Zone) lookup(qname, lname string, qtype uint16) step {
	var starts [128]int
	k := labelStarts(lname, len(lname)-len(z.Origin), &starts)
	if k == 0 {
		return z.atNode(z.apex, qname, qtype)
	}
	if z.apex.dname != nil {
		return z.dnameStep(z.apex, qname)
	}
	ce := z.apex
	for j := k - 1; j >= 0; j-- {
		n := z.nodes[lname[starts[j]:]]
		if n == nil {
			return z.noSuchName(ce, qname, qtype)
		}
		if n.cut && (j > 0 || qtype != dns.TypeDS) {
			return z.referral(n)
		}
		if j == 0 {
			return z.atNode(n, qname, qtype)
		}
		if n.dname != nil {
			return z.dnameStep(n, qname)
		}
		ce = n
	}
	return z.atNode(ce, qname, qtype) // unreachable: j == 0 returns
}

// labelStarts records the offsets of the labels of name that lie before
// offset end (the start of the zone origin), left to right, and returns
// how many there are.
func labelStarts(name string, end int, starts *[128]int) int {
	k := 0
	for i := 0; i < end && k < len(starts); {
		starts[k] = i
		k++
		for i < end && name[i] != '.' {
			if name[i] == '\\' {
				i++
			}
			i++
		}
		i++
	}
	return k
}

// atNode answers from a name that exists.
func (z *Zone) atNode(n *node, qname string, qtype uint16) step {
	return z.answerFrom(n, qname, qtype, false)
}

// answerFrom answers qtype from node n. With synth, n is a wildcard and the
// RRs are copied with qname as owner (RFC 4592).
func (z *Zone) answerFrom(n *node, qname string, qtype uint16, synth bool) step {
	own := func(rrs []dns.RR) []dns.RR {
		if !synth {
			return rrs
		}
		return withOwner(rrs, qname, 0)
	}
	if c := n.get(dns.TypeCNAME); c != nil && qtype != dns.TypeCNAME {
		return step{kind: Success, answer: own(c.rrs), next: c.rrs[0].(*dns.CNAME).Target}
	}
	if qtype == dns.TypeANY {
		// RFC 8482: one RRset, the one with the lowest type code.
		if len(n.sets) > 0 {
			return step{kind: Success, answer: own(n.sets[0].rrs), extra: n.sets[0].extra}
		}
		qtype = dns.TypeA // an ALIAS-only node answers ANY with its A
	}
	if s := n.get(qtype); s != nil {
		return step{kind: Success, answer: own(s.rrs), extra: s.extra}
	}
	if n.alias != "" && (qtype == dns.TypeA || qtype == dns.TypeAAAA) {
		if t := z.nodes[n.alias]; t != nil {
			if s := t.get(qtype); s != nil {
				return step{kind: Success, answer: withOwner(s.rrs, qname, n.aliasTTL)}
			}
		}
	}
	return step{kind: NoData, ns: []dns.RR{z.neg}}
}

// noSuchName handles a name that does not exist below closest encloser ce:
// wildcard synthesis when ce has a "*" child, else NXDOMAIN.
func (z *Zone) noSuchName(ce *node, qname string, qtype uint16) step {
	if ce.wild != nil {
		return z.answerFrom(ce.wild, qname, qtype, true)
	}
	return step{kind: NameError, ns: []dns.RR{z.neg}}
}

func (z *Zone) referral(cut *node) step {
	ns := cut.get(dns.TypeNS)
	return step{kind: Delegation, ns: ns.rrs, extra: ns.extra}
}

// dnameStep substitutes the DNAME at n into qname (RFC 6672) and answers
// the DNAME plus a synthesised CNAME to chase.
func (z *Zone) dnameStep(n *node, qname string) step {
	d := n.dname
	prefix := qname[:len(qname)-len(n.name)]
	target := prefix + d.Target
	if len(target) > 254 { // 255 octets on the wire
		return step{kind: YXDomain, answer: []dns.RR{d}}
	}
	cname := &dns.CNAME{
		Hdr:    dns.RR_Header{Name: qname, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: d.Hdr.Ttl},
		Target: target,
	}
	return step{kind: Success, answer: []dns.RR{d, cname}, next: target}
}

// withOwner copies rrs with owner name set to owner, and the TTL to ttl
// when ttl is non-zero.
func withOwner(rrs []dns.RR, owner string, ttl uint32) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		c := dns.Copy(rr)
		c.Header().Name = owner
		if ttl != 0 {
			c.Header().Ttl = ttl
		}
		out[i] = c
	}
	return out
}

package zones

import (
	"github.com/meridiandns/meridian/pools"
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

	// Dynamic is true when a dynamic record chose part of the answer;
	// Decision is the first such choice and Scope the widest ECS scope
	// prefix length any choice in the chain depends on (0 otherwise).
	Dynamic  bool
	Decision pools.Decision
	Scope    int

	// Synth is the owner (lower case) of the wildcard or DNAME that stood
	// in for the query name, "" when the name was found as itself. Names
	// below a wildcard or DNAME are as many as anyone cares to make up;
	// this one is a name of the zone, which rate limiting keys on.
	Synth string

	// Packed is the sections in wire form, for the UDP fast path.
	Packed Packed
}

// Packed is a result's sections in wire form (see internal/packed), each
// holding the RRs of the matching Result section. OK is false when some
// RR has none — synthesised owners (wildcards, ALIAS, DNAME), CNAME
// chains, referrals — and the caller must pack the RRs instead.
type Packed struct {
	Answer, Ns, Extra []byte
	OK                bool
}

// Query is who is asking, for dynamic records. The zero value (no
// client) answers dynamic records with their static values.
type Query struct {
	Client *pools.Client
	Health pools.Health // nil = every value healthy
	Trace  *pools.Trace // nil on the query path

	res *Result
}

// choose runs the policy of d for the query and notes the decision.
//
// h is passed apart from q, rather than read from q.Health, so that the
// Health interface escaping into Select does not drag q's other pointers
// (the client, the result) to the heap with it.
func (q *Query) choose(d *pools.Record, h pools.Health) ([]dns.RR, []byte) {
	dec := d.Select(q.Client, h, q.Trace)
	if !q.res.Dynamic {
		q.res.Dynamic, q.res.Decision = true, dec
	}
	q.res.Scope = max(q.res.Scope, dec.Scope)
	return dec.Answer, dec.Wire
}

// step is the result of looking a name up in one zone.
type step struct {
	kind   Kind
	answer []dns.RR
	ns     []dns.RR
	extra  []dns.RR
	next   string // CNAME target to chase; "" when done
	synth  string // owner of the wildcard or DNAME used; "" when none
	packed Packed
}

// Lookup answers qname/qtype without a client: dynamic records give their
// static values.
func (s *Set) Lookup(qname string, qtype uint16) Result {
	return s.LookupFor(qname, qtype, Query{})
}

// LookupFor answers qname/qtype from the set for q, chasing CNAMEs (and
// DNAME substitutions) through every zone of the set. qname is the name as
// asked; synthesised owners keep its case.
func (s *Set) LookupFor(qname string, qtype uint16, q Query) Result {
	var res Result
	s.lookup(qname, lower(qname), qtype, q.Client, q.Trace, q.Health, nil, &res)
	return res
}

// LookupLower is LookupFor without a trace, for a caller that has lname,
// qname in lower case, at hand: the query path. Neither string is kept
// after it returns, except as the owner of synthesised RRs (wildcards,
// ALIAS, DNAME). A CNAME chain's answer is assembled in buf (when it has
// room), so that lookups allocate nothing for static, negative and
// dynamic answers alike. The result is written to res, which the caller
// keeps from query to query rather than have it copied out.
func (s *Set) LookupLower(qname, lname string, qtype uint16, c *pools.Client, h pools.Health, buf []dns.RR, res *Result) {
	s.lookup(qname, lname, qtype, c, nil, h, buf, res)
}

// lookup takes the health apart from the rest of the query: escape
// analysis does not tell struct fields apart, and the Health interface
// escapes into Select, which would take the client and the result with it.
func (s *Set) lookup(qname, lname string, qtype uint16, c *pools.Client, tr *pools.Trace, h pools.Health, buf []dns.RR, res *Result) {
	*res = Result{}
	q := Query{Client: c, Trace: tr, res: res}
	if h == nil {
		h = pools.AllUp{}
	}
	var z *Zone
	var st step
	// A DS query at a zone apex belongs to the parent: the long way.
	if n := s.names.get(lname); n != nil && qtype != dns.TypeDS {
		z = n.zone
		st = z.answerFrom(n, qname, qtype, false, &q, h)
	} else {
		if z = s.find(lname, qtype); z == nil {
			res.Kind = Refused
			return
		}
		st = z.lookup(qname, lname, qtype, &q, h)
	}
	res.Kind, res.Zone, res.Answer, res.Ns, res.Extra = st.kind, z, st.answer, st.ns, st.extra
	res.Synth = st.synth // the query name's own step; later hops are names we hold
	if st.next == "" {
		res.Packed = st.packed
		return
	}
	res.Answer = append(buf[:0], res.Answer...)
	var seen [maxChain + 1]string
	seen[0] = lname
	for hop := 1; st.next != "" && hop <= maxChain; hop++ {
		name := st.next
		lname = lower(name)
		for _, v := range seen[:hop] {
			if v == lname {
				return // loop: answer the chain so far
			}
		}
		seen[hop] = lname
		tz := s.find(lname, qtype)
		if tz == nil {
			return // leaves our zones: the resolver continues from here
		}
		st = tz.lookup(name, lname, qtype, &q, h)
		if st.kind == Delegation {
			return
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
func (z *Zone) lookup(qname, lname string, qtype uint16, q *Query, h pools.Health) step {
	var starts [128]int
	k := labelStarts(lname, len(lname)-len(z.Origin), &starts)
	if k == 0 {
		return z.answerFrom(z.apex, qname, qtype, false, q, h)
	}
	if z.apex.dname != nil {
		return z.dnameStep(z.apex, qname, qtype)
	}
	ce := z.apex
	for j := k - 1; j >= 0; j-- {
		n := z.nodes[lname[starts[j]:]]
		if n == nil {
			return z.noSuchName(ce, qname, qtype, q, h)
		}
		if n.cut && (j > 0 || qtype != dns.TypeDS) {
			return z.referral(n)
		}
		if j == 0 {
			return z.answerFrom(n, qname, qtype, false, q, h)
		}
		if n.dname != nil {
			return z.dnameStep(n, qname, qtype)
		}
		ce = n
	}
	return z.answerFrom(ce, qname, qtype, false, q, h) // unreachable: j == 0 returns
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

// answerFrom answers qtype from node n. With synth, n is a wildcard and the
// RRs are copied with qname as owner (RFC 4592). Dynamic records choose
// their RRs for the query's client.
func (z *Zone) answerFrom(n *node, qname string, qtype uint16, synth bool, q *Query, h pools.Health) step {
	own := func(rrs []dns.RR) []dns.RR {
		if !synth {
			return rrs
		}
		return withOwner(rrs, qname, 0)
	}
	if c := n.get(dns.TypeCNAME); c != nil && qtype != dns.TypeCNAME {
		rrs, _ := z.rrsFor(n, c, q, h)
		if len(rrs) == 0 {
			return z.nothingToServe(c)
		}
		return step{kind: Success, answer: own(rrs), next: rrs[0].(*dns.CNAME).Target}
	}
	if qtype == dns.TypeANY {
		// RFC 8482: one RRset, the one with the lowest type code; an
		// ALIAS-only node answers with its A.
		qtype = dns.TypeA
		if len(n.sets) > 0 {
			qtype = n.sets[0].typ
		}
	}
	if s := n.get(qtype); s != nil {
		rrs, wire := z.rrsFor(n, s, q, h)
		if len(rrs) == 0 {
			return z.nothingToServe(s)
		}
		st := step{kind: Success, answer: own(rrs), extra: s.extra}
		if !synth {
			st.packed = Packed{Answer: wire, Extra: s.extraWire,
				OK: wire != nil && (s.extraWire != nil || len(s.extra) == 0)}
		}
		return st
	}
	if n.alias != "" && (qtype == dns.TypeA || qtype == dns.TypeAAAA) {
		if t := z.nodes[n.alias]; t != nil {
			if s := t.get(qtype); s != nil {
				rrs, _ := z.rrsFor(t, s, q, h)
				if len(rrs) > 0 {
					return step{kind: Success, answer: withOwner(rrs, qname, n.aliasTTL)}
				}
				return z.nothingToServe(s)
			}
		}
	}
	return z.negative(NoData)
}

// negative is a NoData or NameError step: the SOA in the authority
// section.
func (z *Zone) negative(kind Kind) step {
	return step{kind: kind, ns: z.negNs, packed: Packed{Ns: z.negWire, OK: z.negWire != nil}}
}

// nothingToServe is the NODATA of set s when its RRs come out empty: a
// dynamic record all of whose values are drained.
func (z *Zone) nothingToServe(s *rrset) step {
	a := s.drained
	if a == nil {
		return z.negative(NoData)
	}
	return step{kind: NoData, ns: a.ns, packed: Packed{Ns: a.wire, OK: a.wire != nil}}
}

// rrsFor returns the RRs of set s at node n, and their wire form (nil when
// they have none): the static RRset, or for a dynamic record with a
// client, the policy's choice.
func (z *Zone) rrsFor(n *node, s *rrset, q *Query, h pools.Health) ([]dns.RR, []byte) {
	if s.dyn == nil || q.Client == nil {
		return s.rrs, s.wire
	}
	return q.choose(s.dyn, h)
}

// noSuchName handles a name that does not exist below closest encloser ce:
// wildcard synthesis when ce has a "*" child, else NXDOMAIN.
func (z *Zone) noSuchName(ce *node, qname string, qtype uint16, q *Query, h pools.Health) step {
	if ce.wild != nil {
		st := z.answerFrom(ce.wild, qname, qtype, true, q, h)
		st.synth = ce.wild.name
		return st
	}
	return z.negative(NameError)
}

func (z *Zone) referral(cut *node) step {
	ns := cut.get(dns.TypeNS)
	return step{kind: Delegation, ns: ns.rrs, extra: ns.extra}
}

// dnameStep substitutes the DNAME at n into qname (RFC 6672) and answers
// the DNAME plus a synthesised CNAME to chase. A CNAME query is answered
// by that CNAME, as it is at a CNAME's owner: the target is not chased,
// and what becomes of it does not set the rcode.
func (z *Zone) dnameStep(n *node, qname string, qtype uint16) step {
	d := n.dname
	prefix := qname[:len(qname)-len(n.name)]
	target := prefix + d.Target
	if len(target) > 254 { // 255 octets on the wire
		return step{kind: YXDomain, answer: []dns.RR{d}, synth: n.name}
	}
	cname := &dns.CNAME{
		Hdr:    dns.RR_Header{Name: qname, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: d.Hdr.Ttl},
		Target: target,
	}
	st := step{kind: Success, answer: []dns.RR{d, cname}, next: target, synth: n.name}
	if qtype == dns.TypeCNAME {
		st.next = ""
	}
	return st
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

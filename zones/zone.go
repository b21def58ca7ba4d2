package zones

import (
	"iter"
	"slices"
	"sort"
	"strings"

	"github.com/meridiandns/meridian/internal/packed"
	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
)

// Zone is one compiled zone: an apex and a tree of names, flattened into a
// map keyed by lower-case owner name. Empty non-terminals are present as
// nodes without RRsets, so existence checks are one map lookup.
type Zone struct {
	Origin string // fully qualified, lower case
	Path   string // file the zone was loaded from
	SOA    *dns.SOA
	// Records are the zone's entries as written, for tools that explain or
	// transfer the zone. Static RRs are shared with the lookup tree.
	Records []*Record

	neg     *dns.SOA // SOA for negative answers: TTL = min(SOA TTL, minimum)
	negNs   []dns.RR // neg as an authority section, shared by every answer
	negWire []byte   // negNs in wire form
	nodes   map[string]*node
	apex    *node
	hash    [32]byte // content hash, SOA serial excluded

	// drainedNeg are the negative answers of dynamic records with nothing
	// left to serve, by TTL (see rrset.drained).
	drainedNeg map[uint32]*negAnswer

	// ownSerial is set when the loader handed out the SOA serial (a YAML
	// zone) rather than reading it from the file: it then says when this
	// node saw the content change, not what the content is.
	ownSerial bool
}

// node is one owner name.
type node struct {
	name     string
	zone     *Zone
	sets     []rrset // sorted by type
	alias    string  // ALIAS target (apex only), lower case
	aliasTTL uint32
	wild     *node // the "*" child, the source of wildcard synthesis
	cut      bool  // NS below the apex: a delegation point
	dname    *dns.DNAME
}

// rrset is the RRs of one type at one name, with the additional-section
// records precomputed for the types that want them.
type rrset struct {
	typ   uint16
	rrs   []dns.RR
	extra []dns.RR
	dyn   *pools.Record // the policy of a dynamic record; rrs are its fail-open values
	// drained is the NODATA a dynamic record answers when every value is
	// drained: its SOA's TTL is capped at the record's degraded TTL, so
	// that resolvers do not keep the empty answer for the full negative
	// TTL once a drain is undone. Nil for static sets.
	drained *negAnswer

	// wire and extraWire are rrs and extra in wire form (internal/packed);
	// nil when empty or when an RR does not pack.
	wire, extraWire []byte
}

// negAnswer is the authority section of a negative answer.
type negAnswer struct {
	soa  *dns.SOA
	ns   []dns.RR // soa alone
	wire []byte   // ns in wire form
}

func (n *node) get(t uint16) *rrset {
	for i := range n.sets {
		if n.sets[i].typ == t {
			return &n.sets[i]
		}
	}
	return nil
}

// compile builds the lookup tree for origin from records. The SOA must be
// among rrs or be passed in soa.
func compile(origin, path string, records []*Record, soa *dns.SOA) *Zone {
	z := &Zone{Origin: origin, Path: path, SOA: soa, Records: records, nodes: make(map[string]*node)}
	z.apex = z.ensure(origin)
	for _, r := range records {
		name := ownerName(r.Name, origin)
		n := z.ensure(name)
		if r.Type == "ALIAS" {
			n.alias, n.aliasTTL = strings.ToLower(r.Alias), r.TTL
			continue
		}
		for _, rr := range r.RRs {
			z.add(n, rr)
		}
		if r.Policy != nil {
			if s := n.get(r.Policy.Type); s != nil {
				s.dyn = r.Policy
			}
		}
	}
	if soa != nil {
		z.add(z.apex, soa)
	}
	neg := *z.SOA
	neg.Hdr.Ttl = min(z.SOA.Hdr.Ttl, z.SOA.Minttl)
	z.neg = &neg
	z.negNs = []dns.RR{z.neg}
	for _, n := range z.nodes {
		sort.Slice(n.sets, func(i, j int) bool { return n.sets[i].typ < n.sets[j].typ })
		for i := range n.sets {
			n.sets[i].rrs = slices.Clip(n.sets[i].rrs)
		}
		if label, parent, ok := cutLabel(n.name); ok && label == "*" {
			if p := z.nodes[parent]; p != nil {
				p.wild = n
			}
		}
		n.cut = n != z.apex && n.get(dns.TypeNS) != nil
		if d := n.get(dns.TypeDNAME); d != nil {
			n.dname = d.rrs[0].(*dns.DNAME)
		}
		for i := range n.sets {
			if s := &n.sets[i]; s.dyn != nil {
				s.drained = z.drainedNegative(s.dyn.DegradedTTL())
			}
		}
	}
	z.addExtras()
	z.pack()
	return z
}

// drainedNegative returns the zone's negative answer with its SOA TTL
// capped at ttl, shared by every record with that cap.
func (z *Zone) drainedNegative(ttl uint32) *negAnswer {
	ttl = min(ttl, z.neg.Hdr.Ttl)
	if a := z.drainedNeg[ttl]; a != nil {
		return a
	}
	soa := *z.neg
	soa.Hdr.Ttl = ttl
	a := &negAnswer{soa: &soa, ns: []dns.RR{&soa}}
	if z.drainedNeg == nil {
		z.drainedNeg = map[uint32]*negAnswer{}
	}
	z.drainedNeg[ttl] = a
	return a
}

// setSerial sets the SOA serial of a YAML zone, which is known only once
// the zone is compiled and hashed, in the SOA and the negative answers'
// copy of it, and in their wire form.
func (z *Zone) setSerial(serial uint32) {
	z.ownSerial = true
	z.SOA.Serial, z.neg.Serial = serial, serial
	z.negWire = packed.Of(z.negNs)
	for _, a := range z.drainedNeg {
		a.soa.Serial = serial
		a.wire = packed.Of(a.ns)
	}
	if s := z.apex.get(dns.TypeSOA); s != nil {
		s.wire = packed.Of(s.rrs)
	}
}

// pack makes the wire form of every RRset, its additional records and the
// negative answer's SOA, for the UDP fast path.
func (z *Zone) pack() {
	z.negWire = packed.Of(z.negNs)
	for _, a := range z.drainedNeg {
		a.wire = packed.Of(a.ns)
	}
	for _, n := range z.nodes {
		for i := range n.sets {
			s := &n.sets[i]
			s.wire, s.extraWire = packed.Of(s.rrs), packed.Of(s.extra)
		}
	}
}

// ownerName turns a zone-relative name into a fully qualified lower-case one.
func ownerName(rel, origin string) string {
	if rel == "" {
		return origin
	}
	if strings.HasSuffix(rel, ".") {
		return strings.ToLower(rel)
	}
	if origin == "." {
		return strings.ToLower(rel) + "."
	}
	return strings.ToLower(rel) + "." + origin
}

// ensure returns the node for name, creating it and every empty
// non-terminal between it and the apex.
func (z *Zone) ensure(name string) *node {
	if n, ok := z.nodes[name]; ok {
		return n
	}
	n := &node{name: name, zone: z}
	z.nodes[name] = n
	if name != z.Origin {
		if _, parent, ok := cutLabel(name); ok && dns.IsSubDomain(z.Origin, parent) {
			z.ensure(parent)
		}
	}
	return n
}

// cutLabel splits "a.b.c." into "a" and "b.c.".
func cutLabel(name string) (label, parent string, ok bool) {
	if name == "." || name == "" {
		return "", "", false
	}
	i := 0
	for i < len(name) {
		if name[i] == '\\' {
			i += 2
			continue
		}
		if name[i] == '.' {
			break
		}
		i++
	}
	if i >= len(name)-1 {
		return name[:i], ".", true
	}
	return name[:i], name[i+1:], true
}

func (z *Zone) add(n *node, rr dns.RR) {
	rr.Header().Name = n.name
	t := rr.Header().Rrtype
	if s := n.get(t); s != nil {
		for _, have := range s.rrs {
			if dns.IsDuplicate(have, rr) {
				return
			}
		}
		s.rrs = append(s.rrs, rr)
		return
	}
	n.sets = append(n.sets, rrset{typ: t, rrs: []dns.RR{rr}})
}

// addExtras precomputes additional-section data: A/AAAA of in-zone targets
// of MX, SRV and NS RRsets (for NS at a cut this is the referral's glue).
func (z *Zone) addExtras() {
	for _, n := range z.nodes {
		for i := range n.sets {
			s := &n.sets[i]
			var targets []string
			for _, rr := range s.rrs {
				switch v := rr.(type) {
				case *dns.MX:
					targets = append(targets, v.Mx)
				case *dns.SRV:
					targets = append(targets, v.Target)
				case *dns.NS:
					targets = append(targets, v.Ns)
				}
			}
			seen := map[string]bool{}
			for _, t := range targets {
				t = strings.ToLower(t)
				if seen[t] || !dns.IsSubDomain(z.Origin, t) {
					continue
				}
				seen[t] = true
				tn := z.nodes[t]
				if tn == nil {
					continue
				}
				// Only glue may come from below a cut, and only for the
				// NS RRset of that cut.
				if c := z.cutAbove(t); c != nil && !(s.typ == dns.TypeNS && n.cut) {
					continue
				}
				for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
					if ts := tn.get(typ); ts != nil {
						s.extra = append(s.extra, ts.rrs...)
					}
				}
			}
			s.extra = slices.Clip(s.extra)
		}
	}
}

// direct reports whether the walk down from the apex to n reaches n and
// answers from it: neither n nor a node above it (below the apex) is a
// delegation cut, nor does one above it own a DNAME.
func (z *Zone) direct(n *node) bool {
	if n == z.apex {
		return true
	}
	if n.cut || z.apex.dname != nil {
		return false
	}
	for name := range below(n.name, z.Origin) {
		if p := z.nodes[name]; name != n.name && (p == nil || p.cut || p.dname != nil) {
			return false
		}
	}
	return true
}

// below yields name and each of its ancestors below origin, from name up;
// name must be at or below origin.
func below(name, origin string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for name != origin {
			if !yield(name) {
				return
			}
			_, parent, ok := cutLabel(name)
			if !ok {
				return
			}
			name = parent
		}
	}
}

// cutAbove returns the delegation point at or above name, if any.
func (z *Zone) cutAbove(name string) *node {
	for n := range below(name, z.Origin) {
		if c := z.nodes[n]; c != nil && c.cut {
			return c
		}
	}
	return nil
}

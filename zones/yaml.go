package zones

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/meridiandns/meridian/internal/fastyaml"
	"github.com/meridiandns/meridian/internal/octoyaml"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// ParseYAML parses one octoDNS zone file. origin is the fully qualified zone
// name ("example.com."), defTTL the TTL for records without `ttl`. It returns
// every record it could parse and every problem it found (not just the first).
//
// Validation mirrors octoDNS's default ("legacy") validators and reuses their
// wording, so an operator sees the same complaint from `meridian check` as
// from `octodns-validate`. Records with a problem are left out of the
// result; problems come back in file order.
func ParseYAML(path, origin string, data []byte, defTTL uint32) ([]*Record, Problems) {
	newParser := func() *yparser {
		return &yparser{path: path, origin: strings.ToLower(dns.Fqdn(origin)), defTTL: defTTL}
	}
	// Most zone files are written in a plain subset of YAML that
	// internal/fastyaml reads several times faster than yaml.v3, one
	// top-level name at a time, so a large file is never a whole tree in
	// memory; yaml.v3 reads the rest (and reports every syntax error).
	p := newParser()
	p.stream = true
	names := make(map[string]bool)
	ok := !forceYAMLv3 && fastyaml.Each(data, func(k, v *yaml.Node) {
		// What duplicateKeys and the loop below do for a whole tree.
		if names[k.Value] {
			if k.Value != "<<" {
				p.add(k.Line, "", k.Value, fmt.Sprintf(`found duplicate key "%s"`, k.Value))
			}
			p.duplicateKeys(v)
			return
		}
		names[k.Value] = true
		p.duplicateKeys(v)
		p.parseName(k, v)
	})
	if ok {
		return p.finish()
	}
	p = newParser()
	doc := new(yaml.Node)
	if err := yaml.Unmarshal(data, doc); err != nil {
		p.syntax(err)
		return nil, p.probs
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // an empty file is an empty zone
	}
	if bad, why := yexpansion(doc); bad != nil {
		p.add(bad.Line, "", "", why)
		return nil, p.probs
	}
	root := octoyaml.Resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		p.add(root.Line, "", "", "invalid zone file, expected a mapping of record names")
		return nil, p.probs
	}
	p.duplicateKeys(root)
	names = make(map[string]bool)
	for _, kv := range octoyaml.Pairs(root) {
		if names[kv.Key.Value] {
			continue // reported by duplicateKeys
		}
		names[kv.Key.Value] = true
		p.parseName(kv.Key, kv.Val)
	}
	return p.finish()
}

// forceYAMLv3 makes ParseYAML read every file with yaml.v3, for tests
// that compare the two readings.
var forceYAMLv3 bool

// finish runs the zone-level checks and returns the records and problems.
func (p *yparser) finish() ([]*Record, Problems) {
	p.checkNodes()
	sort.SliceStable(p.probs, func(i, j int) bool { return p.probs[i].Line < p.probs[j].Line })
	return p.records, p.probs
}

// yparser holds the state of one ParseYAML call.
type yparser struct {
	path    string
	origin  string
	defTTL  uint32
	probs   Problems
	records []*Record
	seen    []yseen // every record with a known type, for the zone-level checks
	stream  bool    // the nodes are fastyaml.Each's: a record keeps copies
}

// yseen is what the zone-level checks need to know about a record.
type yseen struct {
	name, typ, fqdn string
	line            int
	rec             *Record // nil when the record itself had problems
}

var yLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntax turns a yaml.v3 error into a problem on the line it names.
func (p *yparser) syntax(err error) {
	for _, msg := range strings.Split(err.Error(), "\n") {
		msg = strings.TrimSpace(msg)
		if msg == "" || msg == "yaml: unmarshal errors:" {
			continue
		}
		if m := yLineRe.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			p.add(line, "", "", m[2])
			continue
		}
		p.add(0, "", "", strings.TrimPrefix(msg, "yaml: "))
	}
}

// yexpandSlack is how many nodes aliases may add to a zone file beyond ten
// times its own: plenty for anchors used as templates.
const yexpandSlack = 1 << 16

// yexpansion checks the aliases of doc before anything walks it: every
// walk follows aliases and merge keys as PyYAML expands them, so an
// alias inside the node it names would never end, and nested aliases
// could make a few hundred bytes billions of nodes ("billion laughs").
// It returns the node at fault and why, or nil.
func yexpansion(doc *yaml.Node) (*yaml.Node, string) {
	nodes, aliases := yplainNodes(doc)
	if aliases == 0 {
		return nil, "" // nothing to expand: the common case, and a big file's
	}
	e := &yexpand{memo: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
	e.limit = 10*nodes + yexpandSlack
	e.count(doc)
	return e.bad, e.why
}

// yplainNodes counts the nodes of n, and the aliases among them, without
// following aliases.
func yplainNodes(n *yaml.Node) (nodes, aliases int) {
	nodes = 1
	if n.Kind == yaml.AliasNode {
		aliases = 1
	}
	for _, c := range n.Content {
		cn, ca := yplainNodes(c)
		nodes, aliases = nodes+cn, aliases+ca
	}
	return nodes, aliases
}

// yexpand counts the nodes of a document with its aliases expanded.
type yexpand struct {
	memo  map[*yaml.Node]int  // expanded size of each node counted
	open  map[*yaml.Node]bool // nodes being counted: the path from the root
	limit int
	bad   *yaml.Node // where counting stopped
	why   string
}

func (e *yexpand) count(n *yaml.Node) int {
	if s, ok := e.memo[n]; ok || e.bad != nil {
		return s
	}
	total := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if e.open[n.Alias] {
			e.bad, e.why = n, fmt.Sprintf("alias *%s is inside the node it refers to", n.Value)
			return 0
		}
		total += e.count(n.Alias)
	}
	e.open[n] = true
	for _, c := range n.Content {
		if total += e.count(c); total > e.limit && e.bad == nil {
			e.bad, e.why = c, fmt.Sprintf("aliases expand the file to more than %d nodes", e.limit)
		}
	}
	delete(e.open, n)
	e.memo[n] = total
	return total
}

func (p *yparser) add(line int, record, key, msg string) {
	p.probs = append(p.probs, Problem{Path: p.path, Line: line, Record: record, Key: key, Msg: msg})
}

// duplicateKeys reports keys that repeat within one mapping anywhere in the
// document. PyYAML, and so octoDNS, silently keeps the last one; an operator
// almost never means that, so Meridian refuses the file instead (and reads
// only the first, so the other problems it reports are about that one).
func (p *yparser) duplicateKeys(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.Value != "<<" {
				if seen[k.Value] {
					p.add(k.Line, "", k.Value, fmt.Sprintf(`found duplicate key "%s"`, k.Value))
				}
				seen[k.Value] = true
			}
			p.duplicateKeys(n.Content[i+1])
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			p.duplicateKeys(c)
		}
	}
}

// parseName handles one top-level entry: a record mapping or a list of them.
func (p *yparser) parseName(key, val *yaml.Node) {
	raw := key.Value
	if key.Tag == "!!null" {
		raw = ""
	}
	if val.Kind == yaml.SequenceNode {
		for _, item := range val.Content {
			p.parseRecord(raw, key, octoyaml.Resolve(item))
		}
		return
	}
	p.parseRecord(raw, key, val)
}

// yrec is one record mapping being parsed.
type yrec struct {
	p    *yparser
	name string // relative, lower case, IDNA-encoded
	fqdn string
	typ  string
	node *yaml.Node
	keys octoyaml.Mapping
	bad  bool
}

// fail reports a problem on n's line (the record's line when n is nil) and
// marks the record as unusable.
func (r *yrec) fail(n *yaml.Node, format string, args ...any) {
	line := r.node.Line
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	r.p.add(line, r.name, r.typ, msg)
	r.bad = true
}

func (p *yparser) parseRecord(rawName string, keyNode, n *yaml.Node) {
	r := &yrec{p: p, node: n}
	if n.Kind != yaml.MappingNode {
		r.node = keyNode
		r.name = strings.ToLower(rawName)
		r.fail(n, `invalid record "%s", expected a mapping`, rawName)
		return
	}
	r.keys = octoyaml.Map(n)
	r.setName(rawName)
	r.fqdn = r.ownerName()

	typNode := r.keys.Get("type")
	if typNode == nil {
		r.fail(nil, "Invalid record %s, missing type", r.fqdn)
		return
	}
	r.typ = typNode.Value
	build, ok := ybuilders[r.typ]
	if !ok {
		r.fail(typNode, `Unknown record type: "%s"`, r.typ)
		return
	}
	r.checkName(rawName)
	ttl := r.ttl()
	r.checkHealthcheck()

	rec := &Record{Name: r.name, Type: r.typ, TTL: ttl, TTLSet: r.keys.Get("ttl") != nil, Line: n.Line}
	if o := r.keys.Get("octodns"); o != nil {
		if p.stream {
			o = fastyaml.Clone(o)
		}
		rec.Octodns = o
	}
	if d := r.keys.Get("dynamic"); d != nil && ydynamicTypes[r.typ] {
		if p.stream {
			d = fastyaml.Clone(d)
		}
		rec.Dynamic = d
	}
	hdr := dns.RR_Header{Name: r.fqdn, Rrtype: ytypeCode[r.typ], Class: dns.ClassINET, Ttl: ttl}
	build(r, rec, hdr)

	s := yseen{name: r.name, typ: r.typ, fqdn: r.fqdn, line: n.Line}
	if !r.bad {
		rec.RRs = ydedupe(rec.RRs)
		s.rec = rec
	}
	p.seen = append(p.seen, s)
}

// ydynamicTypes are the types whose octoDNS record class takes `dynamic:`;
// on any other type octoDNS ignores the key, and so does Meridian.
var ydynamicTypes = map[string]bool{"A": true, "AAAA": true, "CNAME": true, "DNAME": true}

// setName lower-cases and IDNA-encodes the record name.
func (r *yrec) setName(raw string) {
	name, err := octoyaml.IDNA(raw)
	if err != nil {
		r.name = strings.ToLower(raw)
		r.fail(nil, "%s", err.Error())
		return
	}
	r.name = strings.ToLower(name)
}

func (r *yrec) ownerName() string {
	switch {
	case r.name == "":
		return r.p.origin
	case r.p.origin == ".":
		return r.name + "."
	}
	return r.name + "." + r.p.origin
}

// checkName applies octoDNS's NameValidator and the whitespace check of
// Record.new.
func (r *yrec) checkName(raw string) {
	if strings.ContainsAny(r.name, " \t") {
		r.fail(nil, "invalid record, whitespace is not allowed")
	}
	if raw == "@" {
		r.fail(nil, `invalid name "@", use "" instead`)
	}
	if n := len(r.fqdn); n > 253 {
		r.fail(nil, `invalid fqdn, "%s" is too long at %d chars, max is 253`, r.fqdn, n)
	}
	for _, label := range strings.Split(r.name, ".") {
		if n := len(label); n > 63 {
			r.fail(nil, `invalid label, "%s" is too long at %d chars, max is 63`, label, n)
		}
	}
	// octoDNS only looks for ".." and a trailing dot; a leading dot makes
	// the same empty label, so it gets the same message.
	if strings.Contains(r.name, "..") || strings.HasSuffix(r.name, ".") || strings.HasPrefix(r.name, ".") {
		r.fail(nil, "invalid name, double `.` in \"%s\"", r.fqdn)
	}
}

// ttl returns the record's TTL, defTTL when it has none.
func (r *yrec) ttl() uint32 {
	n := r.keys.Get("ttl")
	if n == nil {
		return r.p.defTTL
	}
	v, ok := octoyaml.Int(n)
	if !ok || v < 0 || v > math.MaxUint32 {
		r.fail(n, "invalid ttl")
		return 0
	}
	return uint32(v)
}

// checkHealthcheck mirrors octoDNS's HealthcheckValidator.
func (r *yrec) checkHealthcheck() {
	o := r.keys.Get("octodns")
	if o == nil || o.Kind != yaml.MappingNode {
		return
	}
	hc := octoyaml.Map(o).Get("healthcheck")
	if hc == nil || hc.Kind != yaml.MappingNode {
		return
	}
	proto := octoyaml.Map(hc).Get("protocol")
	if proto == nil {
		return
	}
	switch proto.Value {
	case "HTTP", "HTTPS", "ICMP", "TCP", "UDP":
	default:
		r.fail(proto, "invalid healthcheck protocol")
	}
}

// checkNodes runs the zone-level checks octoDNS makes when it adds records
// to a zone: one record per name and type, and CNAME (or ALIAS with A/AAAA)
// alone at its name.
func (p *yparser) checkNodes() {
	type nameType struct{ name, typ string }
	have := make(map[nameType]bool, len(p.seen))
	count := make(map[string]int, len(p.seen))
	dup := make([]bool, len(p.seen))
	for i := range p.seen {
		s := &p.seen[i]
		k := nameType{s.name, s.typ}
		if have[k] {
			p.add(s.line, s.name, s.typ, fmt.Sprintf("Duplicate record %s, type %s", s.fqdn, s.typ))
			dup[i] = true
			continue
		}
		have[k] = true
		count[s.name]++
	}
	// Names with several records, in the order they first appear.
	var order []string
	byName := make(map[string][]*yseen)
	for i := range p.seen {
		if s := &p.seen[i]; !dup[i] && count[s.name] > 1 {
			if byName[s.name] == nil {
				order = append(order, s.name)
			}
			byName[s.name] = append(byName[s.name], s)
		}
	}
	for _, name := range order {
		var cname, alias *yseen
		addr := false
		for _, s := range byName[name] {
			switch s.typ {
			case "CNAME":
				cname = s
			case "ALIAS":
				alias = s
			case "A", "AAAA":
				addr = true
			}
		}
		switch {
		case cname != nil:
			p.add(cname.line, cname.name, cname.typ,
				fmt.Sprintf("Invalid state, CNAME at %s cannot coexist with other records", cname.fqdn))
		case alias != nil && addr:
			p.add(alias.line, alias.name, alias.typ,
				fmt.Sprintf("Invalid state, ALIAS at %s cannot coexist with A or AAAA records", alias.fqdn))
		}
	}
	for i := range p.seen {
		if s := &p.seen[i]; s.rec != nil && !dup[i] {
			p.records = append(p.records, s.rec)
		}
	}
}

// ydedupe drops repeated RRs: an RRset holds each RR once (RFC 2181 5).
func ydedupe(rrs []dns.RR) []dns.RR {
	if len(rrs) < 2 {
		return rrs
	}
	seen := make(map[string]bool, len(rrs))
	out := rrs[:0]
	for _, rr := range rrs {
		s := rr.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, rr)
		}
	}
	return out
}

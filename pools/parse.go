package pools

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/meridiandns/meridian/internal/octoyaml"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// Problem is a validation problem; Line 0 means the record's own line.
type Problem struct {
	Line int
	Msg  string
}

// Parse compiles and validates one dynamic record the way octoDNS does.
// name: fully qualified lower-case owner; typ: dns.TypeA, dns.TypeAAAA or
// dns.TypeCNAME; ttl: the record's effective TTL; values: the record's
// top-level values, already parsed by the zone parser (Value.Value/Addr/Line
// set; Weight/Status zero; Parse sets their Weight to 1); dynamic: the raw
// `dynamic:` yaml node; octodns: the raw `octodns:` node of the record (nil
// when absent).
//
// Problems come in octoDNS's order (pools by id, then rules, then unused
// pools), followed by those of `octodns.meridian`. When there is any
// problem the Record is nil: a half-linked record must never serve.
func Parse(name string, typ uint16, ttl uint32, values []*Value, dynamic, octodns *yaml.Node) (*Record, []Problem) {
	for _, v := range values {
		if v.Weight == 0 {
			v.Weight = 1
		}
	}
	p := &parser{typ: typ, rec: &Record{Name: name, Type: typ, TTL: ttl, Values: values, Answers: 1}}
	p.dynamic(dynamic)
	p.meridian(octodns)
	if len(p.probs) > 0 {
		return nil, p.probs
	}
	p.link()
	return p.rec, nil
}

// parser collects one record's problems while it builds the record.
type parser struct {
	typ   uint16
	rec   *Record
	probs []Problem

	poolsNode *yaml.Node
	poolKeys  []octoyaml.KV           // pools mapping pairs, in file order
	poolNodes map[string]*octoyaml.KV // by id
	built     map[string]*Pool        // pools that parsed cleanly, by id
}

// add records a problem at n's line (0 when n is nil).
func (p *parser) add(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.probs = append(p.probs, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// dynamic mirrors _DynamicMixin.validate.
func (p *parser) dynamic(d *yaml.Node) {
	d = octoyaml.Resolve(d)
	if !yisMap(d) {
		// octoDNS would raise a TypeError indexing it.
		p.add(d, "dynamic must be a dict")
		return
	}
	m := octoyaml.Map(d)
	exist, asFallback := p.pools(d, m.Get("pools"))
	seen := p.rules(d, m.Get("rules"))

	var unused []string
	for id := range exist {
		if !seen[id] && !asFallback[id] {
			unused = append(unused, id)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		p.add(p.poolNodes[unused[0]].Key, `unused pools: "%s"`, strings.Join(unused, `", "`))
	}
}

// pools mirrors _DynamicMixin._validate_pools: pools are checked in id
// order, so their problems are too. It returns the ids of pools that have
// values and of pools some other pool falls back to.
func (p *parser) pools(d, n *yaml.Node) (exist, asFallback map[string]bool) {
	exist, asFallback = map[string]bool{}, map[string]bool{}
	p.poolsNode = n
	p.poolNodes = map[string]*octoyaml.KV{}
	p.built = map[string]*Pool{}
	switch {
	case n == nil:
		p.add(d, "missing pools")
		return
	case !yisMap(n):
		p.add(n, "pools must be a dict")
		return
	}
	p.poolKeys = octoyaml.Pairs(n)
	if len(p.poolKeys) == 0 {
		p.add(n, "missing pools")
		return
	}
	ids := make([]string, 0, len(p.poolKeys))
	for i := range p.poolKeys {
		id := p.poolKeys[i].Key.Value
		p.poolNodes[id] = &p.poolKeys[i]
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		kv := p.poolNodes[id]
		if !yisMap(kv.Val) {
			p.add(kv.Val, `pool "%s" must be a dict`, id)
			continue
		}
		pm := octoyaml.Map(kv.Val)
		vals, ok := pm.Lookup("values")
		switch {
		case !ok || octoyaml.Null(vals):
			p.add(kv.Key, `pool "%s" is missing values`, id)
			continue
		case !yisSeq(vals):
			// octoDNS would iterate it and crash.
			p.add(vals, `pool "%s" values must be a list`, id)
			continue
		}
		exist[id] = true
		pool, good := p.pool(id, kv.Key, vals)

		if fb, ok := pm.Lookup("fallback"); ok && !octoyaml.Null(fb) {
			if fb.Kind == yaml.ScalarNode && p.poolNodes[fb.Value] != nil {
				asFallback[fb.Value] = true
				pool.Fallback = fb.Value
			} else {
				p.add(fb, `undefined fallback "%s" for pool "%s"`, octoyaml.Str(fb), id)
				good = false
			}
		}
		if loop := p.fallbackLoop(id); loop != "" {
			p.add(pm.Get("fallback"), "loop in pool fallbacks: %s", loop)
			good = false
		}
		if good {
			p.built[id] = pool
		}
	}
	return exist, asFallback
}

// rawFallback is the fallback a pool names, "" for none (or for a pool
// that is not a mapping, where octoDNS would crash).
func (p *parser) rawFallback(id string) string {
	kv := p.poolNodes[id]
	if kv == nil {
		return ""
	}
	fb := octoyaml.Map(kv.Val).Get("fallback")
	if octoyaml.Null(fb) {
		return ""
	}
	return fb.Value
}

// fallbackLoop walks id's fallback chain as octoDNS does and returns the
// chain up to the first repeat ("a -> b"), or "" when it ends.
func (p *parser) fallbackLoop(id string) string {
	fb := p.rawFallback(id)
	seen := []string{id, fb}
	for fb != "" {
		fb = p.rawFallback(fb)
		if fb == "" {
			break
		}
		for _, s := range seen {
			if s == fb {
				return strings.Join(seen, " -> ")
			}
		}
		seen = append(seen, fb)
	}
	return ""
}

// pool checks and builds one pool's values, as the inner loop of
// _validate_pools does.
func (p *parser) pool(id string, key, vals *yaml.Node) (*Pool, bool) {
	pool := &Pool{ID: id, Line: key.Line}
	good := true
	items := octoyaml.Items(vals)
	for i, item := range items {
		num := i + 1
		if !yisMap(item) {
			// octoDNS would crash indexing it.
			p.add(item, `pool "%s" value %d must be a dict`, id, num)
			good = false
			continue
		}
		m := octoyaml.Map(item)
		v := &Value{Weight: 1, Status: Obey, Line: item.Line}
		if w, ok := m.Lookup("weight"); ok {
			n, isInt := octoyaml.Int(w)
			switch {
			case !isInt:
				p.add(w, `invalid weight "%s" in pool "%s" value %d`, octoyaml.Str(w), id, num)
				good = false
			case n < 1 || n > 100:
				p.add(w, `invalid weight "%d" in pool "%s" value %d`, n, id, num)
				good = false
			default:
				v.Weight = int(n)
			}
		}
		if s, ok := m.Lookup("status"); ok {
			switch {
			case octoyaml.IsStr(s) && s.Value == "up":
				v.Status = Up
			case octoyaml.IsStr(s) && s.Value == "down":
				v.Status = Down
			case octoyaml.IsStr(s) && s.Value == "obey":
				v.Status = Obey
			default:
				p.add(s, `invalid status "%s" in pool "%s" value %d`, octoyaml.Str(s), id, num)
				good = false
			}
		}
		if vn, ok := m.Lookup("value"); ok {
			v.Line = vn.Line
			if !p.value(vn, v) {
				good = false
			}
		} else {
			p.add(item, `missing value in pool "%s" value %d`, id, num)
			good = false
		}
		pool.Values = append(pool.Values, v)
	}
	if len(items) == 1 && yisMap(items[0]) {
		// octoDNS compares the raw weight with 1, so only a literal 1 passes.
		if w, ok := octoyaml.Map(items[0]).Lookup("weight"); ok {
			if n, isInt := octoyaml.Int(w); !isInt || octoyaml.Resolve(w).ShortTag() != "!!int" || n != 1 {
				p.add(w, `pool "%s" has single value with weight!=1`, id)
				good = false
			}
		}
	}
	return pool, good
}

// value validates one pool value with the checks, and the messages, of the
// record type's value class (IpValueValidator, validate_target_fqdn).
func (p *parser) value(n *yaml.Node, v *Value) bool {
	switch p.typ {
	case dns.TypeA, dns.TypeAAAA:
		return p.ip(n, v, p.typ == dns.TypeAAAA)
	}
	return p.target(n, v)
}

func (p *parser) ip(n *yaml.Node, v *Value, v6 bool) bool {
	switch {
	case octoyaml.Null(n):
		p.add(n, "missing value(s)")
		return false
	case octoyaml.IsStr(n) && n.Value == "":
		p.add(n, "empty value")
		return false
	}
	name := "IPv4"
	if v6 {
		name = "IPv6"
	}
	a, err := netip.ParseAddr(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || a.Zone() != "" || a.Is4() == v6 {
		p.add(n, `invalid %s address "%s"`, name, octoyaml.Str(n))
		return false
	}
	v.Addr, v.Value = a, a.String()
	return true
}

// target mirrors octoDNS's validate_target_fqdn for `value`. Templated
// values ({zone_name}…) are not exempt: Meridian does not expand them.
func (p *parser) target(n *yaml.Node, v *Value) bool {
	t, reasons := octoyaml.Target(n, dns.TypeToString[p.typ], "value")
	for _, msg := range reasons {
		p.add(n, "%s", msg)
	}
	if t != "" {
		v.Value = t
	}
	return len(reasons) == 0
}

// link orders the pools as in the file and connects rules, fallbacks and
// locations. It runs only when there were no problems, so every name
// resolves.
func (p *parser) link() {
	r := p.rec
	r.byID = make(map[string]*Pool, len(p.poolKeys))
	for _, kv := range p.poolKeys {
		pool := p.built[kv.Key.Value]
		if r.byID[pool.ID] != nil {
			continue
		}
		r.byID[pool.ID] = pool
		r.Pools = append(r.Pools, pool)
		if ll, ok := r.Locations[pool.ID]; ok {
			pool.lat, pool.lon, pool.hasLoc = ll[0], ll[1], true
		}
	}
	for _, pool := range r.Pools {
		if pool.Fallback != "" {
			pool.fallback = r.byID[pool.Fallback]
		}
	}
	for _, ru := range r.Rules {
		ru.pool = r.byID[ru.PoolID]
	}
}

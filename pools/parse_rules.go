package pools

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/octoyaml"
	"gopkg.in/yaml.v3"
)

// rules mirrors _DynamicMixin._validate_rules and returns the ids of the
// pools rules name.
func (p *parser) rules(d, n *yaml.Node) map[string]bool {
	used := map[string]bool{}
	switch {
	case n == nil:
		p.add(d, "missing rules")
		return used
	case !yisSeq(n):
		p.add(n, "rules must be a list")
		return used
	}
	items := octoyaml.Items(n)
	if len(items) == 0 {
		p.add(n, "missing rules")
		return used
	}
	var subnetsSeen [2]seenSet[netip.Prefix] // by IP version: v4, v6
	var geosSeen seenSet[string]
	seenDefault := false
	for i, item := range items {
		num := i + 1
		if !yisMap(item) {
			// octoDNS would crash indexing it.
			p.add(item, "rule %d must be a dict", num)
			continue
		}
		m := octoyaml.Map(item)
		poolN, ok := m.Lookup("pool")
		if !ok {
			p.add(item, "rule %d missing pool", num)
			continue
		}
		subnets, geos := m.Get("subnets"), m.Get("geos")
		targeted := octoyaml.Truthy(subnets) || octoyaml.Truthy(geos)
		ru := &Rule{Index: i, Line: item.Line}

		if !octoyaml.IsStr(poolN) {
			p.add(poolN, `rule %d invalid pool "%s"`, num, octoyaml.Str(poolN))
		} else {
			id := poolN.Value
			if p.poolNodes[id] == nil {
				p.add(poolN, `rule %d undefined pool "%s"`, num, id)
			} else if used[id] && targeted {
				p.add(poolN, `rule %d invalid, target pool "%s" reused`, num, id)
			}
			used[id] = true
			ru.PoolID = id
		}

		if i > 0 {
			// Rules must run subnets-only, then subnets + geos, then
			// geos-only; octoDNS compares each rule with the one before.
			prev := octoyaml.Map(items[i-1])
			prevSubnets, prevGeos := octoyaml.Truthy(prev.Get("subnets")), octoyaml.Truthy(prev.Get("geos"))
			if octoyaml.Truthy(subnets) && octoyaml.Truthy(geos) {
				if !prevSubnets && prevGeos {
					p.add(item, "rule %d with subnet(s) and geo(s) should appear before all geo-only rules", num)
				}
			} else if octoyaml.Truthy(subnets) && prevGeos {
				p.add(item, "rule %d with only subnet targeting should appear before all geo targeting rules", num)
			}
		}

		if !targeted {
			if seenDefault {
				p.add(item, "rule %d duplicate default", num)
			}
			seenDefault = true
		}

		if subnets != nil && !yisSeq(subnets) {
			p.add(subnets, "rule %d subnets must be a list", num)
		} else {
			ru.Subnets = p.subnets(num, octoyaml.Items(subnets), &subnetsSeen)
		}
		if geos != nil && !yisSeq(geos) {
			p.add(geos, "rule %d geos must be a list", num)
		} else {
			ru.Geos = p.geos(num, octoyaml.Items(geos), &geosSeen)
		}
		p.rec.Rules = append(p.rec.Rules, ru)
	}
	last := octoyaml.Map(items[len(items)-1])
	if octoyaml.Truthy(last.Get("subnets")) || octoyaml.Truthy(last.Get("geos")) {
		p.add(items[len(items)-1], `final rule has "subnets" and/or "geos" and is not catchall`)
	}
	return used
}

// seenSet is an insertion-ordered map from a target to the (last) rule
// number that named it, like the Python dicts octoDNS uses: messages
// about earlier targets come out in the order they were first seen.
type seenSet[K comparable] struct {
	keys []K
	rule map[K]int
}

func (s *seenSet[K]) set(k K, rule int) {
	if s.rule == nil {
		s.rule = map[K]int{}
	}
	if _, ok := s.rule[k]; !ok {
		s.keys = append(s.keys, k)
	}
	s.rule[k] = rule
}

// subnets checks a rule's subnets as octoDNS does: every entry must be a
// network without host bits set, and no entry may equal or lie inside one
// seen earlier (this rule's broader entries included), because a broader
// earlier match would shadow it. It returns the valid prefixes in file order.
func (p *parser) subnets(num int, items []*yaml.Node, seen *[2]seenSet[netip.Prefix]) []netip.Prefix {
	type entry struct {
		n  *yaml.Node
		pf netip.Prefix
	}
	var nets []entry
	var out []netip.Prefix
	for _, n := range items {
		pf, ok := parseSubnet(n)
		if !ok {
			p.add(n, `rule %d invalid subnet "%s"`, num, octoyaml.Str(n))
			continue
		}
		nets = append(nets, entry{n, pf})
		out = append(out, pf)
	}
	// Python sorts networks by (version, address, netmask): broader first.
	sort.SliceStable(nets, func(i, j int) bool {
		a, b := nets[i].pf, nets[j].pf
		if a.Addr().Is4() != b.Addr().Is4() {
			return a.Addr().Is4()
		}
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	for _, e := range nets {
		s := &seen[0]
		if !e.pf.Addr().Is4() {
			s = &seen[1]
		}
		for _, k := range s.keys {
			switch {
			case k == e.pf:
				p.add(e.n, "rule %d targets subnet %s which has previously been seen in rule %d", num, e.pf, s.rule[k])
			case k.Bits() <= e.pf.Bits() && k.Contains(e.pf.Addr()):
				p.add(e.n, "rule %d targets subnet %s which is more specific than the previously seen %s in rule %d", num, e.pf, k, s.rule[k])
			}
		}
		s.set(e.pf, num)
	}
	return out
}

// parseSubnet reads a network as Python's ipaddress.ip_network does in
// strict mode: a bare address is a host network, and host bits set are an
// error.
func parseSubnet(n *yaml.Node) (netip.Prefix, bool) {
	if n.Kind != yaml.ScalarNode || octoyaml.Null(n) {
		return netip.Prefix{}, false
	}
	s := n.Value
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	pf, err := netip.ParsePrefix(s)
	if err != nil || pf.Masked() != pf {
		return netip.Prefix{}, false
	}
	return pf, true
}

// geos checks a rule's geo codes as octoDNS does: in sorted order (so "NA"
// comes before "NA-US"), each must be a known code and must neither repeat
// nor narrow a code seen earlier. It returns the valid codes in file order.
func (p *parser) geos(num int, items []*yaml.Node, seen *seenSet[string]) []geo.Code {
	var out []geo.Code
	for _, n := range items {
		if c, err := geo.ParseCode(n.Value); err == nil && n.Kind == yaml.ScalarNode {
			out = append(out, c)
		}
	}
	sorted := append([]*yaml.Node(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Value < sorted[j].Value })
	for _, n := range sorted {
		code := n.Value
		if _, err := geo.ParseCode(code); err != nil || n.Kind != yaml.ScalarNode {
			msg := `invalid geo code "` + octoyaml.Str(n) + `"`
			if err != nil {
				msg = err.Error()
			}
			p.add(n, "rule %d %s", num, msg)
		}
		for _, k := range seen.keys {
			switch {
			case k == code:
				p.add(n, "rule %d targets geo %s which has previously been seen in rule %d", num, code, seen.rule[k])
			case strings.HasPrefix(code, k):
				p.add(n, "rule %d targets geo %s which is more specific than the previously seen %s in rule %d", num, code, k, seen.rule[k])
			}
		}
		seen.set(code, num)
	}
	return out
}

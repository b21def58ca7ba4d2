package pools

import (
	"github.com/meridiandns/meridian/internal/octoyaml"
	"gopkg.in/yaml.v3"
)

// meridian reads Meridian's own settings from `octodns: {meridian: {...}}`.
// Other keys under `octodns:` belong to octoDNS and to other parsers.
func (p *parser) meridian(octodns *yaml.Node) {
	m := octoyaml.Map(octodns).Get("meridian")
	if m == nil || octoyaml.Null(m) {
		return
	}
	if !yisMap(m) {
		p.add(m, "octodns.meridian must be a dict")
		return
	}
	var nearest *yaml.Node
	for _, kv := range octoyaml.Pairs(m) {
		switch kv.Key.Value {
		case "answers":
			n, ok := octoyaml.Int(kv.Val)
			if !ok || octoyaml.Resolve(kv.Val).ShortTag() != "!!int" || n < 1 {
				p.add(kv.Val, `invalid octodns.meridian.answers "%s", expected an integer >= 1`, octoyaml.Str(kv.Val))
				continue
			}
			p.rec.Answers = int(n)
		case "sticky":
			if b, ok := p.bool("sticky", kv.Val); ok {
				p.rec.Sticky = b
			}
		case "nearest":
			if b, ok := p.bool("nearest", kv.Val); ok {
				p.rec.Nearest = b
				nearest = kv.Key
			}
		case "locations":
			p.locations(kv.Val)
		case "healthcheck":
			// Parsed with the prober's settings, not here.
		default:
			p.add(kv.Key, `unknown key "%s" in octodns.meridian`, kv.Key.Value)
		}
	}
	if p.rec.Nearest {
		for _, kv := range p.poolKeys {
			// A pool whose location is there but wrong has its own problem.
			if octoyaml.Map(octoyaml.Map(m).Get("locations")).Get(kv.Key.Value) != nil {
				continue
			}
			if _, ok := p.rec.Locations[kv.Key.Value]; !ok {
				p.add(nearest, `nearest: pool "%s" has no location`, kv.Key.Value)
			}
		}
	}
}

func (p *parser) bool(key string, n *yaml.Node) (bool, bool) {
	var b bool
	if r := octoyaml.Resolve(n); r.Kind != yaml.ScalarNode || r.ShortTag() != "!!bool" || r.Decode(&b) != nil {
		p.add(n, `invalid octodns.meridian.%s "%s", expected true or false`, key, octoyaml.Str(n))
		return false, false
	}
	return b, true
}

// locations reads `locations: {pool: [lat, lon]}`, the coordinates
// `nearest` measures from.
func (p *parser) locations(n *yaml.Node) {
	if !yisMap(n) {
		p.add(n, "invalid octodns.meridian.locations, expected a mapping of pool id to [lat, lon]")
		return
	}
	p.rec.Locations = map[string][2]float64{}
	for _, kv := range octoyaml.Pairs(n) {
		id := kv.Key.Value
		if p.poolNodes[id] == nil {
			p.add(kv.Key, `octodns.meridian.locations: undefined pool "%s"`, id)
			continue
		}
		ll := octoyaml.Items(kv.Val)
		if len(ll) != 2 {
			p.add(kv.Val, `invalid octodns.meridian.locations "%s", expected [lat, lon]`, id)
			continue
		}
		lat, ok1 := octoyaml.Float(ll[0])
		lon, ok2 := octoyaml.Float(ll[1])
		switch {
		case !ok1 || !ok2:
			p.add(kv.Val, `invalid octodns.meridian.locations "%s", expected [lat, lon]`, id)
		case !(lat >= -90 && lat <= 90):
			p.add(ll[0], `invalid octodns.meridian.locations "%s": latitude %s out of range -90..90`, id, ll[0].Value)
		case !(lon >= -180 && lon <= 180):
			p.add(ll[1], `invalid octodns.meridian.locations "%s": longitude %s out of range -180..180`, id, ll[1].Value)
		default:
			p.rec.Locations[id] = [2]float64{lat, lon}
		}
	}
}

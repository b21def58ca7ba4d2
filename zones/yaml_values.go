package zones

import (
	"net/netip"
	"regexp"

	"github.com/meridiandns/meridian/internal/octoyaml"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// ybuilder validates a record's values and fills rec.RRs (or rec.Alias).
// Problems go through r.fail, which marks the record unusable.
type ybuilder func(r *yrec, rec *Record, hdr dns.RR_Header)

// ybuilders are the record types octoDNS knows, by its type name.
var ybuilders = map[string]ybuilder{
	"A":     ybuildA,
	"AAAA":  ybuildAAAA,
	"ALIAS": ybuildALIAS,
	"CAA":   ybuildCAA,
	"CNAME": ybuildCNAME,
	"DNAME": ybuildDNAME,
	"DS":    ybuildDS,
	"HTTPS": ybuildSVCB,
	"LOC":   ybuildLOC,
	"MX":    ybuildMX,
	"NAPTR": ybuildNAPTR,
	"NS":    ybuildNS,
	"PTR":   ybuildPTR,
	"SPF":   ybuildTXT,
	"SRV":   ybuildSRV,
	"SSHFP": ybuildSSHFP,
	"SVCB":  ybuildSVCB,
	"TLSA":  ybuildTLSA,
	"TXT":   ybuildTXT,
	"URI":   ybuildURI,
}

var ytypeCode = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CAA": dns.TypeCAA, "CNAME": dns.TypeCNAME,
	"DNAME": dns.TypeDNAME, "DS": dns.TypeDS, "HTTPS": dns.TypeHTTPS, "LOC": dns.TypeLOC,
	"MX": dns.TypeMX, "NAPTR": dns.TypeNAPTR, "NS": dns.TypeNS, "PTR": dns.TypePTR,
	"SPF": dns.TypeSPF, "SRV": dns.TypeSRV, "SSHFP": dns.TypeSSHFP, "SVCB": dns.TypeSVCB,
	"TLSA": dns.TypeTLSA, "TXT": dns.TypeTXT, "URI": dns.TypeURI,
}

// values returns the record's value nodes the way octoDNS's ValuesMixin
// reads them: `values` if present (even when null), else `value`; a scalar
// is a list of one.
func (r *yrec) values() []*yaml.Node {
	n, ok := r.keys.Lookup("values")
	if !ok {
		n, ok = r.keys.Lookup("value")
	}
	if !ok || octoyaml.Null(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return []*yaml.Node{n}
	}
	return octoyaml.Items(n)
}

// valueMaps returns the record's values that must be mappings (MX, SRV, …),
// reporting "missing value(s)" when there are none and any value that is
// not a mapping.
func (r *yrec) valueMaps() ([]*yaml.Node, []octoyaml.Mapping) {
	vals := r.values()
	if len(vals) == 0 {
		// octoDNS lets these types through with no values at all; an empty
		// RRset cannot be served, so Meridian uses the message of the types
		// that do check.
		r.fail(nil, "missing value(s)")
		return nil, nil
	}
	var nodes []*yaml.Node
	var maps []octoyaml.Mapping
	for _, v := range vals {
		if v.Kind != yaml.MappingNode {
			r.fail(v, `invalid %s value "%s", expected a mapping`, r.typ, octoyaml.Str(v))
			continue
		}
		nodes = append(nodes, v)
		maps = append(maps, octoyaml.Map(v))
	}
	return nodes, maps
}

// intField reads a required integer key of a value mapping with octoDNS's
// "missing key" and `invalid key "v"` messages. octoDNS does not range
// check by default; the wire format does, so an out-of-range number gets
// the wording of octoDNS's opt-in RFC validators.
func (r *yrec) intField(m octoyaml.Mapping, at *yaml.Node, key string, max int64) (int64, bool) {
	n, ok := m.Lookup(key)
	if !ok {
		r.fail(at, "missing %s", key)
		return 0, false
	}
	return r.intValue(n, key, max)
}

func (r *yrec) intValue(n *yaml.Node, key string, max int64) (int64, bool) {
	v, ok := octoyaml.Int(n)
	if !ok {
		r.fail(n, `invalid %s "%s"`, key, octoyaml.Str(n))
		return 0, false
	}
	if v < 0 || v > max {
		r.fail(n, `%s "%d" out of range 0-%d`, key, v, max)
		return 0, false
	}
	return v, true
}

// ynullTargetTypes may point at "." (RFC 7505 null MX, SRV "no service",
// SVCB/HTTPS "same name").
var ynullTargetTypes = map[string]bool{"HTTPS": true, "MX": true, "SVCB": true, "SRV": true}

// target validates a name-valued field as octoDNS's validate_target_fqdn
// does and returns it lower-cased. Relative names are refused: octoDNS
// wants every target fully qualified.
func (r *yrec) target(n *yaml.Node, key string) (string, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && n.Value == "." && ynullTargetTypes[r.typ] {
		return ".", true
	}
	t, reasons := octoyaml.Target(n, r.typ, key)
	for _, msg := range reasons {
		r.fail(n, "%s", msg)
	}
	return t, len(reasons) == 0
}

func ybuildA(r *yrec, rec *Record, hdr dns.RR_Header)    { r.ips(rec, hdr, false) }
func ybuildAAAA(r *yrec, rec *Record, hdr dns.RR_Header) { r.ips(rec, hdr, true) }

// ips mirrors octoDNS's IpValueValidator.
func (r *yrec) ips(rec *Record, hdr dns.RR_Header, v6 bool) {
	vals := r.values()
	if len(vals) == 0 {
		r.fail(nil, "missing value(s)")
		return
	}
	name := "IPv4"
	if v6 {
		name = "IPv6"
	}
	for _, v := range vals {
		switch {
		case octoyaml.Null(v):
			r.fail(v, "missing value(s)")
			continue
		case v.Kind == yaml.ScalarNode && v.Value == "":
			r.fail(v, "empty value")
			continue
		}
		a, err := netip.ParseAddr(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || a.Zone() != "" || a.Is4() == v6 {
			r.fail(v, `invalid %s address "%s"`, name, v.Value)
			continue
		}
		if v6 {
			b := a.As16()
			rec.RRs = append(rec.RRs, &dns.AAAA{Hdr: hdr, AAAA: b[:]})
		} else {
			b := a.As4()
			rec.RRs = append(rec.RRs, &dns.A{Hdr: hdr, A: b[:]})
		}
	}
}

// single returns the `value` of a single-value type (CNAME, DNAME, ALIAS),
// validated as a target.
func (r *yrec) single() (string, bool) {
	n := r.keys.Get("value")
	if n != nil && n.Kind == yaml.SequenceNode {
		r.fail(n, "%s takes a single `value`, not a list", r.typ)
		return "", false
	}
	return r.target(n, "value")
}

func ybuildCNAME(r *yrec, rec *Record, hdr dns.RR_Header) {
	if r.name == "" {
		r.fail(nil, "root CNAME not allowed")
	}
	if t, ok := r.single(); ok {
		rec.RRs = append(rec.RRs, &dns.CNAME{Hdr: hdr, Target: t})
	}
}

func ybuildDNAME(r *yrec, rec *Record, hdr dns.RR_Header) {
	if t, ok := r.single(); ok {
		rec.RRs = append(rec.RRs, &dns.DNAME{Hdr: hdr, Target: t})
	}
}

func ybuildALIAS(r *yrec, rec *Record, _ dns.RR_Header) {
	if r.name != "" {
		r.fail(nil, "non-root ALIAS not allowed")
	}
	if t, ok := r.single(); ok {
		rec.Alias = t
	}
}

// targets handles NS and PTR: a list of names (octoDNS's _TargetsValue).
func (r *yrec) targets(mk func(string)) {
	vals := r.values()
	if len(vals) == 0 {
		r.fail(nil, "missing value(s)")
		return
	}
	for _, v := range vals {
		if t, ok := r.target(v, "value"); ok {
			mk(t)
		}
	}
}

func ybuildNS(r *yrec, rec *Record, hdr dns.RR_Header) {
	r.targets(func(t string) { rec.RRs = append(rec.RRs, &dns.NS{Hdr: hdr, Ns: t}) })
}

func ybuildPTR(r *yrec, rec *Record, hdr dns.RR_Header) {
	r.targets(func(t string) { rec.RRs = append(rec.RRs, &dns.PTR{Hdr: hdr, Ptr: t}) })
}

func ybuildMX(r *yrec, rec *Record, hdr dns.RR_Header) {
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		// RFC 1035 says preference; octoDNS also takes the legacy
		// priority, and value for exchange.
		pn, ok := m.Lookup("preference")
		if !ok {
			pn, ok = m.Lookup("priority")
		}
		var pref int64
		good := true
		if !ok {
			r.fail(nodes[i], "missing preference")
			good = false
		} else if pref, ok = r.intValue(pn, "preference", 65535); !ok {
			good = false
		}
		ex := m.Get("exchange")
		if ex == nil || !octoyaml.Truthy(ex) {
			v, has := m.Lookup("value")
			if !has {
				r.fail(nodes[i], "missing exchange")
				continue
			}
			ex = v
		}
		t, ok := r.target(ex, "exchange")
		if ok && good {
			rec.RRs = append(rec.RRs, &dns.MX{Hdr: hdr, Preference: uint16(pref), Mx: t})
		}
	}
}

// ysrvNameRe is octoDNS's SRV and URI name rule: "_service._proto" (or a
// wildcard) followed by at least one more label.
var ysrvNameRe = regexp.MustCompile(`^(\*|_[^.]+)\.[^.]+`)

func ybuildSRV(r *yrec, rec *Record, hdr dns.RR_Header) {
	if !ysrvNameRe.MatchString(r.name) {
		r.fail(nil, "invalid name for SRV record")
	}
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		prio, ok1 := r.intField(m, nodes[i], "priority", 65535)
		weight, ok2 := r.intField(m, nodes[i], "weight", 65535)
		port, ok3 := r.intField(m, nodes[i], "port", 65535)
		tn, has := m.Lookup("target")
		if !has {
			r.fail(nodes[i], "missing target")
			continue
		}
		t, ok4 := r.target(tn, "target")
		if ok1 && ok2 && ok3 && ok4 {
			rec.RRs = append(rec.RRs, &dns.SRV{Hdr: hdr, Priority: uint16(prio), Weight: uint16(weight), Port: uint16(port), Target: t})
		}
	}
}

func ybuildURI(r *yrec, rec *Record, hdr dns.RR_Header) {
	if !ysrvNameRe.MatchString(r.name) {
		r.fail(nil, "invalid name for URI record")
	}
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		prio, ok1 := r.intField(m, nodes[i], "priority", 65535)
		weight, ok2 := r.intField(m, nodes[i], "weight", 65535)
		tn, has := m.Lookup("target")
		if !has || !octoyaml.Truthy(tn) {
			r.fail(ynode(tn, nodes[i]), "missing target")
			continue
		}
		if ok1 && ok2 {
			rec.RRs = append(rec.RRs, &dns.URI{Hdr: hdr, Priority: uint16(prio), Weight: uint16(weight), Target: yescape([]byte(tn.Value))})
		}
	}
}

// ynode returns n, or def when n is nil, for choosing a problem's line.
func ynode(n, def *yaml.Node) *yaml.Node {
	if n == nil {
		return def
	}
	return n
}

func ybuildCAA(r *yrec, rec *Record, hdr dns.RR_Header) {
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		ok := true
		var flags int64
		if fn, has := m.Lookup("flags"); has {
			v, isInt := octoyaml.Int(fn)
			switch {
			case !isInt:
				r.fail(fn, `invalid flags "%s"`, octoyaml.Str(fn))
				ok = false
			case v < 0 || v > 255:
				r.fail(fn, `invalid flags "%d"`, v)
				ok = false
			}
			flags = v
		}
		tag, hasTag := m.Lookup("tag")
		if !hasTag {
			r.fail(nodes[i], "missing tag")
			ok = false
		}
		val, hasVal := m.Lookup("value")
		if !hasVal {
			r.fail(nodes[i], "missing value")
			ok = false
		}
		if ok {
			rec.RRs = append(rec.RRs, &dns.CAA{Hdr: hdr, Flag: uint8(flags), Tag: tag.Value, Value: yescape([]byte(val.Value))})
		}
	}
}

package zones

import (
	"encoding/base64"
	"errors"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/meridiandns/meridian/internal/octoyaml"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// ysvcbKeys are the SvcParamKeys octoDNS supports by name (RFC 9460 and
// the ech draft); anything else must be written keyNNNNN.
var ysvcbKeys = map[string]dns.SVCBKey{
	"mandatory":       dns.SVCB_MANDATORY,
	"alpn":            dns.SVCB_ALPN,
	"no-default-alpn": dns.SVCB_NO_DEFAULT_ALPN,
	"port":            dns.SVCB_PORT,
	"ipv4hint":        dns.SVCB_IPV4HINT,
	"ech":             dns.SVCB_ECHCONFIG,
	"ipv6hint":        dns.SVCB_IPV6HINT,
}

// ybuildSVCB builds SVCB and HTTPS records (octoDNS's SvcbValue).
func ybuildSVCB(r *yrec, rec *Record, hdr dns.RR_Header) {
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		ok := true
		prio := int64(-1)
		if pn, has := m.Lookup("svcpriority"); !has {
			r.fail(nodes[i], "missing svcpriority")
			ok = false
		} else if v, isInt := octoyaml.Int(pn); !isInt {
			r.fail(pn, `invalid priority "%s"`, octoyaml.Str(pn))
			ok = false
		} else if v < 0 || v > 65535 {
			r.fail(pn, `invalid priority "%d"`, v)
			ok = false
		} else {
			prio = v
		}
		var target string
		if tn := m.Get("targetname"); tn == nil {
			r.fail(nodes[i], "missing targetname")
			ok = false
		} else if t, tok := r.target(tn, "targetname"); !tok {
			ok = false
		} else {
			target = t
		}
		var params []dns.SVCBKeyValue
		if pn, has := m.Lookup("svcparams"); has {
			var pok bool
			params, pok = r.svcParams(pn, prio)
			ok = ok && pok
		}
		if !ok {
			continue
		}
		svcb := dns.SVCB{Hdr: hdr, Priority: uint16(prio), Target: target, Value: params}
		if r.typ == "HTTPS" {
			rec.RRs = append(rec.RRs, &dns.HTTPS{SVCB: svcb})
		} else {
			rec.RRs = append(rec.RRs, &svcb)
		}
	}
}

// svcParams validates a `svcparams` mapping as octoDNS's SvcbValueValidator
// does and returns the key/values sorted by key, as the wire wants them.
func (r *yrec) svcParams(n *yaml.Node, prio int64) ([]dns.SVCBKeyValue, bool) {
	if octoyaml.Null(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		r.fail(n, "svcparams must be a mapping")
		return nil, false
	}
	pairs := octoyaml.Pairs(n)
	ok := true
	if prio == 0 && len(pairs) != 0 {
		r.fail(n, "svcparams set on AliasMode SVCB record")
		ok = false
	}
	var out []dns.SVCBKeyValue
	for _, kv := range pairs {
		kv, good := r.svcParam(kv.Key, kv.Val)
		if !good {
			ok = false
			continue
		}
		out = append(out, kv)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	for i := 1; i < len(out); i++ {
		if out[i].Key() == out[i-1].Key() {
			r.fail(n, "%s is specified twice", out[i].Key().String())
			ok = false
		}
	}
	return out, ok
}

// svcParam handles one SvcParam.
func (r *yrec) svcParam(k, v *yaml.Node) (dns.SVCBKeyValue, bool) {
	key := k.Value
	if strings.HasPrefix(key, "key") {
		code, ok := r.svcKeyNumber(k, key)
		if !ok {
			return nil, false
		}
		var data []byte
		if !octoyaml.Null(v) {
			data = yunescape(v.Value)
		}
		return &dns.SVCBLocal{KeyCode: code, Data: data}, true
	}
	if _, known := ysvcbKeys[key]; !known {
		r.fail(k, "Unknown SvcParam %s", key)
		return nil, false
	}
	switch key {
	case "no-default-alpn":
		if !octoyaml.Null(v) {
			r.fail(v, "SvcParam no-default-alpn has value when it should not")
			return nil, false
		}
		return &dns.SVCBNoDefaultAlpn{}, true
	case "port":
		p, isInt := octoyaml.Int(v)
		if !isInt {
			r.fail(v, "port is not a number")
			return nil, false
		}
		if p < 0 || p > 65535 {
			r.fail(v, "port %d is not a valid number", p)
			return nil, false
		}
		return &dns.SVCBPort{Port: uint16(p)}, true
	case "ech":
		b, err := base64.StdEncoding.DecodeString(v.Value)
		if octoyaml.Null(v) || v.Kind != yaml.ScalarNode || err != nil {
			r.fail(v, "ech SvcParam is invalid Base64")
			return nil, false
		}
		return &dns.SVCBECHConfig{ECH: b}, true
	}
	// The rest are lists.
	if v.Kind != yaml.SequenceNode {
		r.fail(v, "%s is not a list", key)
		return nil, false
	}
	items := make([]*yaml.Node, len(v.Content))
	for i, c := range v.Content {
		items[i] = octoyaml.Resolve(c)
	}
	ok := true
	switch key {
	case "alpn":
		var alpn []string
		for _, it := range items {
			if !octoyaml.Truthy(it) || it.Kind != yaml.ScalarNode {
				r.fail(it, "missing value(s)")
				ok = false
				continue
			}
			for _, msg := range ychunkReasons(it.Value) {
				r.fail(it, "%s", msg)
				ok = false
			}
			alpn = append(alpn, string(yunescape(it.Value)))
		}
		return &dns.SVCBAlpn{Alpn: alpn}, ok
	case "ipv4hint", "ipv6hint":
		v6 := key == "ipv6hint"
		var hints []net.IP
		for _, it := range items {
			a, err := netip.ParseAddr(it.Value)
			if it.Kind != yaml.ScalarNode || err != nil || a.Zone() != "" || a.Is4() == v6 {
				ver := "4"
				if v6 {
					ver = "6"
				}
				r.fail(it, `ipv%shint "%s" is not a valid IPv%s address`, ver, octoyaml.Str(it), ver)
				ok = false
				continue
			}
			hints = append(hints, net.IP(a.AsSlice()))
		}
		if v6 {
			return &dns.SVCBIPv6Hint{Hint: hints}, ok
		}
		return &dns.SVCBIPv4Hint{Hint: hints}, ok
	default: // mandatory
		var codes []dns.SVCBKey
		for _, it := range items {
			name := it.Value
			if strings.HasPrefix(name, "key") {
				if c, good := r.svcKeyNumber(it, name); good {
					codes = append(codes, c)
				} else {
					ok = false
				}
				continue
			}
			c, known := ysvcbKeys[name]
			if !known {
				r.fail(it, `unsupported SvcParam "%s" in mandatory`, name)
				ok = false
				continue
			}
			codes = append(codes, c)
		}
		return &dns.SVCBMandatory{Code: codes}, ok
	}
}

// svcKeyNumber parses "keyNNNNN". octoDNS only refuses numbers above
// 65535; 65535 itself is reserved by RFC 9460 and cannot go on the wire.
func (r *yrec) svcKeyNumber(at *yaml.Node, key string) (dns.SVCBKey, bool) {
	n, err := octoyaml.ParseInt(key[3:])
	if errors.Is(err, strconv.ErrSyntax) {
		r.fail(at, `SvcParam key "%s" has wrong format`, key)
		return 0, false
	}
	if err != nil || n < 0 || n >= 65535 {
		r.fail(at, `SvcParam key "%s" has wrong key number`, key)
		return 0, false
	}
	return dns.SVCBKey(n), true
}

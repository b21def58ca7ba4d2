package zones

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/meridiandns/meridian/internal/octoyaml"
	"github.com/miekg/dns"
)

// Builders for the types whose values are mappings of numbers and opaque
// strings: SSHFP, TLSA, DS, NAPTR, LOC.

var (
	ysshfpAlgorithms = map[int64]bool{1: true, 2: true, 3: true, 4: true}
	ysshfpLengths    = map[int64]int{1: 40, 2: 64}
)

func ybuildSSHFP(r *yrec, rec *Record, hdr dns.RR_Header) {
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		ok := true
		var alg, fpType int64
		if n, has := m.Lookup("algorithm"); !has {
			r.fail(nodes[i], "missing algorithm")
			ok = false
		} else if v, isInt := octoyaml.Int(n); !isInt {
			r.fail(n, `invalid algorithm "%s"`, octoyaml.Str(n))
			ok = false
		} else if alg = v; !ysshfpAlgorithms[v] {
			r.fail(n, `unrecognized algorithm "%d"`, v)
			ok = false
		}
		known := false
		if n, has := m.Lookup("fingerprint_type"); !has {
			r.fail(nodes[i], "missing fingerprint_type")
			ok = false
		} else if v, isInt := octoyaml.Int(n); !isInt {
			r.fail(n, `invalid fingerprint_type "%s"`, octoyaml.Str(n))
			ok = false
		} else if fpType = v; ysshfpLengths[v] == 0 {
			r.fail(n, `unrecognized fingerprint_type "%d"`, v)
			ok = false
		} else {
			known = true
		}
		fp, has := m.Lookup("fingerprint")
		switch {
		case !has:
			r.fail(nodes[i], "missing fingerprint")
			continue
		case known && len(fp.Value) != ysshfpLengths[fpType]:
			r.fail(fp, "fingerprint length %d does not match fingerprint_type %d (expected %d)",
				len(fp.Value), fpType, ysshfpLengths[fpType])
			continue
		case !yhex(fp.Value):
			r.fail(fp, `invalid fingerprint "%s"`, fp.Value)
			continue
		}
		if ok {
			rec.RRs = append(rec.RRs, &dns.SSHFP{Hdr: hdr, Algorithm: uint8(alg), Type: uint8(fpType), FingerPrint: strings.ToLower(fp.Value)})
		}
	}
}

// yhex reports whether s is non-empty, even-length hex, as the wire
// format needs (octoDNS does not check).
func yhex(s string) bool {
	_, err := hex.DecodeString(s)
	return s != "" && err == nil
}

func ybuildTLSA(r *yrec, rec *Record, hdr dns.RR_Header) {
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		ok := true
		// octoDNS range-checks with a default of 0, then separately
		// reports each missing key.
		field := func(key string, max int64) uint8 {
			n, has := m.Lookup(key)
			if !has {
				return 0
			}
			v, isInt := octoyaml.Int(n)
			switch {
			case !isInt:
				r.fail(n, `invalid %s "%s"`, key, octoyaml.Str(n))
				ok = false
			case v < 0 || v > max:
				r.fail(n, `invalid %s "%d"`, key, v)
				ok = false
			}
			return uint8(v)
		}
		usage := field("certificate_usage", 3)
		selector := field("selector", 1)
		matching := field("matching_type", 2)
		for _, k := range []string{"certificate_usage", "selector", "matching_type", "certificate_association_data"} {
			if _, has := m.Lookup(k); !has {
				r.fail(nodes[i], "missing %s", k)
				ok = false
			}
		}
		data := m.Get("certificate_association_data")
		if data != nil && !yhex(data.Value) {
			r.fail(data, `invalid certificate_association_data "%s"`, data.Value)
			ok = false
		}
		if ok {
			rec.RRs = append(rec.RRs, &dns.TLSA{Hdr: hdr, Usage: usage, Selector: selector, MatchingType: matching, Certificate: strings.ToLower(data.Value)})
		}
	}
}

func ybuildDS(r *yrec, rec *Record, hdr dns.RR_Header) {
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		// octoDNS still takes the pre-1.0 key names, deprecated: they map
		// flags→key_tag, protocol→algorithm, algorithm→digest_type,
		// public_key→digest.
		keys := [4]string{"key_tag", "algorithm", "digest_type", "digest"}
		_, legacy1 := m.Lookup("public_key")
		_, legacy2 := m.Lookup("flags")
		if legacy1 || legacy2 {
			keys = [4]string{"flags", "protocol", "algorithm", "public_key"}
		}
		tag, ok1 := r.intField(m, nodes[i], keys[0], 65535)
		alg, ok2 := r.intField(m, nodes[i], keys[1], 255)
		dt, ok3 := r.intField(m, nodes[i], keys[2], 255)
		d, has := m.Lookup(keys[3])
		if !has {
			r.fail(nodes[i], "missing %s", keys[3])
			continue
		}
		if !yhex(d.Value) {
			r.fail(d, `invalid %s "%s"`, keys[3], d.Value)
			continue
		}
		if ok1 && ok2 && ok3 {
			rec.RRs = append(rec.RRs, &dns.DS{Hdr: hdr, KeyTag: uint16(tag), Algorithm: uint8(alg), DigestType: uint8(dt), Digest: strings.ToLower(d.Value)})
		}
	}
}

var ynaptrFlags = map[string]bool{"S": true, "A": true, "U": true, "P": true, "s": true, "a": true, "u": true, "p": true}

func ybuildNAPTR(r *yrec, rec *Record, hdr dns.RR_Header) {
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		order, ok1 := r.intField(m, nodes[i], "order", 65535)
		pref, ok2 := r.intField(m, nodes[i], "preference", 65535)
		ok := ok1 && ok2
		flags, has := m.Lookup("flags")
		switch {
		case !has:
			r.fail(nodes[i], "missing flags")
			ok = false
		case !ynaptrFlags[flags.Value]:
			r.fail(flags, `unrecognized flags "%s"`, octoyaml.Str(flags))
			ok = false
		}
		for _, k := range []string{"service", "regexp", "replacement"} {
			if _, has := m.Lookup(k); !has {
				r.fail(nodes[i], "missing %s", k)
				ok = false
			}
		}
		if !ok {
			continue
		}
		repl := strings.ToLower(m.Get("replacement").Value)
		if !strings.HasSuffix(repl, ".") {
			r.fail(m.Get("replacement"), `NAPTR replacement "%s" missing trailing .`, repl)
			continue
		}
		rec.RRs = append(rec.RRs, &dns.NAPTR{
			Hdr: hdr, Order: uint16(order), Preference: uint16(pref),
			Flags:       strings.ToUpper(flags.Value),
			Service:     yescape([]byte(m.Get("service").Value)),
			Regexp:      yescape([]byte(m.Get("regexp").Value)),
			Replacement: repl,
		})
	}
}

// yloc lists octoDNS's LOC keys with the ranges its LocValueValidator
// enforces.
var yloc = []struct {
	key      string
	integer  bool
	min, max float64
}{
	{"lat_degrees", true, 0, 90},
	{"lat_minutes", true, 0, 59},
	{"long_degrees", true, 0, 180},
	{"long_minutes", true, 0, 59},
	{"lat_seconds", false, 0, 59.999},
	{"long_seconds", false, 0, 59.999},
	{"altitude", false, -100000.00, 42849672.95},
	{"size", false, 0, 90000000.00},
	{"precision_horz", false, 0, 90000000.00},
	{"precision_vert", false, 0, 90000000.00},
}

func ybuildLOC(r *yrec, rec *Record, hdr dns.RR_Header) {
	nodes, maps := r.valueMaps()
	for i, m := range maps {
		ok := true
		v := make(map[string]string, len(yloc)+2)
		for _, k := range yloc {
			n, has := m.Lookup(k.key)
			if !has {
				r.fail(nodes[i], "missing %s", k.key)
				ok = false
				continue
			}
			var f float64
			var isNum bool
			if k.integer {
				var iv int64
				iv, isNum = octoyaml.Int(n)
				f = float64(iv)
			} else {
				f, isNum = octoyaml.Float(n)
			}
			switch {
			case !isNum:
				r.fail(n, `invalid %s "%s"`, k.key, octoyaml.Str(n))
				ok = false
			case !(f >= k.min && f <= k.max): // NaN fails too, as in Python
				r.fail(n, `invalid value for %s "%s"`, k.key, octoyaml.Str(n))
				ok = false
			default:
				v[k.key] = strconv.FormatFloat(f, 'f', -1, 64)
			}
		}
		for _, d := range []struct{ key, a, b string }{{"lat_direction", "N", "S"}, {"long_direction", "E", "W"}} {
			n, has := m.Lookup(d.key)
			switch {
			case !has:
				r.fail(nodes[i], "missing %s", d.key)
				ok = false
			case n.Value != d.a && n.Value != d.b:
				r.fail(n, `invalid direction for %s "%s"`, d.key, octoyaml.Str(n))
				ok = false
			default:
				v[d.key] = n.Value
			}
		}
		if !ok {
			continue
		}
		// miekg/dns owns the LOC size/precision encoding; hand it the
		// presentation form octoDNS would write.
		text := fmt.Sprintf("%s %d IN LOC %s %s %s %s %s %s %s %s %sm %sm %sm %sm", hdr.Name, hdr.Ttl,
			v["lat_degrees"], v["lat_minutes"], v["lat_seconds"], v["lat_direction"],
			v["long_degrees"], v["long_minutes"], v["long_seconds"], v["long_direction"],
			v["altitude"], v["size"], v["precision_horz"], v["precision_vert"])
		rr, err := dns.NewRR(text)
		if err != nil {
			r.fail(nodes[i], "invalid LOC value: %v", err)
			continue
		}
		rec.RRs = append(rec.RRs, rr)
	}
}

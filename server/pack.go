package server

import (
	"encoding/binary"
	"strings"

	"github.com/meridiandns/meridian/internal/packed"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// The fast path packs the record types that make up nearly every GSLB
// answer itself: owner names equal to the question become a pointer to
// it, other names are written whole, and nothing is hashed or measured
// twice. Any other type, or a name with escapes, makes appendRR report
// false and the message is packed by miekg/dns instead.

// appendRR appends rr to out; qname is the question name as asked, whose
// wire form starts at offset 12 of out.
func appendRR(out []byte, rr dns.RR, qname string) ([]byte, bool) {
	h := rr.Header()
	var ok bool
	if h.Name == qname {
		out = append(out, 0xC0, 12)
	} else if out, ok = appendName(out, h.Name); !ok {
		return out, false
	}
	out = binary.BigEndian.AppendUint16(out, h.Rrtype)
	out = binary.BigEndian.AppendUint16(out, h.Class)
	out = binary.BigEndian.AppendUint32(out, h.Ttl)
	lenAt := len(out)
	out = append(out, 0, 0)
	ok = false // other types: miekg/dns packs them
	switch v := rr.(type) {
	case *dns.A:
		ip := v.A.To4()
		if ip == nil {
			return out, false
		}
		out, ok = append(out, ip...), true
	case *dns.AAAA:
		if len(v.AAAA) != 16 {
			return out, false
		}
		out, ok = append(out, v.AAAA...), true
	case *dns.CNAME:
		out, ok = appendName(out, v.Target)
	case *dns.NS:
		out, ok = appendName(out, v.Ns)
	case *dns.MX:
		out = binary.BigEndian.AppendUint16(out, v.Preference)
		out, ok = appendName(out, v.Mx)
	case *dns.SOA:
		if out, ok = appendName(out, v.Ns); ok {
			if out, ok = appendName(out, v.Mbox); ok {
				for _, n := range [...]uint32{v.Serial, v.Refresh, v.Retry, v.Expire, v.Minttl} {
					out = binary.BigEndian.AppendUint32(out, n)
				}
			}
		}
	}
	if !ok {
		return out, false
	}
	binary.BigEndian.PutUint16(out[lenAt:], uint16(len(out)-lenAt-2))
	return out, true
}

// appendName appends the uncompressed wire form of a fully qualified name
// in presentation format; false for names with escapes or bad labels.
func appendName(out []byte, name string) ([]byte, bool) {
	if name == "." {
		return append(out, 0), true
	}
	if len(name) == 0 || len(name) > 254 || name[len(name)-1] != '.' || strings.IndexByte(name, '\\') >= 0 {
		return out, false
	}
	for start := 0; start < len(name); {
		end := start + strings.IndexByte(name[start:], '.')
		l := end - start
		if l == 0 || l > 63 {
			return out, false
		}
		out = append(out, byte(l))
		out = append(out, name[start:end]...)
		start = end + 1
	}
	return append(out, 0), true
}

// appendMsg packs the fast path's response: the header, the question as
// the query had it (q is its wire form) and the sections. It reports false
// when a record needs miekg/dns.
func appendMsg(out []byte, m *dns.Msg, q []byte) ([]byte, bool) {
	out = appendHeader(out, m, q)
	qname := m.Question[0].Name
	var ok bool
	for _, sec := range [...][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if out, ok = appendRR(out, rr, qname); !ok {
				return out, false
			}
		}
	}
	return out, true
}

// appendPacked is appendMsg from the sections' wire form, made when the
// zone was loaded: copies, with the owners that equal the question name
// pointing to it. It reports false when p does not hold m's sections.
func appendPacked(out []byte, m *dns.Msg, q []byte, p *zones.Packed) ([]byte, bool) {
	out = appendHeader(out, m, q)
	qname := q[:len(q)-4] // less type and class
	for i, sec := range [...][]byte{p.Answer, p.Ns, p.Extra} {
		var n int
		var ok bool
		if out, n, ok = packed.Write(out, sec, qname); !ok || n != [...]int{len(m.Answer), len(m.Ns), len(m.Extra)}[i] {
			return out, false
		}
	}
	return out, true
}

// appendHeader starts the response in out: the header, with the section
// counts of m, and the question q in wire form.
func appendHeader(out []byte, m *dns.Msg, q []byte) []byte {
	out = out[:0]
	var bits uint16 = 0x8000 // QR
	if m.Authoritative {
		bits |= 0x0400
	}
	if m.RecursionDesired {
		bits |= 0x0100
	}
	if m.CheckingDisabled {
		bits |= 0x0010
	}
	bits |= uint16(m.Rcode & 0xF)
	out = binary.BigEndian.AppendUint16(out, m.Id)
	out = binary.BigEndian.AppendUint16(out, bits)
	out = binary.BigEndian.AppendUint16(out, 1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(m.Answer)))
	out = binary.BigEndian.AppendUint16(out, uint16(len(m.Ns)))
	out = binary.BigEndian.AppendUint16(out, uint16(len(m.Extra)))
	return append(out, q...)
}

package zones

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/meridiandns/meridian/internal/octoyaml"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// octoDNS stores TXT and SPF values in zone-file escaping without the
// quotes, and insists that ';' is escaped ("\;") because many providers
// would take the rest of the line for a comment.
var (
	yunescapedSemicolon = regexp.MustCompile(`[\p{L}\p{N}_];`) // Python's \w;
	ydoubleEscapedSemi  = regexp.MustCompile(`\\\\;`)
)

// ychunkReasons is octoDNS's ChunkedValueValidator for one string.
func ychunkReasons(v string) []string {
	var out []string
	if yunescapedSemicolon.MatchString(v) {
		out = append(out, fmt.Sprintf(`unescaped ; in "%s"`, v))
	}
	if ydoubleEscapedSemi.MatchString(v) {
		out = append(out, fmt.Sprintf(`double escaped ; in "%s"`, v))
	}
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			out = append(out, fmt.Sprintf(`non ASCII character in "%s"`, v))
			break
		}
	}
	return out
}

func ybuildTXT(r *yrec, rec *Record, hdr dns.RR_Header) {
	vals := r.values()
	if len(vals) == 0 {
		r.fail(nil, "missing value(s)")
		return
	}
	for _, v := range vals {
		if octoyaml.Null(v) || v.Kind != yaml.ScalarNode {
			r.fail(v, "missing value(s)")
			continue
		}
		if reasons := ychunkReasons(v.Value); len(reasons) > 0 {
			for _, msg := range reasons {
				r.fail(v, "%s", msg)
			}
			continue
		}
		txt := ytxtChunks(v.Value)
		if r.typ == "SPF" {
			rec.RRs = append(rec.RRs, &dns.SPF{Hdr: hdr, Txt: txt})
		} else {
			rec.RRs = append(rec.RRs, &dns.TXT{Hdr: hdr, Txt: txt})
		}
	}
}

// ytxtChunks turns an octoDNS TXT value into miekg/dns character-strings:
// octoDNS's own pre-chunked form (`"abc" "def"`) is joined as octoDNS
// does, escapes are resolved to bytes, the bytes are cut into 255-byte
// strings for the wire, and each is re-escaped the way miekg/dns keeps
// them.
func ytxtChunks(v string) []string {
	if strings.HasPrefix(v, `"`) {
		if len(v) < 2 {
			v = "" // Python's v[1:-1] of a lone quote
		} else {
			v = v[1 : len(v)-1]
		}
	}
	v = strings.ReplaceAll(v, `" "`, "")
	raw := yunescape(v)
	if len(raw) == 0 {
		return []string{""}
	}
	var out []string
	for len(raw) > 0 {
		n := min(len(raw), 255)
		out = append(out, yescape(raw[:n]))
		raw = raw[n:]
	}
	return out
}

// yunescape resolves zone-file escapes: \DDD is a byte, \X is X.
func yunescape(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			out = append(out, c)
			continue
		}
		if i+3 < len(s) && yisDigit(s[i+1]) && yisDigit(s[i+2]) && yisDigit(s[i+3]) {
			if d := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); d <= 255 {
				out = append(out, byte(d))
				i += 3
				continue
			}
		}
		out = append(out, s[i+1])
		i++
	}
	return out
}

func yisDigit(c byte) bool { return c >= '0' && c <= '9' }

// yescape writes bytes in the escaped form miekg/dns keeps
// character-strings in (it resolves escapes when packing).
func yescape(b []byte) string {
	var s strings.Builder
	s.Grow(len(b))
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&s, "\\%03d", c)
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

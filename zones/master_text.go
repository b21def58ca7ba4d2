package zones

import (
	"bytes"
	"strings"

	"github.com/miekg/dns"
)

// entry is one record or directive of a master file: a line, or several
// joined by parentheses or a quoted newline.
type entry struct {
	start, end    int // byte offsets: the start of its first line, just past its last newline
	line, endLine int // its first and last line, 1-based
}

// splitEntries finds the entries of a master file. It reads quotes,
// backslash escapes, comments and parentheses as the parser's lexer does,
// so that an entry ends where the parser's record does: the parser gives
// no line numbers of its own, and after a syntax error it starts again
// at the next entry. Lines holding only blanks and comments belong to
// no entry.
func splitEntries(data []byte) []entry {
	// At most an entry a line, so es grows once.
	es := make([]entry, 0, bytes.Count(data, []byte{'\n'})+1)
	var (
		cur                            entry
		open, quote, escape, commented bool
		depth                          int
		line, lineStart                = 1, 0
	)
	for i, c := range data {
		if c == '\n' {
			escape = false
			if !quote {
				commented = false
				if depth == 0 && open {
					cur.end, cur.endLine = i+1, line
					es = append(es, cur)
					open = false
				}
			}
			line, lineStart = line+1, i+1
			continue
		}
		if commented {
			continue
		}
		switch c {
		case ' ', '\t', '\r':
			escape = false
			continue
		case ';':
			if !escape && !quote {
				commented = true
				continue
			}
			escape = false
		case '\\':
			escape = !escape
		case '"':
			if !escape {
				quote = !quote
			}
			escape = false
		case '(', ')':
			if !escape && !quote {
				// The parser refuses an extra ')'; the entry still ends
				// at its line's end.
				if c == '(' {
					depth++
				} else if depth > 0 {
					depth--
				}
			}
			escape = false
		default:
			escape = false
		}
		if !open {
			open = true
			cur = entry{start: lineStart, line: line}
		}
	}
	if open {
		cur.end, cur.endLine = len(data), line
		es = append(es, cur)
	}
	return es
}

// directive returns the upper-case name of the directive e is ("$TTL",
// "$ORIGIN", "$INCLUDE", "$GENERATE") and its arguments; "" when e is a
// record. Like the parser, it takes a directive only at the start of a
// line and followed by a blank.
func directive(data []byte, e entry) (string, []string) {
	text := data[e.start:e.end]
	if len(text) == 0 || text[0] != '$' {
		return "", nil
	}
	i := bytes.IndexAny(text, " \t")
	if i < 0 {
		return "", nil
	}
	name := strings.ToUpper(string(text[:i]))
	switch name {
	case "$TTL", "$ORIGIN", "$INCLUDE", "$GENERATE":
		return name, words(text[i:])
	}
	return "", nil
}

// words splits entry text into its words, dropping comments and
// parentheses as the lexer does. A quote stays in its word, where a caller
// refuses it as the parser would.
func words(text []byte) []string {
	var args []string
	var word []byte
	escape := false
	flush := func() {
		if len(word) > 0 {
			args = append(args, string(word))
			word = word[:0]
		}
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case escape:
			word = append(word, c)
			escape = false
		case c == '\\':
			word = append(word, c)
			escape = true
		case c == ';':
			// A comment runs to the line's end; inside parentheses the
			// entry goes on on the next line.
			flush()
			j := bytes.IndexByte(text[i:], '\n')
			if j < 0 {
				return args
			}
			i += j
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ')':
			flush()
		default:
			word = append(word, c)
		}
	}
	flush()
	return args
}

// absName makes name absolute within origin as the parser does for
// $ORIGIN and $INCLUDE; ok is false when it is no domain name.
func absName(name, origin string) (string, bool) {
	if name == "@" {
		return origin, true
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return "", false
	}
	if dns.IsFqdn(name) {
		return name, true
	}
	if origin == "." {
		return name + origin, true
	}
	return name + "." + origin, true
}

// recordType returns the type of the record entry e as written, "" when
// none is found: an owner may look like a type, a class or TTL cannot.
func recordType(data []byte, e entry) string {
	ws := words(data[e.start:e.end])
	if len(ws) > 0 && data[e.start] != ' ' && data[e.start] != '\t' {
		ws = ws[1:] // the owner
	}
	for _, w := range ws {
		w = strings.ToUpper(w)
		if _, ok := dns.StringToType[w]; ok || strings.HasPrefix(w, "TYPE") {
			return w
		}
	}
	return ""
}

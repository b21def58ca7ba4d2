// Package fastyaml parses the plain subset of YAML that zone files are
// nearly always written in into the node tree gopkg.in/yaml.v3 builds
// for the same text, several times faster and with a fraction of the
// garbage: nodes and child lists come from slabs, and a scalar value
// that occurs many times in a file (keys, types, pool names, regions) is
// one string.
//
// The subset is ASCII text without tabs or carriage returns; block
// mappings and block sequences (including a mapping that starts on a
// sequence entry's line, and a sequence indented no deeper than the key
// that holds it); flow mappings and sequences that close on the line they
// open on; one-line plain scalars; single-quoted scalars; double-quoted
// scalars without escapes; and comments. Anything else (anchors, aliases,
// tags, block scalars, multi-line scalars, explicit keys, documents
// markers, directives, empty values, and every kind of malformed input)
// makes Parse report false, and the caller parses the text with yaml.v3,
// so the subset decides only how fast a file loads, never what it means.
// Comments are not kept on the nodes.
package fastyaml

import (
	"regexp"
	"strconv"
	"strings"
	"unsafe"

	"gopkg.in/yaml.v3"
)

// Parse returns the document node yaml.v3 would build for data (less
// comments), or false when data is outside the subset. The tree keeps no
// reference to data.
func Parse(data []byte) (doc *yaml.Node, ok bool) {
	p, ok := newParser(data)
	if !ok {
		return nil, false
	}
	root, ok := p.parse(func() *yaml.Node {
		root := p.block(p.lines[0].indent())
		if p.i < len(p.lines) {
			fail()
		}
		return root
	})
	if !ok {
		return nil, false
	}
	doc = &yaml.Node{Kind: yaml.DocumentNode, Line: root.Line, Column: root.Column, Content: []*yaml.Node{root}}
	return doc, true
}

// Each reads a document whose root is a block mapping one pair at a
// time: it calls f with each key and value, in file order, as Parse's
// root would hold them, and the memory of a pair's nodes is reused for
// the next, so a large file never exists as a whole tree. f must keep no
// node (Clone copies one out); the strings are its to keep. Each reports
// false when data is outside the subset or its root is not a block
// mapping, possibly after some calls of f, whose effects the caller
// must then discard.
func Each(data []byte, f func(key, val *yaml.Node)) bool {
	p, ok := newParser(data)
	if !ok {
		return false
	}
	col := p.lines[0].indent()
	for p.i < len(p.lines) {
		if p.lines[p.i].indent() != col || p.entry(p.i) {
			return false
		}
		var k, v *yaml.Node
		if _, ok := p.parse(func() *yaml.Node { k, v = p.key(), p.value(col); return v }); !ok {
			return false
		}
		f(k, v)
		clear(p.slab)
		clear(p.ptrs)
		p.slab, p.ptrs = p.slab[:0], p.ptrs[:0]
	}
	return true
}

// Clone returns a deep copy of n, a tree without aliases, in one
// allocation of nodes.
func Clone(n *yaml.Node) *yaml.Node {
	var count func(n *yaml.Node) int
	count = func(n *yaml.Node) int {
		c := 1
		for _, k := range n.Content {
			c += count(k)
		}
		return c
	}
	total := count(n)
	nodes := make([]yaml.Node, 0, total)
	ptrs := make([]*yaml.Node, 0, total-1)
	var cp func(n *yaml.Node) *yaml.Node
	cp = func(n *yaml.Node) *yaml.Node {
		nodes = append(nodes, *n)
		c := &nodes[len(nodes)-1]
		if len(n.Content) > 0 {
			start := len(ptrs)
			ptrs = ptrs[:start+len(n.Content)]
			c.Content = ptrs[start:len(ptrs):len(ptrs)]
			for i, k := range n.Content {
				c.Content[i] = cp(k)
			}
		}
		return c
	}
	return cp(n)
}

// newParser checks data and finds its lines; false when data is empty or
// outside the subset's bytes.
func newParser(data []byte) (*parser, bool) {
	// Read in place: every value the tree holds is a copy (see str).
	p := &parser{src: unsafe.String(unsafe.SliceData(data), len(data)), known: make(map[string]string)}
	if !p.split() || len(p.lines) == 0 {
		return nil, false
	}
	p.at(0)
	return p, true
}

// parse runs step, turning the parser's failure into false.
func (p *parser) parse(step func() *yaml.Node) (n *yaml.Node, ok bool) {
	defer func() {
		// A failure deep in the descent; any other panic would be a bug
		// here, and yaml.v3 still gets the file (tests make it fatal).
		if r := recover(); r != nil {
			if _, ok := r.(failure); !ok && strict {
				panic(r)
			}
			n, ok = nil, false
		}
	}()
	return step(), true
}

// strict makes a panic other than the parser's own failure propagate;
// tests set it.
var strict bool

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 64

// maxKey is the longest key accepted (YAML's simple keys stop at 1024).
const maxKey = 1000

type line struct {
	num        int // from 1
	off        int // offset of the line's first byte
	start, end int // offsets of its first non-space byte and of its end
}

func (l line) indent() int { return l.start - l.off }

type parser struct {
	src   string
	lines []line // the lines with content: not blank, not only a comment
	i     int    // the current line
	pos   int    // the current offset, within line i
	end   int    // the end of line i
	depth int

	slab  []yaml.Node
	ptrs  []*yaml.Node
	stack []*yaml.Node
	known map[string]string // scalar values seen, for str
}

type failure struct{}

func fail() { panic(failure{}) }

// split checks the bytes and finds the content lines.
func (p *parser) split() bool {
	s := p.src
	p.lines = make([]line, 0, strings.Count(s, "\n")+1)
	num := 0
	for off := 0; off < len(s); {
		num++
		end := strings.IndexByte(s[off:], '\n')
		if end < 0 {
			end = len(s)
		} else {
			end += off
		}
		start := off
		for start < end && s[start] == ' ' {
			start++
		}
		for j := off; j < end; j++ {
			if c := s[j]; c < 0x20 || c > 0x7e {
				return false // tabs, CR, control and non-ASCII bytes
			}
		}
		if start < end && s[start] != '#' {
			if start == off {
				if c := s[off]; c == '%' || (end-off >= 3 && (s[off:off+3] == "---" || s[off:off+3] == "...")) {
					return false // directives and document markers
				}
			}
			p.lines = append(p.lines, line{num: num, off: off, start: start, end: end})
		}
		off = end + 1
	}
	return true
}

// at makes line i current, positioned at its first non-space byte.
func (p *parser) at(i int) {
	p.i = i
	if i < len(p.lines) {
		p.pos, p.end = p.lines[i].start, p.lines[i].end
	}
}

func (p *parser) col(pos int) int { return pos - p.lines[p.i].off }

func (p *parser) node(kind yaml.Kind, tag, value string, pos int) *yaml.Node {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]yaml.Node, 0, 256)
	}
	p.slab = p.slab[:len(p.slab)+1]
	n := &p.slab[len(p.slab)-1]
	*n = yaml.Node{Kind: kind, Tag: tag, Value: value, Line: p.lines[p.i].num, Column: p.col(pos) + 1}
	return n
}

// children moves the nodes stacked since base into n's Content.
func (p *parser) children(n *yaml.Node, base int) {
	k := len(p.stack) - base
	if k == 0 {
		n.Content = nil // as yaml.v3 leaves an empty collection
		return
	}
	if k > cap(p.ptrs)-len(p.ptrs) {
		p.ptrs = make([]*yaml.Node, 0, max(1024, k))
	}
	c := p.ptrs[len(p.ptrs) : len(p.ptrs)+k : len(p.ptrs)+k]
	p.ptrs = p.ptrs[:len(p.ptrs)+k]
	copy(c, p.stack[base:])
	clear(p.stack[base:])
	p.stack = p.stack[:base]
	n.Content = c
}

func (p *parser) enter() {
	if p.depth++; p.depth > maxDepth {
		fail()
	}
}

// entry reports whether line i is a block sequence entry ("- ...").
func (p *parser) entry(i int) bool {
	return p.entryAt(p.lines[i].start, p.lines[i].end)
}

// entryAt reports whether a block sequence entry starts at pos, on a line
// that ends at end.
func (p *parser) entryAt(pos, end int) bool {
	return p.src[pos] == '-' && (pos+1 == end || p.src[pos+1] == ' ')
}

// block parses the block node whose first line is the current one, at
// column col.
func (p *parser) block(col int) *yaml.Node {
	if p.entry(p.i) {
		return p.sequence(col)
	}
	return p.mapping(col)
}

// mapping parses a block mapping whose first key is at p.pos, column
// col; its other keys start lines indented by col.
func (p *parser) mapping(col int) *yaml.Node {
	p.enter()
	m := p.node(yaml.MappingNode, "!!map", "", p.pos)
	base := len(p.stack)
	for {
		k := p.key()
		p.stack = append(p.stack, k, p.value(col))
		if p.i == len(p.lines) {
			break
		}
		l := p.lines[p.i]
		if l.indent() < col {
			break
		}
		if l.indent() > col || p.entry(p.i) {
			fail()
		}
	}
	p.children(m, base)
	p.depth--
	return m
}

// key parses a mapping key and the ": " after it.
func (p *parser) key() *yaml.Node {
	start := p.pos
	k := p.scalar(false)
	if p.pos-start > maxKey || p.pos == p.end || p.src[p.pos] != ':' || (p.pos+1 < p.end && p.src[p.pos+1] != ' ') {
		fail()
	}
	p.pos++
	return k
}

// value parses a block mapping's value, after its key's colon; col is
// the mapping's column.
func (p *parser) value(col int) *yaml.Node {
	p.space()
	if p.pos == p.end || p.src[p.pos] == '#' {
		p.at(p.i + 1)
		if p.i == len(p.lines) {
			fail() // an empty value
		}
		switch l := p.lines[p.i]; {
		case l.indent() > col:
			return p.block(l.indent())
		case l.indent() == col && p.entry(p.i):
			return p.sequence(col) // a sequence as indented as its key
		}
		fail()
	}
	v := p.inline(false)
	p.endLine()
	if p.i < len(p.lines) && p.lines[p.i].indent() > col {
		fail() // a continuation line, or a stray indentation
	}
	return v
}

// sequence parses a block sequence whose entries start lines at col.
func (p *parser) sequence(col int) *yaml.Node {
	p.enter()
	s := p.node(yaml.SequenceNode, "!!seq", "", p.pos)
	base := len(p.stack)
	for {
		p.pos++ // the dash
		p.space()
		if p.pos == p.end || p.src[p.pos] == '#' || p.entryAt(p.pos, p.end) {
			fail() // an entry on the lines below, or a nested sequence
		}
		if p.isKey() {
			p.stack = append(p.stack, p.mapping(p.col(p.pos)))
		} else {
			p.stack = append(p.stack, p.inline(false))
			p.endLine()
		}
		if p.i == len(p.lines) {
			break
		}
		l := p.lines[p.i]
		if l.indent() > col {
			fail()
		}
		if l.indent() < col || !p.entry(p.i) {
			break
		}
	}
	p.children(s, base)
	p.depth--
	return s
}

// isKey reports whether a key (a scalar, then ": " or a colon ending the
// line) starts at p.pos.
func (p *parser) isKey() bool {
	save := p.pos
	defer func() { p.pos = save }()
	switch p.src[p.pos] {
	case '\'', '"':
		p.quotedEnd()
	default:
		if !p.plainStart() {
			return false
		}
		p.pos = p.plainEnd(false)
	}
	return p.pos < p.end && p.src[p.pos] == ':' && (p.pos+1 == p.end || p.src[p.pos+1] == ' ')
}

// endLine checks that nothing but a comment follows on the line, and
// moves to the next.
func (p *parser) endLine() {
	blank := p.pos
	p.space()
	if p.pos < p.end && !(p.src[p.pos] == '#' && p.pos > blank) {
		fail()
	}
	p.at(p.i + 1)
}

func (p *parser) space() {
	for p.pos < p.end && p.src[p.pos] == ' ' {
		p.pos++
	}
}

// inline parses a node that lies on the current line: a flow collection
// or a scalar.
func (p *parser) inline(flow bool) *yaml.Node {
	switch p.peek() {
	case '[':
		return p.flowSeq()
	case '{':
		return p.flowMap()
	}
	return p.scalar(flow)
}

func (p *parser) flowSeq() *yaml.Node {
	return p.flow(yaml.SequenceNode, "!!seq", ']', func() {
		p.stack = append(p.stack, p.inline(true))
	})
}

func (p *parser) flowMap() *yaml.Node {
	return p.flow(yaml.MappingNode, "!!map", '}', func() {
		k := p.scalar(true)
		if p.peek() != ':' || p.pos+1 == p.end || p.src[p.pos+1] != ' ' {
			fail()
		}
		p.pos++
		p.space()
		if c := p.peek(); c == ',' || c == '}' {
			fail() // an empty value
		}
		p.stack = append(p.stack, k, p.inline(true))
	})
}

// flow parses the flow collection opening at p.pos, which close ends;
// entry parses one entry onto the stack. Entries are separated by single
// commas, with no trailing one.
func (p *parser) flow(kind yaml.Kind, tag string, close byte, entry func()) *yaml.Node {
	p.enter()
	n := p.node(kind, tag, "", p.pos)
	n.Style = yaml.FlowStyle
	base := len(p.stack)
	p.pos++
	p.space()
	if p.peek() == close {
		p.pos++
	} else {
		for {
			entry()
			p.space()
			c := p.peek()
			p.pos++
			if c == close {
				break
			}
			if c != ',' {
				fail()
			}
			p.space()
			if c := p.peek(); c == close || c == ',' {
				fail()
			}
		}
	}
	p.children(n, base)
	p.depth--
	return n
}

// peek returns the byte at p.pos, or 0 at the end of the line.
func (p *parser) peek() byte {
	if p.pos < p.end {
		return p.src[p.pos]
	}
	return 0
}

// scalar parses a quoted or plain scalar at p.pos.
func (p *parser) scalar(flow bool) *yaml.Node {
	start := p.pos
	switch c := p.peek(); {
	case c == '\'' || c == '"':
		v := p.quotedEnd()
		n := p.node(yaml.ScalarNode, "!!str", p.str(v), start)
		n.Style = yaml.SingleQuotedStyle
		if c == '"' {
			n.Style = yaml.DoubleQuotedStyle
		}
		if c := p.peek(); !(c == 0 || c == ' ' || c == ':' || (flow && (c == ',' || c == ']' || c == '}'))) {
			fail()
		}
		return n
	case p.plainStart():
		p.pos = p.plainEnd(flow)
		v := p.src[start:p.pos]
		if flow && v[len(v)-1] == ':' {
			fail()
		}
		return p.node(yaml.ScalarNode, resolve(v), p.str(v), start)
	}
	fail()
	return nil
}

// str returns v as a string of its own: the records keep some values
// (names, pool ids, regions), which must not pin the whole file's text.
// Short values are shared within the file.
func (p *parser) str(v string) string {
	if len(v) > 32 {
		return strings.Clone(v)
	}
	if s, ok := p.known[v]; ok {
		return s
	}
	v = strings.Clone(v)
	p.known[v] = v
	return v
}

// quotedEnd scans the quoted scalar at p.pos, leaves p.pos after its
// closing quote and returns its value. Of double-quoted escapes only
// \\ and \" are in the subset.
func (p *parser) quotedEnd() string {
	q := p.src[p.pos]
	start := p.pos + 1
	escaped := false
	for i := start; i < p.end; i++ {
		switch c := p.src[i]; {
		case c == '\\' && q == '"':
			if i+1 == p.end || strings.IndexByte(`\"`, p.src[i+1]) < 0 {
				fail() // the other escapes are left to yaml.v3
			}
			escaped = true
			i++
		case c == q && q == '\'' && i+1 < p.end && p.src[i+1] == '\'':
			escaped = true
			i++
		case c == q:
			p.pos = i + 1
			v := p.src[start:i]
			if escaped {
				v = unquote(v, q)
			}
			return v
		}
	}
	fail() // unclosed on this line
	return ""
}

// unquote undoes the escapes quotedEnd accepted.
func unquote(v string, q byte) string {
	if q == '\'' {
		return strings.ReplaceAll(v, "''", "'")
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// plainStart reports whether a plain scalar of the subset starts at
// p.pos: a letter, a digit, one of _./+~(=$;^, or a minus sign before a
// digit or a dot.
func (p *parser) plainStart() bool {
	c := p.peek()
	if c == '-' && p.pos+1 < p.end {
		c = p.src[p.pos+1]
		return '0' <= c && c <= '9' || c == '.'
	}
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("_./+~(=$;^", c) >= 0 && c != 0
}

// plainEnd returns where the plain scalar at p.pos ends, by YAML's
// rules: before ": " or a colon ending the line, before a comment,
// before trailing spaces, and in a flow collection before any of ,?[]{}.
func (p *parser) plainEnd(flow bool) int {
	s, last := p.src, p.pos
	for i := p.pos; i < p.end; {
		c := s[i]
		if c == ' ' {
			j := i
			for j < p.end && s[j] == ' ' {
				j++
			}
			if j == p.end || s[j] == '#' {
				break
			}
			i = j
			continue
		}
		if c == ':' && (i+1 == p.end || s[i+1] == ' ') {
			break
		}
		if flow && strings.IndexByte(",?[]{}", c) >= 0 {
			break
		}
		i++
		last = i
	}
	return last
}

// resolve returns the tag yaml.v3 gives the plain scalar v (never empty).
// The rare forms whose tag takes yaml.v3's own rules to decide (dates)
// fail the parse instead.
func resolve(v string) string {
	switch v {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return "!!bool"
	case "~", "null", "Null", "NULL":
		return "!!null"
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return "!!float"
	}
	switch c := v[0]; {
	case c == '.':
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return "!!float"
		}
		return "!!str"
	case c == '+' || c == '-' || '0' <= c && c <= '9':
		return resolveNumber(v)
	}
	return "!!str"
}

var yamlFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolveNumber is resolve for a scalar that starts with a sign or a
// digit: an int (decimal, 0x, 0o, 0b, legacy octal, with underscores), a
// float, or a string.
func resolveNumber(v string) string {
	if len(v) > 4 && v[4] == '-' && strings.Trim(v[:4], "0123456789") == "" {
		fail() // maybe a date
	}
	dots := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case '0' <= c && c <= '9', c == '_', c == '+', c == '-':
		case c == '.':
			dots++
		case 'a' <= c && c <= 'f', 'A' <= c && c <= 'F', c == 'x', c == 'X', c == 'o', c == 'O':
		default:
			return "!!str" // no int or float has it: addresses, names, subnets
		}
	}
	if dots > 1 {
		return "!!str" // dotted quads
	}
	plain := strings.ReplaceAll(v, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return "!!int"
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return "!!int"
	}
	if yamlFloat.MatchString(plain) {
		if _, err := strconv.ParseFloat(plain, 64); err == nil {
			return "!!float"
		}
	}
	for _, pre := range [...]struct {
		prefix string
		base   int
	}{{"0b", 2}, {"-0b", 2}, {"0o", 8}, {"-0o", 8}} {
		if rest, ok := strings.CutPrefix(plain, pre.prefix); ok {
			if pre.prefix[0] == '-' {
				rest = "-" + rest
			}
			if _, err := strconv.ParseInt(rest, pre.base, 64); err == nil {
				return "!!int"
			}
			if _, err := strconv.ParseUint(rest, pre.base, 64); err == nil && pre.prefix[0] != '-' {
				return "!!int"
			}
		}
	}
	return "!!str"
}

package zones

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

const (
	// maxMasterProblems bounds the problems listed for one master file;
	// the rest are counted.
	maxMasterProblems = 100
	// maxIncludeDepth bounds nested $INCLUDEs, as the parser does.
	maxIncludeDepth = 7
	// maxIncludes bounds the files one zone reads through $INCLUDE: nesting
	// alone still lets a few lines include a file millions of times.
	maxIncludes = 1000
)

// probeType is the type of the records a parse writes around a file's
// text to learn or set the parser's state; they are never kept.
const probeType = "TYPE65534"

// masterState is what the parser carries from one entry of a file to the
// next: enough to start a parser in the middle of the file.
type masterState struct {
	origin  string // the $ORIGIN, fully qualified
	ttl     uint32 // the default TTL
	ttlText string // the value of the $TTL that set ttl; "" when a record's TTL did
	owner   string // the last owner, that of a record whose line starts with a blank
}

// masterFile is a master file as read: the zone file or one it includes.
type masterFile struct {
	name    string // slash separated, relative to the zones directory
	path    string // for problems
	data    []byte
	entries []entry
}

// masterParse reads one zone's master file and its $INCLUDEs.
//
// The parser is run over stretches of a file between $INCLUDEs, never
// over a $INCLUDE: it would open the file itself, and a $GENERATE could
// make it open one outside the zones directory. Each $INCLUDE is read
// here, through the directory's root. Two probe records after a stretch
// give the parser's state at its end, and a prefix before the next sets it
// again, so that records after a $INCLUDE parse as if one parser had read
// the whole file.
//
// After a syntax error the parser starts again at the next entry, with the
// state as far as the entries before tell it, so that one pass reports
// every problem of the file.
type masterParse struct {
	root   *os.Root
	dir    string
	origin string // the zone's
	opened int    // files read through $INCLUDE

	records []*Record
	byKey   map[string]*Record // name/type → record
	soa     *dns.SOA
	ps      Problems
	seen    map[Problem]bool // the problems in ps
	more    int              // problems beyond maxMasterProblems
	buf     []byte           // scratch for packing records
}

// parseMaster reads the RFC 1035 master file at path, whose $INCLUDEs are
// confined to dir.
func parseMaster(path, origin, dir string) ([]*Record, *dns.SOA, Problems) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, Problems{{Path: path, Msg: unwrapPath(err).Error()}}
	}
	defer root.Close()
	m := &masterParse{root: root, dir: dir, origin: origin, byKey: map[string]*Record{}, seen: map[Problem]bool{}}
	f, err := m.read(filepath.Base(path))
	if err != nil {
		return nil, nil, Problems{{Path: path, Msg: err.Error()}}
	}
	f.path = path
	m.parseFile(f, masterState{origin: origin, ttl: 3600}, 0)
	if m.more > 0 {
		m.ps = append(m.ps, Problem{Path: path,
			Msg: fmt.Sprintf("%d more problems not listed; only the first %d are", m.more, maxMasterProblems)})
	}
	return m.records, m.soa, m.ps
}

func (m *masterParse) read(name string) (*masterFile, error) {
	data, err := readInRoot(m.root, name)
	if err != nil {
		return nil, err
	}
	return &masterFile{name: name, path: filepath.Join(m.dir, filepath.FromSlash(name)), data: data, entries: splitEntries(data)}, nil
}

// problem adds a problem unless it is already there: a file included
// twice has the same problems twice.
func (m *masterParse) problem(path string, line int, format string, args ...any) {
	p := Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
	if m.seen[p] {
		return
	}
	if len(m.ps) >= maxMasterProblems {
		m.more++
		return
	}
	m.seen[p] = true
	m.ps = append(m.ps, p)
}

// parseFile parses f from state st, its $INCLUDEs depth deep.
func (m *masterParse) parseFile(f *masterFile, st masterState, depth int) {
	from := 0
	for i, e := range f.entries {
		if name, args := directive(f.data, e); name == "$INCLUDE" {
			if from < i {
				st = m.parseStretch(f, from, i, st, true)
			}
			m.include(f, e, args, st, depth)
			from = i + 1
		}
	}
	if from < len(f.entries) {
		m.parseStretch(f, from, len(f.entries), st, false)
	}
}

// include reads and parses the file of a $INCLUDE entry e of f, in state
// st: the including file's, whose $TTL carries over.
func (m *masterParse) include(f *masterFile, e entry, args []string, st masterState, depth int) {
	bad := func(format string, args ...any) { m.problem(f.path, e.line, format, args...) }
	if len(args) == 0 || len(args) > 2 || strings.HasPrefix(args[0], `"`) {
		bad("$INCLUDE takes a file name and an optional origin")
		return
	}
	arg := args[0]
	origin := st.origin
	if len(args) == 2 {
		o, ok := absName(args[1], st.origin)
		if !ok {
			bad("$INCLUDE %q: bad origin name %q", arg, args[1])
			return
		}
		origin = o
	}
	// Relative to the including file, as the parser would.
	name := arg
	if !path.IsAbs(name) {
		name = path.Join(path.Dir(f.name), name)
	}
	name = strings.TrimLeft(path.Clean(name), "/")
	switch {
	case !fs.ValidPath(name):
		bad("$INCLUDE %q is outside the zones directory", arg)
		return
	case depth >= maxIncludeDepth:
		bad("$INCLUDE %q: nested more than %d deep", arg, maxIncludeDepth)
		return
	case m.opened >= maxIncludes:
		bad("$INCLUDE %q: more than %d files included", arg, maxIncludes)
		return
	}
	m.opened++
	inc, err := m.read(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		bad("$INCLUDE %q: no such file in the zones directory", arg)
		return
	case err != nil:
		bad("$INCLUDE %q: %v", arg, err)
		return
	}
	m.parseFile(inc, masterState{origin: origin, ttl: st.ttl, ttlText: st.ttlText}, depth+1)
}

// parseStretch parses entries [from, to) of f from state st and returns
// the state after them; probe says whether it must be exact (a $INCLUDE
// follows).
func (m *masterParse) parseStretch(f *masterFile, from, to int, st masterState, probe bool) masterState {
	for from < to {
		r := newMasterRun(f, from, to, st, probe)
		st, from = m.run(r)
	}
	return st
}

// run parses r to its end or its first syntax error. It returns the state
// at the end and the entry to go on from: r's end, or the one after the
// error.
func (m *masterParse) run(r *masterRun) (masterState, int) {
	zp := dns.NewZoneParser(r, r.st.origin, r.f.name)
	if r.st.ttlText == "" {
		zp.SetDefaultTTL(r.st.ttl)
	}
	probes := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch {
		case r.n <= len(r.prefix):
			// The prefix's record, setting the owner.
		case r.n > len(r.prefix)+len(r.data):
			// A probe: the first is blank-owned, the second at "@".
			h := rr.Header()
			if probes == 0 {
				r.st.owner, r.st.ttl = h.Name, h.Ttl
				if r.st.ttlText != "" {
					r.st.ttlText = strconv.FormatUint(uint64(h.Ttl), 10)
				}
			} else {
				r.st.origin = h.Name
			}
			probes++
		default:
			k := r.entry()
			r.follow(k, rr)
			m.add(rr, r.f.path, r.f.entries[k].line)
		}
	}
	err := zp.Err()
	if err == nil {
		return r.st, r.to
	}
	line, msg := parseError(err)
	line = r.line + line - 1 - r.prefixLines
	k := r.errorEntry(line)
	m.syntaxProblem(r.f, k, line, msg)
	r.apply(k)
	return r.st, k + 1
}

var parseErrRE = regexp.MustCompile(`^(.*?): dns: (.*): "(.*)" at line: (\d+):\d+$`)

// parseError splits a parser error into the line it gives, counted in the
// text the parser read, and what is wrong; "" when the record has its type
// and nothing after it.
func parseError(err error) (int, string) {
	sub := parseErrRE.FindStringSubmatch(err.Error())
	if sub == nil {
		return 0, err.Error()
	}
	line, _ := strconv.Atoi(sub[4])
	if sub[2] == "unexpected newline" {
		return line, ""
	}
	msg := sub[2]
	if sub[3] != "" && sub[3] != sub[2] { // the lexer puts its own errors in the token
		msg += fmt.Sprintf(" at %q", sub[3])
	}
	return line, msg
}

// syntaxProblem reports a parser error in entry k of f, at line when the
// entry spans it.
func (m *masterParse) syntaxProblem(f *masterFile, k, line int, msg string) {
	e := f.entries[k]
	if line < e.line || line > e.endLine {
		line = e.line
	}
	if msg == "" {
		msg = "record has no data"
		if typ := recordType(f.data, e); typ != "" {
			msg = typ + " " + msg
		}
	}
	m.problem(f.path, line, "%s", msg)
}

// add checks a parsed record and adds it to its name and type's.
func (m *masterParse) add(rr dns.RR, path string, line int) {
	h := rr.Header()
	h.Name = lower(h.Name)
	if h.Class != dns.ClassINET {
		m.problem(path, line, "%s: only class IN is served", h.Name)
		return
	}
	if msg := rdataProblem(rr, m.scratch()); msg != "" {
		m.problem(path, line, "%s", msg)
		return
	}
	if s, ok := rr.(*dns.SOA); ok {
		if h.Name != m.origin || m.soa != nil {
			m.problem(path, line, "%s: SOA allowed only once, at the apex", h.Name)
			return
		}
		m.soa = s
		return
	}
	if !dns.IsSubDomain(m.origin, h.Name) {
		m.problem(path, line, "%s is outside zone %s", h.Name, m.origin)
		return
	}
	rel := strings.TrimSuffix(strings.TrimSuffix(h.Name, m.origin), ".")
	typ := dns.TypeToString[h.Rrtype]
	key := rel + "/" + typ
	r := m.byKey[key]
	if r == nil {
		r = &Record{Name: rel, Type: typ, TTL: h.Ttl}
		m.byKey[key] = r
		m.records = append(m.records, r)
	}
	r.RRs = append(r.RRs, rr)
}

func (m *masterParse) scratch() []byte {
	if m.buf == nil {
		m.buf = make([]byte, dns.MaxMsgSize)
	}
	return m.buf
}

// masterRun is the text one parser reads: a prefix setting its state,
// entries [from, to) of a file, and probes reporting the state at the end.
// It is the parser's io.ByteReader, and counts what the parser has read to
// tell which entry a record or an error comes from: the lexer reads no
// further than the newline that ends a record it returns (after an error
// it may have read a word more; see errorEntry).
type masterRun struct {
	f        *masterFile
	from, to int // the entries
	st       masterState
	applied  int // entries before this have their $ORIGIN and $TTL in st

	prefix, data, suffix []byte
	prefixLines          int
	line                 int // the file's line where data starts
	n                    int // bytes read
	cur                  int // the entry holding the last byte of data read
}

func newMasterRun(f *masterFile, from, to int, st masterState, probe bool) *masterRun {
	r := &masterRun{f: f, from: from, to: to, st: st, applied: from, cur: from,
		data: f.data[f.entries[from].start:f.entries[to-1].end], line: f.entries[from].line}
	var b strings.Builder
	if st.ttlText != "" {
		b.WriteString("$TTL " + st.ttlText + "\n")
		r.prefixLines++
	}
	if st.owner != "" {
		b.WriteString(st.owner + " IN " + probeType + ` \# 0` + "\n")
		r.prefixLines++
	}
	r.prefix = []byte(b.String())
	if probe {
		r.suffix = []byte("\n IN " + probeType + ` \# 0` + "\n@ IN " + probeType + ` \# 0` + "\n")
	}
	return r
}

func (r *masterRun) ReadByte() (byte, error) {
	i := r.n
	r.n++
	for _, part := range [...][]byte{r.prefix, r.data, r.suffix} {
		if i < len(part) {
			return part[i], nil
		}
		i -= len(part)
	}
	r.n--
	return 0, io.EOF
}

func (r *masterRun) Read(p []byte) (int, error) {
	for i := range p {
		c, err := r.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = c
	}
	return len(p), nil
}

// entry returns the index of the entry the parser is in: the one holding
// the last byte of data it read.
func (r *masterRun) entry() int {
	read := min(r.n-len(r.prefix), len(r.data))
	if read <= 0 {
		return r.from
	}
	last := r.f.entries[r.from].start + read - 1
	for r.cur+1 < r.to && r.f.entries[r.cur+1].start <= last {
		r.cur++
	}
	return r.cur
}

// errorEntry returns the entry a parser error at line is in. The lexer
// may have read a word of the next entry when it failed; the error's line
// says so, unless the entry read to its end is a $GENERATE, whose errors
// count lines of the text it generated.
func (r *masterRun) errorEntry(line int) int {
	k := r.entry()
	if k == r.from {
		return k
	}
	es := r.f.entries
	readAll := r.n-len(r.prefix) >= es[k].end-es[r.from].start
	if name, _ := directive(r.f.data, es[k]); readAll && name == "$GENERATE" {
		return k
	}
	if line >= es[k-1].line && line <= es[k-1].endLine {
		return k - 1
	}
	return k
}

// follow keeps r's state as the parser's, as far as the entries tell it,
// for a start after an error: rr was parsed from entry k.
func (r *masterRun) follow(k int, rr dns.RR) {
	r.apply(k)
	if name, _ := directive(r.f.data, r.f.entries[k]); name == "$GENERATE" {
		return // generated records leave the parser's state as it was
	}
	r.st.owner = rr.Header().Name
	if r.st.ttlText == "" {
		r.st.ttl = rr.Header().Ttl
	}
}

// apply takes into r's state the $ORIGIN and $TTL directives of the
// entries before k.
func (r *masterRun) apply(k int) {
	for ; r.applied < k; r.applied++ {
		name, args := directive(r.f.data, r.f.entries[r.applied])
		if len(args) == 0 {
			continue
		}
		switch name {
		case "$ORIGIN":
			if o, ok := absName(args[0], r.st.origin); ok {
				r.st.origin = o
			}
		case "$TTL":
			r.st.ttlText = args[0]
		}
	}
}

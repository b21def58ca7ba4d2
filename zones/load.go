package zones

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandns/meridian/internal/packed"
	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// SOAValues are the fields of the SOA synthesised for YAML zones.
type SOAValues struct {
	MName   string // primary server; "" = the first apex NS target
	RName   string // mailbox; relative gets the zone appended; "user@domain" accepted
	Refresh uint32
	Retry   uint32
	Expire  uint32
	Minimum uint32
	TTL     uint32 // also the default TTL of YAML records
}

// Options says where zones come from and how YAML zones are completed.
type Options struct {
	Dir string // the zones directory
	SOA SOAValues
	// StateDir is where zone serials and the last good copy of every zone
	// persist; "" = memory only.
	StateDir string

	DynamicTTL  uint32 // TTL of dynamic answers whose record has no ttl; 0 = the record's
	DegradedTTL uint32 // TTL cap of fallback and fail-open answers; 0 = no cap

	// Health completes the records' health checks; zero = Meridian's defaults.
	Health pools.CheckDefaults
}

// Loader builds zone sets from a directory and publishes the current one.
// Reload is synchronous; Current is safe from any goroutine and never
// blocks.
type Loader struct {
	log *slog.Logger
	cur atomic.Pointer[Set]

	mu       sync.Mutex // serialises Reload; guards the fields below
	opts     Options
	serials  *serials
	lastGood *lastGood // nil without a state dir
	problems Problems  // of the last reload
	loadedAt time.Time // of the last reload
	stats    ReloadStats
	// serialWrites follows the writes of the serial state file.
	serialWrites writeState
	dir          DirState // of the last reload
	unsettled    []string // files the last reload found changing, by path
}

// ReloadStats counts a Loader's reloads since it was made, for metrics.
type ReloadStats struct {
	OK     uint64 // reloads without problems
	Failed uint64 // reloads with problems; the rest of the zones still updated
	// ZoneErrors counts, by zone origin, the reloads in which that zone
	// failed to load (and kept its previous version). "" counts reloads
	// with problems outside any one zone: an unreadable zones directory, a
	// file name that is no zone name, the serial state file.
	ZoneErrors map[string]uint64
}

// NewLoader returns a loader with an empty current set. Call Reload to
// load the directory. A serial state file that cannot be read is reported
// in the error; the loader still works, starting serials from the clock.
func NewLoader(o Options, log *slog.Logger) (*Loader, error) {
	s, err := newSerials(o.StateDir)
	l := &Loader{log: log, opts: o, serials: s, lastGood: newLastGood(o.StateDir),
		stats: ReloadStats{ZoneErrors: map[string]uint64{}}}
	l.cur.Store(NewSet())
	return l, err
}

// Current returns the set being served.
func (l *Loader) Current() *Set { return l.cur.Load() }

// SetOptions changes the options for the next Reload (a config reload).
func (l *Loader) SetOptions(o Options) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.opts = o
}

// Stats returns the reload counts so far.
func (l *Loader) Stats() ReloadStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	st.ZoneErrors = make(map[string]uint64, len(l.stats.ZoneErrors))
	for k, v := range l.stats.ZoneErrors {
		st.ZoneErrors[k] = v
	}
	return st
}

// LastReload returns the problems of the last reload and when it ran.
func (l *Loader) LastReload() (Problems, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.problems, l.loadedAt
}

// Reload reads every zone file and publishes a new set. A zone whose file
// fails to load keeps its previous version; with a state dir, a zone that
// has none in memory (at startup) is served from its last good copy. Every
// other zone updates. A zones directory that cannot be read or holds no
// zone files takes nothing away: every zone loaded keeps serving (at
// startup, every last good copy), and the problem says so. A file that
// changes while it is read keeps its previous version and is left for the
// next reload (Pending). It returns the problems found; the new set is
// served either way.
func (l *Loader) Reload() Problems {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.cur.Load()
	b := build(l.opts, l.serials, prev, time.Now(), l.lastGood)
	set, ps, failed := b.set, b.ps, b.failed
	for _, z := range set.zones {
		if old := prev.zones[z.Origin]; old != nil && old != z && old.SOA.Serial != z.SOA.Serial {
			l.log.Info("zone updated", "zone", z.Origin, "serial", z.SOA.Serial)
		} else if old == nil {
			l.log.Info("zone loaded", "zone", z.Origin, "serial", z.SOA.Serial)
		}
	}
	for origin := range prev.zones {
		if set.zones[origin] == nil {
			l.log.Info("zone removed", "zone", origin)
		}
	}
	for _, path := range b.unsettled {
		l.log.Info("zone file changed while it was read; its previous version keeps serving until it settles", "path", path)
	}
	err := l.serials.commit(set.Zones())
	if l.serials.path != "" {
		l.serialWrites.record(err, time.Now())
	}
	if err != nil {
		ps = append(ps, Problem{Path: l.serials.path, Msg: err.Error(), State: true})
		failed = append(failed, "")
	}
	l.cur.Store(set)
	l.problems, l.loadedAt = ps, time.Now()
	l.dir, l.unsettled = b.dir, b.unsettled
	l.count(ps, failed)
	return ps
}

// DirState is how the zones directory looked to a reload.
type DirState uint8

const (
	DirOK         DirState = iota // read, and held zone files
	DirUnreadable                 // missing or unreadable: nothing was taken away
	DirEmpty                      // read, but held no zone files: nothing was taken away
)

func (s DirState) String() string {
	switch s {
	case DirUnreadable:
		return "unreadable"
	case DirEmpty:
		return "empty"
	}
	return "ok"
}

// Source reports how the last reload found the zones directory, and the
// zone files it left for a later reload because they changed while being
// read. Either is a reason to reload again soon.
func (l *Loader) Source() (dir DirState, unsettled []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dir, l.unsettled
}

// Pending reports whether the last reload left something to retry: a
// zones directory it could not use, or files that changed while read.
func (l *Loader) Pending() bool {
	dir, unsettled := l.Source()
	return dir != DirOK || len(unsettled) > 0
}

func (l *Loader) count(ps Problems, failed []string) {
	if len(ps) == 0 {
		l.stats.OK++
		return
	}
	l.stats.Failed++
	seen := map[string]bool{}
	for _, origin := range failed {
		if !seen[origin] {
			seen[origin] = true
			l.stats.ZoneErrors[origin]++
		}
	}
}

// Check loads every zone as Reload would, without publishing anything or
// touching the serial state, and returns every problem.
func Check(o Options) Problems {
	_, ps := Load(o)
	return ps
}

// Load builds a set as Reload would, for tools (check, explain): nothing
// is published and the serial state is read but never written.
func Load(o Options) (*Set, Problems) {
	s, err := newSerials(o.StateDir)
	var ps Problems
	if err != nil {
		ps = append(ps, Problem{Path: s.path, Msg: err.Error()})
	}
	b := build(o, s, NewSet(), time.Now(), nil)
	return b.set, append(ps, b.ps...)
}

// zoneFile is one file of the zones directory.
type zoneFile struct {
	origin, path, kind string
}

// built is what build makes of the zones directory.
type built struct {
	set *Set
	ps  Problems
	// failed lists the origins of the zones that failed, and "" when
	// there are problems outside any one zone.
	failed []string
	dir    DirState
	// unsettled lists the files that changed while they were read: each
	// keeps its previous version (if any), and no problem is reported.
	unsettled []string
}

// build loads the directory into a new set, falling back to prev's version
// of any zone that fails, or when there is none, to its last good copy in
// g. With g, every zone that loads is saved as its last good copy, and the
// copies of zones whose files are gone are removed. A directory that
// cannot be read or holds no zone files removes nothing (keepLoaded).
// Tools pass a nil g: they never touch the state dir.
func build(o Options, sr *serials, prev *Set, now time.Time, g *lastGood) built {
	files, ps, listed := listZones(o.Dir)
	if !listed {
		return keepLoaded(o, sr, prev, now, g, DirUnreadable, ps)
	}
	if len(files) == 0 {
		ps = append(ps, Problem{Path: o.Dir, Msg: "zones directory holds no zone files (<zone>.yaml or <zone>.zone)"})
		return keepLoaded(o, sr, prev, now, g, DirEmpty, ps)
	}
	b := built{set: NewSet(), ps: ps}
	if len(ps) > 0 {
		b.failed = append(b.failed, "")
	}
	// Parse and compile the files in parallel; serials are given out in
	// order afterwards.
	type loaded struct {
		z         *Zone
		ps        Problems
		unsettled bool  // the file changed while it was read
		saveErr   error // saving the last good copy
	}
	out := make([]loaded, len(files))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	if len(prev.zones) > 0 {
		// A reload while serving leaves a CPU to the queries.
		workers = max(1, workers-1)
	}
	sem := make(chan struct{}, workers)
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			before, err := os.Stat(f.path)
			z, src, ps := loadZone(f, o)
			if err == nil && !unchanged(f.path, before) {
				out[i].unsettled = true
			} else if out[i].z, out[i].ps = z, ps; g != nil && len(ps) == 0 {
				out[i].saveErr = g.save(f, lastGoodSource(f, z, src))
			}
			<-sem
		}()
	}
	wg.Wait()
	saveFailed := false
	for i, f := range files {
		z, zps := out[i].z, out[i].ps
		if out[i].unsettled {
			b.unsettled = append(b.unsettled, f.path)
			if old := prev.zones[f.origin]; old != nil {
				b.set.zones[f.origin] = old
			}
			continue
		}
		if len(zps) == 0 && f.kind == ".yaml" {
			z.setSerial(sr.next(f.origin, z.hash, now))
		}
		if err := out[i].saveErr; err != nil {
			b.ps = append(b.ps, Problem{Path: g.path(f), Msg: err.Error(), State: true})
			b.failed = append(b.failed, "")
			saveFailed = true
		}
		if len(zps) > 0 {
			b.failed = append(b.failed, f.origin)
			if old := prev.zones[f.origin]; old != nil {
				b.set.zones[f.origin] = old
			} else if g != nil {
				z, zps = fromLastGood(f, o, sr, now, g, zps)
				if z != nil {
					b.set.zones[f.origin] = z
				}
			}
			b.ps = append(b.ps, zps...)
			continue
		}
		if old := prev.zones[f.origin]; old != nil && old.hash == z.hash && old.SOA.Serial == z.SOA.Serial {
			z = old // unchanged: keep the compiled zone
		}
		b.set.zones[f.origin] = z
	}
	// A file that appeared or went while the others were read is for the
	// next reload.
	if again, _, ok := listZones(o.Dir); !ok || !sameFiles(files, again) {
		b.unsettled = append(b.unsettled, o.Dir)
	}
	b.set.index()
	// Pruning needs the copies directory, whose trouble, if saving
	// failed, is already reported; and a complete listing.
	if g != nil && !saveFailed {
		g.settled()
		if len(b.unsettled) == 0 {
			if err := g.prune(files); err != nil {
				b.ps = append(b.ps, Problem{Path: g.dir, Msg: err.Error(), State: true})
				b.failed = append(b.failed, "")
			}
		}
	}
	b.ps.Sort()
	return b
}

// unchanged reports whether the file at path is still the one described
// by before: same file, size and modification time. A file being written
// fails this while its writer is at work.
func unchanged(path string, before fs.FileInfo) bool {
	after, err := os.Stat(path)
	return err == nil && os.SameFile(before, after) && after.Size() == before.Size() &&
		after.ModTime().Equal(before.ModTime())
}

// sameFiles reports whether two listings name the same zone files.
func sameFiles(a, b []zoneFile) bool {
	return slices.EqualFunc(a, b, func(x, y zoneFile) bool { return x.path == y.path })
}

// keepLoaded is the set built when the zones directory cannot be read
// (dir == DirUnreadable) or holds no zone files (DirEmpty): data that
// disappears is a fault to report, never a reason to stop answering (the
// directory may be between two deploys, or a mount not up yet). Every
// zone prev serves keeps serving; with nothing loaded yet, every last
// good copy in g is served instead. ps holds the listing's problems; the
// first says what is kept.
func keepLoaded(o Options, sr *serials, prev *Set, now time.Time, g *lastGood, dir DirState, ps Problems) built {
	b := built{set: prev, dir: dir, failed: []string{""}}
	var kept string
	switch {
	case len(prev.zones) > 0:
		kept = fmt.Sprintf("every zone loaded (%d) keeps serving until it can be used again", len(prev.zones))
	case g != nil:
		var more Problems
		b.set, more = fromLastGoodCopies(o, sr, now, g)
		ps = append(ps, more...)
		kept = fmt.Sprintf("serving the last good copies of %d zones from %s until it can be used", len(b.set.zones), g.dir)
	default:
		kept = "no zone is served until it can be used"
	}
	ps[0].Msg += "; " + kept
	b.ps = ps
	b.ps.Sort()
	return b
}

// fromLastGoodCopies loads every last good copy in g, as zone files of
// the zones directory.
func fromLastGoodCopies(o Options, sr *serials, now time.Time, g *lastGood) (*Set, Problems) {
	if _, err := os.Stat(g.dir); errors.Is(err, fs.ErrNotExist) {
		return NewSet(), nil // nothing saved yet
	}
	copies, ps, _ := listZones(g.dir)
	set := NewSet()
	for _, c := range copies {
		f := zoneFile{origin: c.origin, path: filepath.Join(o.Dir, filepath.Base(c.path)), kind: c.kind}
		z, _, zps := g.load(f, o)
		ps = append(ps, zps...)
		if z == nil {
			continue
		}
		if f.kind == ".yaml" {
			z.setSerial(sr.next(f.origin, z.hash, now))
		}
		set.zones[f.origin] = z
	}
	set.index()
	return set, ps
}

// fromLastGood loads zone file f, which failed with problems ps, from its
// last good copy. It returns the zone (nil when there is no usable copy)
// and the problems to report: ps, each saying that the copy is served, or
// ps and the copy's own problems.
func fromLastGood(f zoneFile, o Options, sr *serials, now time.Time, g *lastGood, ps Problems) (*Zone, Problems) {
	z, at, gps := g.load(f, o)
	if z == nil {
		return nil, append(ps, gps...)
	}
	if f.kind == ".yaml" {
		z.setSerial(sr.next(f.origin, z.hash, now))
	}
	for i := range ps {
		ps[i].Msg += "; serving the last good copy saved at " + at.UTC().Format(time.RFC3339)
	}
	return z, ps
}

// listZones finds the zone files in dir: <zone>.yaml and <zone>.zone.
// Hidden files and any other names are ignored. listed is false when the
// directory could not be read, so files says nothing about what exists.
func listZones(dir string) (files []zoneFile, ps Problems, listed bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, Problems{{Path: dir, Msg: fmt.Sprintf("cannot read zones directory: %v", unwrapPath(err))}}, false
	}
	seen := map[string]string{}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || e.IsDir() {
			continue
		}
		kind := filepath.Ext(name)
		if kind != ".yaml" && kind != ".zone" {
			continue
		}
		path := filepath.Join(dir, name)
		origin := dns.Fqdn(lower(strings.TrimSuffix(name, kind)))
		if _, ok := dns.IsDomainName(origin); !ok || origin == "." {
			ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf("file name does not give a valid zone name %q", origin)})
			continue
		}
		if other, dup := seen[origin]; dup {
			ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf("zone %s is also defined in %s", origin, other)})
			continue
		}
		seen[origin] = path
		files = append(files, zoneFile{origin: origin, path: path, kind: kind})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].origin < files[j].origin })
	return files, ps, true
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// loadZone reads, validates and compiles one zone file. src is the file's
// content for a YAML zone, nil for a master file.
func loadZone(f zoneFile, o Options) (z *Zone, src []byte, ps Problems) {
	var records []*Record
	var soa *dns.SOA
	switch f.kind {
	case ".yaml":
		data, err := readZoneFile(o.Dir, filepath.Base(f.path))
		if err != nil {
			return nil, nil, Problems{{Path: f.path, Msg: err.Error()}}
		}
		src = data
		records, ps = ParseYAML(f.path, f.origin, data, o.SOA.TTL)
		if len(ps) == 0 {
			ps = compilePolicies(f.path, records, o)
		}
	case ".zone":
		records, soa, ps = parseMaster(f.path, f.origin, o.Dir)
		if len(ps) > 0 && len(records) == 0 && soa == nil {
			// Nothing read (or nothing parsed): that the apex lacks
			// its SOA and NS says nothing more.
			return nil, nil, ps
		}
	}
	ps = append(ps, validateZone(f, records, soa)...)
	if len(ps) > 0 {
		return nil, nil, ps
	}
	if soa == nil {
		soa = synthSOA(f.origin, records, o.SOA)
	}
	z = compile(f.origin, f.path, records, soa)
	z.hash = contentHash(z)
	for _, r := range records {
		// Compiled into r.Policy and hashed: the YAML trees, the bulk of
		// a parsed file, need not stay in memory.
		r.Dynamic, r.Octodns = nil, nil
	}
	return z, src, nil
}

// validateZone checks what needs the whole zone: apex NS, ALIAS targets,
// names outside the zone, the SOA of master files.
func validateZone(f zoneFile, records []*Record, soa *dns.SOA) Problems {
	var ps Problems
	hasNS := false
	for _, r := range records {
		for _, rr := range r.RRs {
			owner := lower(rr.Header().Name)
			if !dns.IsSubDomain(f.origin, owner) {
				ps = append(ps, Problem{Path: f.path, Line: r.Line, Record: r.Name, Key: r.Type,
					Msg: fmt.Sprintf("%s is outside zone %s", rr.Header().Name, f.origin)})
			}
			if owner == f.origin && rr.Header().Rrtype == dns.TypeNS {
				hasNS = true
			}
		}
		if r.Type == "ALIAS" && !dns.IsSubDomain(f.origin, lower(r.Alias)) {
			ps = append(ps, Problem{Path: f.path, Line: r.Line, Record: r.Name, Key: r.Type,
				Msg: fmt.Sprintf("ALIAS target %s is outside the zone; only in-zone targets can be answered", r.Alias)})
		}
	}
	if !hasNS {
		ps = append(ps, Problem{Path: f.path, Record: "", Key: "NS", Msg: "zone apex has no NS records"})
	}
	if f.kind == ".zone" && soa == nil {
		ps = append(ps, Problem{Path: f.path, Record: "", Key: "SOA", Msg: "zone apex has no SOA record"})
	}
	return ps
}

// synthSOA builds the SOA of a YAML zone from the configured values.
func synthSOA(origin string, records []*Record, v SOAValues) *dns.SOA {
	mname := v.MName
	if mname == "" {
		for _, r := range records {
			if r.Name == "" && r.Type == "NS" && len(r.RRs) > 0 {
				mname = r.RRs[0].(*dns.NS).Ns
				break
			}
		}
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: v.TTL},
		Ns:      qualify(mname, origin),
		Mbox:    mailbox(v.RName, origin),
		Refresh: v.Refresh, Retry: v.Retry, Expire: v.Expire, Minttl: v.Minimum,
	}
}

// qualify makes a relative name absolute within origin.
func qualify(name, origin string) string {
	if name == "" || strings.HasSuffix(name, ".") {
		return lower(name)
	}
	return lower(name) + "." + origin
}

// mailbox turns "hostmaster", "hostmaster.example.net." or
// "dns.admin@example.net" into an SOA RNAME.
func mailbox(rname, origin string) string {
	if local, domain, ok := strings.Cut(rname, "@"); ok {
		return strings.ReplaceAll(local, ".", `\.`) + "." + dns.Fqdn(lower(domain))
	}
	return qualify(rname, origin)
}

// contentHash fingerprints everything a zone answers except the SOA serial,
// so the serial changes exactly when the content does. RRs count by their
// wire form (made by compile), each on its own, so that their order does
// not; policies by a canonical walk of their YAML (comments and layout do
// not count).
func contentHash(z *Zone) [32]byte {
	lines := make([][]byte, 0, len(z.nodes)+len(z.Records))
	text := func(s string) { lines = append(lines, []byte("t"+s)) }
	var b strings.Builder
	for _, n := range z.nodes {
		for _, s := range n.sets {
			if s.typ == dns.TypeSOA || s.wire == nil {
				for _, rr := range s.rrs {
					if soa, ok := rr.(*dns.SOA); ok {
						c := *soa
						c.Serial = 0
						rr = &c
					}
					text(rr.String())
				}
				continue
			}
			packed.Each(s.wire, func(rr []byte) { lines = append(lines, append([]byte("w"), rr...)) })
		}
		if n.alias != "" {
			text(n.name + " ALIAS " + n.alias + " " + strconv.Itoa(int(n.aliasTTL)))
		}
	}
	for _, r := range z.Records {
		for _, n := range []*yaml.Node{r.Dynamic, r.Octodns} {
			if n != nil {
				b.Reset()
				b.WriteString(r.Name + " " + r.Type + " ")
				writeNode(&b, n)
				text(b.String())
			}
		}
	}
	slices.SortFunc(lines, bytes.Compare)
	h := sha256.New()
	var l [4]byte
	for _, line := range lines {
		binary.BigEndian.PutUint32(l[:], uint32(len(line)))
		h.Write(l[:])
		h.Write(line)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// writeNode writes n's content: kinds, tags and values, nested.
func writeNode(b *strings.Builder, n *yaml.Node) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	// Kind, then tag and value each after its length: unambiguous, and
	// cheaper than quoting.
	b.WriteByte(byte('0' + n.Kind))
	for _, s := range [...]string{n.Tag, n.Value} {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	if len(n.Content) > 0 {
		b.WriteByte('[')
		for _, c := range n.Content {
			writeNode(b, c)
		}
		b.WriteByte(']')
	}
}

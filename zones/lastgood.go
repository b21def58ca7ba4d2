package zones

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/meridiandns/meridian/internal/atomicfile"
	"github.com/miekg/dns"
)

// lastGoodDir is the directory under the state dir holding the last good
// copy of every zone, one file per zone named like its zone file.
const lastGoodDir = "last-good"

// lastGood keeps, for each zone, the source of the last version that
// loaded without problems. A zone whose file is broken when nothing of it
// is in memory (at startup, after a crash in the middle of an edit) is
// served from that copy instead of not at all.
//
// YAML zones are copied byte for byte. Master files are copied as the
// records they compiled to, one RR per line, so that a copy never depends
// on $INCLUDE files that may have changed since.
type lastGood struct {
	dir string // <state dir>/last-good

	mu   sync.Mutex          // guards sums and w; saves run from parallel loads
	sums map[string][32]byte // file name → hash of the copy on disk, once known
	w    writeState
}

// newLastGood returns the last good store under stateDir; nil when
// stateDir is "" (nothing is kept).
func newLastGood(stateDir string) *lastGood {
	if stateDir == "" {
		return nil
	}
	return &lastGood{dir: filepath.Join(stateDir, lastGoodDir), sums: map[string][32]byte{}}
}

// path is where the copy of zone file f lives.
func (g *lastGood) path(f zoneFile) string { return filepath.Join(g.dir, filepath.Base(f.path)) }

// save records src as zone file f's last good copy, writing it only when
// it differs from the copy on disk. A failed write is retried by the next
// reload that loads the zone.
func (g *lastGood) save(f zoneFile, src []byte) error {
	sum := sha256.Sum256(src)
	name := filepath.Base(f.path)
	g.mu.Lock()
	known, ok := g.sums[name]
	g.mu.Unlock()
	if ok && known == sum {
		return nil
	}
	if !ok {
		// First save of this process: the copy from the last run may
		// already be this content.
		if old, err := os.ReadFile(g.path(f)); err == nil && bytes.Equal(old, src) {
			g.mu.Lock()
			g.sums[name] = sum
			g.mu.Unlock()
			return nil
		}
	}
	err := atomicfile.Write(g.path(f), src)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.w.record(err, time.Now())
	if err != nil {
		delete(g.sums, name)
		return fmt.Errorf("cannot save the last good copy: %w", err)
	}
	g.sums[name] = sum
	return nil
}

// load compiles zone file f from its last good copy. It returns nil and
// no problems when there is no copy.
func (g *lastGood) load(f zoneFile, o Options) (*Zone, time.Time, Problems) {
	cf := zoneFile{origin: f.origin, path: g.path(f), kind: f.kind}
	fi, err := os.Stat(cf.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, Problems{{Path: cf.path, Msg: "last good copy: " + unwrapPath(err).Error()}}
	}
	o.Dir = g.dir // master copies are self-contained: no $INCLUDE reaches out
	z, _, ps := loadZone(cf, o)
	if len(ps) > 0 {
		for i := range ps {
			ps[i].Msg = "last good copy: " + ps[i].Msg
		}
		return nil, time.Time{}, ps
	}
	return z, fi.ModTime(), nil
}

// settled records that a reload saved every copy it tried to: nothing
// is left unwritten, so an earlier failure no longer stands.
func (g *lastGood) settled() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.w.record(nil, time.Now())
}

// prune removes the copies of zones whose files are gone: a deleted zone
// stays deleted across restarts.
func (g *lastGood) prune(files []zoneFile) error {
	keep := make(map[string]bool, len(files))
	for _, f := range files {
		keep[filepath.Base(f.path)] = true
	}
	ents, err := os.ReadDir(g.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("last good copies: %w", err)
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || keep[name] {
			continue
		}
		if strings.HasPrefix(name, ".tmp-") || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".zone") {
			if err := os.Remove(filepath.Join(g.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			g.mu.Lock()
			delete(g.sums, name)
			g.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// lastGoodSource is what the last good copy of z holds: the YAML file as read, or
// for a master file the compiled records as a master file of their own.
func lastGoodSource(f zoneFile, z *Zone, yamlSrc []byte) []byte {
	if f.kind == ".yaml" {
		return yamlSrc
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "; last good copy of %s, written by meridian\n$ORIGIN %s\n", filepath.Base(f.path), f.origin)
	b.WriteString(z.SOA.String())
	b.WriteByte('\n')
	for _, r := range z.Records {
		for _, rr := range r.RRs {
			if rr.Header().Rrtype == dns.TypeSOA {
				continue
			}
			b.WriteString(rr.String())
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// writeState follows the writes of one state file, for status and metrics.
type writeState struct {
	err      error     // of the last write; nil when it succeeded
	since    time.Time // when the writes began failing; zero while they succeed
	failures uint64    // failed writes so far
}

func (w *writeState) record(err error, now time.Time) {
	if err == nil {
		w.err, w.since = nil, time.Time{}
		return
	}
	if w.err == nil {
		w.since = now
	}
	w.err = err
	w.failures++
}

// StateWrite is the state of one kind of file the loader keeps in the
// state dir.
type StateWrite struct {
	Name     string    // "zone_serials" or "zone_last_good"
	Path     string    // the file, or the directory of the copies
	Err      error     // of the last write; nil when it succeeded
	Since    time.Time // when the writes began failing; zero while they succeed
	Failures uint64    // failed writes since the loader was made
}

// StateWrites reports the loader's state files; none without a state dir.
func (l *Loader) StateWrites() []StateWrite {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastGood == nil {
		return nil
	}
	l.lastGood.mu.Lock()
	lg := l.lastGood.w
	l.lastGood.mu.Unlock()
	sw := l.serialWrites
	return []StateWrite{
		{Name: "zone_serials", Path: l.serials.path, Err: sw.err, Since: sw.since, Failures: sw.failures},
		{Name: "zone_last_good", Path: l.lastGood.dir, Err: lg.err, Since: lg.since, Failures: lg.failures},
	}
}

package geo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Reader answers Lookup from a list of GeoIP2 databases, first match wins.
// It is safe for concurrent use: lookups load one atomic pointer to an
// immutable set of open databases; Reload and Close build and publish a new
// set. A nil *Reader is valid and knows nothing.
type Reader struct {
	paths []string
	cur   atomic.Pointer[dbSet] // nil once closed

	mu sync.Mutex // serializes Reload and Close
}

// dbSet is immutable once published.
type dbSet struct {
	dbs []*db // in config order
}

// db is one open database and the file identity it was read from.
type db struct {
	path     string
	info     os.FileInfo
	mm       *maxminddb.Reader
	ipv4Only bool
}

// Open reads and verifies every database in paths, in order. The error
// names the file at fault. Open(nil) returns a Reader with no databases.
func Open(paths []string) (*Reader, error) {
	r := &Reader{paths: append([]string(nil), paths...)}
	s := &dbSet{}
	for _, p := range r.paths {
		d, err := openDB(p)
		if err != nil {
			return nil, err
		}
		s.dbs = append(s.dbs, d)
	}
	r.cur.Store(s)
	return r, nil
}

// Reload re-stats every file and re-reads those that changed (size, mtime
// or identity, so an atomic rename is seen). A file that fails to read,
// open or verify keeps its old database serving; the error names each such
// file. changed reports whether any database was replaced.
func (r *Reader) Reload() (changed bool, err error) {
	if r == nil {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	if old == nil {
		return false, errors.New("geo: reload: reader is closed")
	}
	next := &dbSet{dbs: make([]*db, len(old.dbs))}
	var errs []error
	for i, d := range old.dbs {
		next.dbs[i] = d
		fi, serr := os.Stat(d.path)
		if serr != nil {
			errs = append(errs, fmt.Errorf("geo: reload %s: %w", d.path, serr))
			continue
		}
		if sameFile(d.info, fi) {
			continue
		}
		nd, oerr := openDB(d.path)
		if oerr != nil {
			errs = append(errs, fmt.Errorf("geo: reload: %w", oerr))
			continue
		}
		next.dbs[i] = nd
		changed = true
	}
	if changed {
		// Old databases are not closed: lookups in flight may still read
		// them, and they are plain memory the collector reclaims.
		r.cur.Store(next)
	}
	return changed, errors.Join(errs...)
}

// Close stops the Reader; later lookups return Location{}.
func (r *Reader) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur.Store(nil)
	return nil
}

func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// openDB reads path into memory (not mmap: a file rewritten in place under a
// mapping would fault the server), checks that geoip2 can read it as a
// Country/City-style database and verifies its structure, since lookups
// decode it with a hand-written cursor decoder.
func openDB(path string) (*db, error) {
	fi, data, err := readFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	g, err := geoip2.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	// geoip2 decides which database types carry country data (City,
	// Country, Enterprise, DB-IP compatibles); the probe address is never
	// in a real database.
	if _, err := g.Country(netip.IPv4Unspecified()); err != nil {
		var ime geoip2.InvalidMethodError
		if errors.As(err, &ime) {
			return nil, fmt.Errorf("geo: open %s: %s database has no country data", path, ime.DatabaseType)
		}
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	mm, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	if err := mm.Verify(); err != nil {
		return nil, fmt.Errorf("geo: open %s: %w", path, err)
	}
	return &db{path: path, info: fi, mm: mm, ipv4Only: mm.Metadata.IPVersion == 4}, nil
}

// readFile returns the contents of path and the identity of the very file
// read, so a rename racing with it is caught by the next Reload.
func readFile(path string) (os.FileInfo, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	return fi, data, nil
}

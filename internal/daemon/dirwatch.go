package daemon

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dirNotifier reports changes in directories (inotify on Linux, fsnotify
// elsewhere). add, remove and close are called by one goroutine.
type dirNotifier interface {
	// add watches the directory path names now (following symbolic
	// links); adding a path again re-reads which directory it names.
	// names: only entries coming and going matter, not their content.
	add(path string, names bool) error
	remove(path string)
	events() <-chan dirEvent
	errors() <-chan error
	close()
	// reportsCloses says whether opClosed is ever sent.
	reportsCloses() bool
}

type dirOp uint8

const (
	opChange   dirOp = iota // an entry created, renamed in, or its attributes changed
	opRemoved               // an entry deleted or renamed away
	opWrite                 // a file's content written
	opClosed                // a writer closed a file
	opGone                  // the watched directory itself was deleted or moved
	opOverflow              // events were lost: look at everything again
)

// dirEvent is one change: in the watched directory dir, at path (""
// when it concerns dir itself).
type dirEvent struct {
	dir, path string
	op        dirOp
}

// zoneWatch reloads the zones after changes under the zones directory,
// whatever happens to the directory itself: removed and made again,
// replaced by a rename, or swapped by a symbolic link, it is watched
// again by itself. It watches the directory, its subdirectories
// ($INCLUDE files) and its parent (for the directory's own name coming
// and going), and looks every second whether the path still names the
// directory it watches. A reload waits for a burst of changes to settle
// for the debounce period, and for files written in place to be closed
// by their writer (up to maxWriteWait), so that a half-written file is
// never read; what the loader still finds changing or missing it leaves
// to a retry, sooner at first and then every retryMax.
type zoneWatch struct {
	n        dirNotifier
	dir      func() string // the configured zones directory; SIGHUP may change it
	debounce time.Duration
	log      *slog.Logger
	rearm    chan struct{} // asks for the directory to be looked up again (after a config reload)

	// Owned by run.
	armed  map[string]fs.FileInfo // watched path → the directory it named when added
	parent string                 // the watched parent of the zones directory
	base   string                 // the zones directory's name in parent
	dirty  map[string]time.Time   // files written and not closed yet → first write seen
}

const (
	maxWriteWait = 30 * time.Second // longest a reload waits for a writer to close its file
	retryMax     = 5 * time.Second  // longest between retries while the directory cannot be used
	lookAgain    = time.Second      // how often the directory's identity is checked
)

func newZoneWatch(dir func() string, debounce time.Duration, log *slog.Logger) (*zoneWatch, error) {
	n, err := newDirNotifier()
	if err != nil {
		return nil, err
	}
	w := &zoneWatch{n: n, dir: dir, debounce: debounce, log: log, rearm: make(chan struct{}, 1),
		armed: map[string]fs.FileInfo{}, dirty: map[string]time.Time{}}
	w.arm() // before returning: a change made once this returns is seen
	return w, nil
}

// Rearm asks the watch to look the directory up again (its configured
// path may have changed); it never blocks.
func (w *zoneWatch) Rearm() {
	select {
	case w.rearm <- struct{}{}:
	default:
	}
}

// arm watches what the configured path names now, and stops watching
// what it no longer does. It reports whether the directory exists.
func (w *zoneWatch) arm() bool {
	dir, err := filepath.Abs(w.dir())
	if err != nil {
		dir = filepath.Clean(w.dir())
	}
	w.parent, w.base = filepath.Dir(dir), filepath.Base(dir)
	want := map[string]bool{w.parent: true} // path → names only
	fi, err := os.Stat(dir)
	present := err == nil && fi.IsDir()
	if present {
		want[dir] = false
		if ents, err := os.ReadDir(dir); err == nil {
			for _, e := range ents {
				if sub := filepath.Join(dir, e.Name()); !strings.HasPrefix(e.Name(), ".") && isDir(sub) {
					want[sub] = false
				}
			}
		}
	}
	for path := range w.armed {
		if _, ok := want[path]; !ok {
			w.n.remove(path)
			delete(w.armed, path)
		}
	}
	for path, names := range want {
		fi, err := os.Stat(path)
		if err != nil {
			if w.armed[path] != nil {
				w.n.remove(path)
				delete(w.armed, path)
			}
			continue
		}
		if old := w.armed[path]; old != nil && os.SameFile(old, fi) {
			continue
		}
		if err := w.n.add(path, names); err != nil {
			w.log.Warn("zone watcher: cannot watch; changes there need a SIGHUP", "path", path, "err", err)
			delete(w.armed, path)
			continue
		}
		w.armed[path] = fi
	}
	return present
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// moved reports whether the zones directory's path names another
// directory (or none, or one again) than the one watched.
func (w *zoneWatch) moved() bool {
	dir := filepath.Join(w.parent, w.base)
	fi, err := os.Stat(dir)
	old := w.armed[dir]
	if err != nil || !fi.IsDir() {
		return old != nil
	}
	return old == nil || !os.SameFile(old, fi)
}

// note takes in one event. It reports whether the event matters to the
// zones (and so restarts the debounce) and whether the directory must be
// looked up again.
func (w *zoneWatch) note(ev dirEvent, now time.Time) (matters, rearm bool) {
	if ev.op == opOverflow {
		clear(w.dirty) // the closes may be lost too; writes still in progress fail the loader's check
		return true, true
	}
	if ev.op == opGone {
		// The watch on ev.dir is gone with it (or follows it elsewhere):
		// forget it, so that arm watches what the path names now even
		// when a directory made again reuses the old one's inode number,
		// which os.SameFile cannot tell apart.
		delete(w.armed, ev.dir)
	}
	if ev.dir == w.parent {
		// Only the zones directory's own name matters there.
		if ev.path != filepath.Join(w.parent, w.base) && ev.op != opGone {
			return false, false
		}
		return true, true
	}
	if ev.op == opGone {
		return true, true
	}
	switch ev.op {
	case opWrite, opClosed:
		if !w.readable(ev) {
			return false, false
		}
		if ev.op == opClosed {
			delete(w.dirty, ev.path)
		} else if _, ok := w.dirty[ev.path]; !ok {
			w.dirty[ev.path] = now
		}
	case opRemoved:
		delete(w.dirty, ev.path)
	case opChange:
		// Any name coming in matters, hidden ones too: a symbolic link
		// swapped into place (..data in a Kubernetes volume) changes
		// what the zone files say.
		rearm = isDir(ev.path) // a new subdirectory: $INCLUDE files may live there
	}
	return true, rearm
}

// readable reports whether ev concerns a file the loader may read, so
// that a reload waits while it is being written: not hidden, and in the
// zones directory a zone file. Editors' swap files, kept open for
// writing for minutes, are left out.
func (w *zoneWatch) readable(ev dirEvent) bool {
	name := filepath.Base(ev.path)
	if ev.path == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") || strings.HasPrefix(name, "#") {
		return false
	}
	if ev.dir == filepath.Join(w.parent, w.base) {
		ext := filepath.Ext(name)
		return ext == ".yaml" || ext == ".zone" || isDir(ev.path)
	}
	return true
}

// writing reports whether a reload must wait for a writer: a file
// written and not closed yet, for less than maxWriteWait.
func (w *zoneWatch) writing(now time.Time) bool {
	if !w.n.reportsCloses() {
		return false
	}
	waiting := false
	for path, since := range w.dirty {
		if now.Sub(since) < maxWriteWait {
			waiting = true
			continue
		}
		w.log.Warn("zone file still open for writing; reading it anyway", "path", path, "waited", maxWriteWait)
		delete(w.dirty, path)
	}
	return waiting
}

// run calls reload after each settled burst of changes until ctx ends.
// reload is told whether it is a retry (no change seen since the last
// call) and reports whether it left something to retry.
func (w *zoneWatch) run(ctx context.Context, reload func(retry bool) (again bool)) {
	defer w.n.close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	tick := time.NewTicker(lookAgain)
	defer tick.Stop()
	retry := time.Duration(0) // the delay of the next retry; 0 = none pending
	changed := false          // since the last reload
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.n.events():
			if !ok {
				return
			}
			matters, again := w.note(ev, time.Now())
			if again {
				w.arm()
			}
			if matters {
				changed = true
				timer.Reset(w.debounce)
			}
		case err := <-w.n.errors():
			if err != nil {
				w.log.Warn("zone watcher", "err", err)
			}
		case <-w.rearm:
			w.arm()
			changed = true
			timer.Reset(w.debounce)
		case <-tick.C:
			if w.moved() {
				w.log.Info("zones directory moved, replaced or back; watching it again", "dir", w.dir())
				w.arm()
				changed = true
				timer.Reset(w.debounce)
			}
		case <-timer.C:
			if w.writing(time.Now()) {
				timer.Reset(w.debounce)
				continue
			}
			w.arm()
			again := reload(!changed)
			changed = false
			if !again {
				retry = 0
				continue
			}
			retry = min(max(2*retry, w.debounce), retryMax)
			timer.Reset(retry)
		}
	}
}

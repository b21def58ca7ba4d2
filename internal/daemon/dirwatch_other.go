//go:build !linux

package daemon

import (
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// fsWatch is the dirNotifier where inotify is not available: fsnotify, which
// cannot tell when a writer closes a file, so reloads rely on files that
// change while read being retried.
type fsWatch struct {
	fs *fsnotify.Watcher
	ev chan dirEvent
}

func newDirNotifier() (dirNotifier, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &fsWatch{fs: fw, ev: make(chan dirEvent, 64)}
	go w.read()
	return w, nil
}

func (w *fsWatch) add(path string, _ bool) error {
	w.fs.Remove(path) // the path may name another directory now
	return w.fs.Add(path)
}

func (w *fsWatch) remove(path string) { w.fs.Remove(path) }

func (w *fsWatch) events() <-chan dirEvent { return w.ev }
func (w *fsWatch) errors() <-chan error    { return w.fs.Errors }
func (w *fsWatch) close()                  { w.fs.Close() }
func (w *fsWatch) reportsCloses() bool     { return false }

func (w *fsWatch) read() {
	defer close(w.ev)
	watched := func(p string) bool {
		for _, d := range w.fs.WatchList() {
			if d == p {
				return true
			}
		}
		return false
	}
	for e := range w.fs.Events {
		ev := dirEvent{dir: filepath.Dir(e.Name), path: e.Name, op: opChange}
		switch {
		case e.Has(fsnotify.Remove) || e.Has(fsnotify.Rename):
			ev.op = opRemoved
			if watched(e.Name) {
				ev = dirEvent{dir: e.Name, op: opGone}
			}
		case e.Has(fsnotify.Write):
			ev.op = opWrite
		}
		w.ev <- ev
	}
}

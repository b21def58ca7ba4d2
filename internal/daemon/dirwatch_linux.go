package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// inotifyWatch is the Linux dirNotifier: inotify, which alone among the
// platforms says when a writer closes a file, so that a reload can wait
// for a file written in place, however slowly, to be finished.
type inotifyWatch struct {
	f    *os.File
	ev   chan dirEvent
	errs chan error
	done chan struct{}

	mu    sync.Mutex     // guards wds and paths; the reader goroutine looks paths up
	wds   map[int]string // watch descriptor → the path it was added for
	paths map[string]int // path → watch descriptor
}

const (
	// Everything that changes what a directory holds or a file says.
	fullMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM |
		unix.IN_MOVED_TO | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	// Names coming and going only: the parent of the zones directory
	// may be a busy one.
	namesMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF |
		unix.IN_MOVE_SELF
)

func newDirNotifier() (dirNotifier, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	w := &inotifyWatch{f: os.NewFile(uintptr(fd), "inotify"), ev: make(chan dirEvent, 64), errs: make(chan error, 1),
		done: make(chan struct{}), wds: map[int]string{}, paths: map[string]int{}}
	go w.read()
	return w, nil
}

func (w *inotifyWatch) add(path string, names bool) error {
	mask := uint32(fullMask)
	if names {
		mask = namesMask
	}
	wd, err := unix.InotifyAddWatch(int(w.f.Fd()), path, mask|unix.IN_ONLYDIR)
	if err != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: path, Err: err}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.paths[path]; ok && old != wd {
		w.drop(old)
	}
	w.paths[path], w.wds[wd] = wd, path
	return nil
}

func (w *inotifyWatch) remove(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wd, ok := w.paths[path]; ok {
		delete(w.paths, path)
		w.drop(wd)
	}
}

// drop removes watch wd unless another path still uses it. w.mu is held.
func (w *inotifyWatch) drop(wd int) {
	for _, other := range w.paths {
		if other == wd {
			return
		}
	}
	delete(w.wds, wd)
	unix.InotifyRmWatch(int(w.f.Fd()), uint32(wd)) // fails when the kernel dropped it already
}

func (w *inotifyWatch) events() <-chan dirEvent { return w.ev }
func (w *inotifyWatch) errors() <-chan error    { return w.errs }

func (w *inotifyWatch) close() {
	w.f.Close() // ends read
	<-w.done
}

// read decodes events until the file is closed.
func (w *inotifyWatch) read() {
	defer close(w.done)
	defer close(w.ev)
	var buf [64 * (unix.SizeofInotifyEvent + unix.NAME_MAX + 1)]byte
	for {
		n, err := w.f.Read(buf[:])
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.errs <- err
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			raw := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(raw.Len)]
			off += unix.SizeofInotifyEvent + int(raw.Len)
			if i := indexNUL(name); i >= 0 {
				name = name[:i]
			}
			w.send(int(raw.Wd), raw.Mask, string(name))
		}
	}
}

func (w *inotifyWatch) send(wd int, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.ev <- dirEvent{op: opOverflow}
		return
	}
	w.mu.Lock()
	dir, ok := w.wds[wd]
	if mask&unix.IN_IGNORED != 0 && ok {
		delete(w.wds, wd)
		if w.paths[dir] == wd {
			delete(w.paths, dir)
		}
	}
	w.mu.Unlock()
	if !ok {
		return
	}
	var op dirOp
	switch {
	case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
		op, name = opGone, ""
	case mask&unix.IN_CLOSE_WRITE != 0:
		op = opClosed
	case mask&unix.IN_MODIFY != 0:
		op = opWrite
	case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
		op = opRemoved
	default:
		op = opChange
	}
	ev := dirEvent{dir: dir, op: op}
	if name != "" {
		ev.path = filepath.Join(dir, name)
	}
	w.ev <- ev
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// reportsCloses: inotify says when a writer closes a file.
func (w *inotifyWatch) reportsCloses() bool { return true }

package daemon

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
)

// watched runs a zoneWatch on the path that dir returns, with a reload
// that records what the zone file a.zone says at that moment.
type watched struct {
	w       *zoneWatch
	seen    chan string
	retry   atomic.Bool  // what the next reload reports
	retries atomic.Int64 // reloads told they were retries
}

func startWatch(t *testing.T, dir func() string) *watched {
	t.Helper()
	zw, err := newZoneWatch(dir, 30*time.Millisecond, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	wt := &watched{w: zw, seen: make(chan string, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		zw.run(ctx, func(retry bool) bool {
			if retry {
				wt.retries.Add(1)
			}
			b, err := os.ReadFile(filepath.Join(dir(), "a.zone"))
			if err != nil {
				wt.seen <- "error: " + err.Error()
			} else {
				wt.seen <- string(b)
			}
			return wt.retry.Load()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return wt
}

// wait waits for a reload that reads want; every reload before it must
// read something allowed.
func (wt *watched) wait(t *testing.T, want string, allowed func(string) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-wt.seen:
			if got == want {
				return
			}
			if !allowed(got) {
				t.Fatalf("a reload read %q; want only whole versions, then %q", got, want)
			}
		case <-deadline:
			t.Fatalf("no reload read %q within 10s", want)
		}
	}
}

func anything(string) bool { return true }

func write(t *testing.T, dir, body string) {
	t.Helper()
	testbin.WriteFile(t, filepath.Join(dir, "a.zone"), body)
}

// TestZoneWatchFollowsTheDirectory: the watch keeps working through every
// way deployments replace a directory, with no signal: removed and made
// again, renamed away and another renamed in, a symbolic link swapped to
// another directory, and a config that names another path.
func TestZoneWatchFollowsTheDirectory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "zones")
	os.MkdirAll(dir, 0o755)
	write(t, dir, "v1")
	var path atomic.Value
	path.Store(dir)
	wt := startWatch(t, func() string { return path.Load().(string) })

	write(t, dir, "v2")
	wt.wait(t, "v2", anything)

	// Removed, then made again.
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	write(t, dir, "v3")
	wt.wait(t, "v3", anything)
	write(t, dir, "v4") // and the new directory is watched
	wt.wait(t, "v4", anything)

	// Renamed away, another renamed in.
	next := filepath.Join(root, "zones.new")
	os.MkdirAll(next, 0o755)
	write(t, next, "v5")
	if err := os.Rename(dir, filepath.Join(root, "zones.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, dir); err != nil {
		t.Fatal(err)
	}
	wt.wait(t, "v5", anything)
	write(t, filepath.Join(root, "zones.old"), "stale") // the old one is no longer watched
	write(t, dir, "v6")
	wt.wait(t, "v6", func(s string) bool { return s != "stale" })

	// A symbolic link swapped from one release to the next, as
	// `ln -sfn` and Kubernetes volumes do (a new link renamed over).
	link := filepath.Join(root, "current")
	for i, rel := range []string{"r1", "r2", "r3"} {
		os.MkdirAll(filepath.Join(root, rel), 0o755)
		write(t, filepath.Join(root, rel), "release "+rel)
		tmp := link + ".tmp"
		os.Remove(tmp)
		if err := os.Symlink(rel, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			path.Store(link) // a config reload moves zones.dir to the link
			wt.w.Rearm()
		}
		wt.wait(t, "release "+rel, anything)
	}
	write(t, filepath.Join(root, "r3"), "r3 edited") // the release the link names is watched
	wt.wait(t, "r3 edited", anything)
}

// TestZoneWatchWaitsForWriters: a file rewritten in place, with pauses
// far longer than the debounce between its parts, is read only once its
// writer has closed it.
func TestZoneWatchWaitsForWriters(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only inotify says when a writer closes a file")
	}
	dir := t.TempDir()
	write(t, dir, "old whole")
	wt := startWatch(t, func() string { return dir })
	f, err := os.OpenFile(filepath.Join(dir, "a.zone"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"new ", "and ", "whole"} {
		f.WriteString(part)
		time.Sleep(10 * wt.w.debounce) // the pause the scenario is about
	}
	f.Close()
	wt.wait(t, "new and whole", func(s string) bool { return s == "old whole" })
}

// TestZoneWatchRetries: while the reload says it left something to do,
// it is called again by itself, without any event.
func TestZoneWatchRetries(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "v1")
	wt := startWatch(t, func() string { return dir })
	wt.retry.Store(true)
	write(t, dir, "v2")
	for i := 0; i < 3; i++ {
		wt.wait(t, "v2", anything)
	}
	wt.retry.Store(false)
	if n := wt.retries.Load(); n < 2 {
		t.Errorf("reloads told they were retries: got %d; want the ones after the first", n)
	}
}

// recording is a dirNotifier that only records which paths were added.
type recording struct{ added []string }

func (r *recording) add(path string, _ bool) error { r.added = append(r.added, path); return nil }
func (r *recording) remove(string)                 {}
func (r *recording) events() <-chan dirEvent       { return nil }
func (r *recording) errors() <-chan error          { return nil }
func (r *recording) close()                        {}
func (r *recording) reportsCloses() bool           { return true }

// TestZoneWatchReaddsAGoneDirectory: a directory removed and made again
// may get the old one's inode number back, so that it looks like the
// directory watched; once the kernel has said the watched one is gone,
// the path is watched again all the same.
func TestZoneWatchReaddsAGoneDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zones")
	os.MkdirAll(dir, 0o755)
	r := &recording{}
	w := &zoneWatch{n: r, dir: func() string { return dir }, log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		armed: map[string]fs.FileInfo{}, dirty: map[string]time.Time{}}
	w.arm()
	r.added = nil
	// The same directory stands in for one made again with the same
	// inode number.
	_, rearm := w.note(dirEvent{dir: dir, op: opGone}, time.Now())
	if !rearm {
		t.Fatal("a gone directory did not ask for the watch to be armed again")
	}
	w.arm()
	if !slices.Contains(r.added, dir) {
		t.Fatalf("after the watched directory was reported gone, arm added %q; want %q among them", r.added, dir)
	}
}

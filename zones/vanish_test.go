package zones

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDirectoryVanishes: a zones directory that goes away, is replaced
// by an empty one or cannot be read takes no zone away, and says so;
// once it holds zone files again it is used, and a file deleted from a
// directory that still holds others removes its zone as before.
func TestDirectoryVanishes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "zones")
	os.MkdirAll(dir, 0o755)
	writeZone(t, dir, "example.org.yaml", yamlZone)
	writeZone(t, dir, "other.test.zone", otherZone)
	l := newTestLoader(t, dir, "")
	if ps := l.Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	served := func() int { return len(l.Current().Zones()) }

	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		state DirState
		msg   string
	}{
		{"removed", func(t *testing.T) { os.RemoveAll(dir) }, DirUnreadable, "cannot read zones directory"},
		{"empty", func(t *testing.T) { os.MkdirAll(dir, 0o755) }, DirEmpty, "holds no zone files"},
		{"not a directory", func(t *testing.T) {
			os.RemoveAll(dir)
			os.WriteFile(dir, []byte("x"), 0o644)
		}, DirUnreadable, "cannot read zones directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t)
			ps := l.Reload()
			if got := served(); got != 2 {
				t.Errorf("zones served: got %d; want 2, every zone loaded", got)
			}
			if got := aOf(t, l.Current(), "web.example.org."); got != "192.0.2.80" {
				t.Errorf("answer: got %s; want the loaded one", got)
			}
			if len(ps) != 1 || !strings.Contains(ps[0].Msg, tc.msg) ||
				!strings.Contains(ps[0].Msg, "every zone loaded (2) keeps serving") {
				t.Errorf("problems: got %v; want one saying %q and what keeps serving", ps, tc.msg)
			}
			if st, _ := l.Source(); st != tc.state || !l.Pending() {
				t.Errorf("source: got %v, pending %v; want %v, pending", st, l.Pending(), tc.state)
			}
		})
	}

	// Back, with one zone fewer: that one goes, and all is well again.
	os.Remove(dir)
	os.MkdirAll(dir, 0o755)
	writeZone(t, dir, "example.org.yaml", strings.Replace(yamlZone, "192.0.2.80", "192.0.2.81", 1))
	if ps := l.Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	if got := aOf(t, l.Current(), "web.example.org."); got != "192.0.2.81" || served() != 1 {
		t.Errorf("after the directory came back: got %s and %d zones; want 192.0.2.81 and 1 zone", got, served())
	}
	if st, _ := l.Source(); st != DirOK || l.Pending() {
		t.Errorf("source: got %v, pending %v; want ok, nothing pending", st, l.Pending())
	}
}

// TestStartWithoutDirectory: a node starting while its zones directory is
// missing (a mount not up yet) serves every last good copy, says so, and
// keeps them (an empty directory prunes nothing); the directory is used
// once it appears.
func TestStartWithoutDirectory(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	dir := filepath.Join(root, "zones")
	os.MkdirAll(dir, 0o755)
	writeZone(t, dir, "example.org.yaml", yamlZone)
	writeZone(t, dir, "other.test.zone", otherZone)
	if ps := newTestLoader(t, dir, state).Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	os.RemoveAll(dir)

	l := newTestLoader(t, dir, state)
	ps := l.Reload()
	if got := aOf(t, l.Current(), "host.other.test."); got != "198.51.100.10" || len(l.Current().Zones()) != 2 {
		t.Errorf("start without the directory: got %q and %d zones; want the last good copies of both", got, len(l.Current().Zones()))
	}
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "serving the last good copies of 2 zones") {
		t.Errorf("problems: got %v; want one saying the copies are served", ps)
	}

	os.MkdirAll(dir, 0o755) // empty, then filled
	l = newTestLoader(t, dir, state)
	if l.Reload(); len(l.Current().Zones()) != 2 {
		t.Errorf("start with an empty directory: got %d zones; want both copies", len(l.Current().Zones()))
	}
	for _, name := range []string{"example.org.yaml", "other.test.zone"} {
		if _, err := os.Stat(filepath.Join(state, "last-good", name)); err != nil {
			t.Errorf("copy of %s after an empty directory: %v; want it kept", name, err)
		}
	}
	writeZone(t, dir, "example.org.yaml", strings.Replace(yamlZone, "192.0.2.80", "192.0.2.82", 1))
	if ps := l.Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	if got := aOf(t, l.Current(), "web.example.org."); got != "192.0.2.82" || len(l.Current().Zones()) != 1 {
		t.Errorf("once the directory is back: got %s and %d zones; want its one zone", got, len(l.Current().Zones()))
	}
}

// TestNothingToServe: with no directory and no state, check and the
// loader both say that nothing is served.
func TestNothingToServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zones")
	os.MkdirAll(dir, 0o755)
	ps := Check(Options{Dir: dir})
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "holds no zone files") || !strings.Contains(ps[0].Msg, "no zone is served") {
		t.Errorf("check of an empty directory: got %v; want it to fail saying nothing is served", ps)
	}
}

// TestUnchanged: a file counts as read whole only when it is the same
// file, with the same size and time, after the read as before.
func TestUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("one"), 0o644)
	before, _ := os.Stat(path)
	if !unchanged(path, before) {
		t.Error("untouched file: got changed")
	}
	os.WriteFile(path, []byte("one two"), 0o644)
	if unchanged(path, before) {
		t.Error("file grown: got unchanged")
	}
	os.WriteFile(path, []byte("one"), 0o644)
	os.Chtimes(path, time.Now(), before.ModTime().Add(time.Second))
	if unchanged(path, before) {
		t.Error("file rewritten at the same size: got unchanged")
	}
	os.WriteFile(path+".new", []byte("one"), 0o644) // made while the old one exists: another inode
	os.Chtimes(path+".new", time.Now(), before.ModTime())
	os.Rename(path+".new", path)
	if unchanged(path, before) {
		t.Error("file replaced: got unchanged")
	}
}

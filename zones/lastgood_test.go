package zones

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestLastGoodAtStartup: a zone broken when a new loader starts (a
// restart) is served from the copy saved by the last good load, with a
// problem that says so; a master file's copy does not depend on its
// $INCLUDE files.
func TestLastGoodAtStartup(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeZone(t, dir, "example.org.yaml", yamlZone)
	writeZone(t, dir, "other.test.zone", strings.Replace(otherZone, "host A 198.51.100.10\n", "$INCLUDE hosts.inc\n", 1))
	writeZone(t, dir, "hosts.inc", "host A 198.51.100.10\n")
	l := newTestLoader(t, dir, state)
	if ps := l.Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	serial := l.Current().Zone("example.org.").SOA.Serial
	for _, name := range []string{"example.org.yaml", "other.test.zone"} {
		if _, err := os.Stat(filepath.Join(state, "last-good", name)); err != nil {
			t.Errorf("last good copy of %s: %v", name, err)
		}
	}

	// Both files break while the server is down.
	writeZone(t, dir, "example.org.yaml", strings.Replace(yamlZone, "192.0.2.80", "192.0.2.999", 1))
	writeZone(t, dir, "hosts.inc", "host A nope\n")
	l = newTestLoader(t, dir, state)
	ps := l.Reload()
	if got := aOf(t, l.Current(), "web.example.org."); got != "192.0.2.80" {
		t.Errorf("broken YAML zone at startup: got %s; want the last good answer", got)
	}
	if got := aOf(t, l.Current(), "host.other.test."); got != "198.51.100.10" {
		t.Errorf("broken master zone at startup: got %s; want the last good answer", got)
	}
	if got := l.Current().Zone("example.org.").SOA.Serial; got != serial {
		t.Errorf("serial of the copy: got %d; want %d, the serial it had", got, serial)
	}
	if len(ps) != 2 {
		t.Fatalf("problems: got %v; want one per broken file", ps)
	}
	for _, p := range ps {
		if p.Line == 0 || !strings.Contains(p.Msg, "; serving the last good copy saved at ") {
			t.Errorf("problem %q: want its line and that the last good copy is served", p)
		}
	}
	if !strings.HasSuffix(ps[0].Path, "example.org.yaml") || !strings.Contains(ps[0].Msg, `"192.0.2.999"`) {
		t.Errorf("problem %q: want the file and the error", ps[0])
	}
	if st := l.Stats(); st.Failed != 1 || st.ZoneErrors["example.org."] != 1 || st.ZoneErrors["other.test."] != 1 {
		t.Errorf("stats: got %+v; want the reload and both zones counted as failed", st)
	}

	// Fixed: the file is served again, and its copy follows.
	writeZone(t, dir, "example.org.yaml", strings.Replace(yamlZone, "192.0.2.80", "192.0.2.81", 1))
	if ps := l.Reload(); len(ps) != 1 {
		t.Fatalf("problems: got %v; want only the master zone's", ps)
	}
	got, _ := os.ReadFile(filepath.Join(state, "last-good", "example.org.yaml"))
	if !strings.Contains(string(got), "192.0.2.81") {
		t.Errorf("copy after the fix: got\n%s\nwant the new content", got)
	}
}

// TestLastGoodDeletedZone: a zone whose file is deleted is not served
// again at the next start, and its copy goes.
func TestLastGoodDeletedZone(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeZone(t, dir, "example.org.yaml", yamlZone)
	writeZone(t, dir, "other.test.zone", otherZone)
	l := newTestLoader(t, dir, state)
	l.Reload()
	os.Remove(filepath.Join(dir, "other.test.zone"))
	if ps := l.Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	if _, err := os.Stat(filepath.Join(state, "last-good", "other.test.zone")); !os.IsNotExist(err) {
		t.Errorf("copy of the deleted zone: got %v; want it removed", err)
	}
	l = newTestLoader(t, dir, state)
	l.Reload()
	if got := l.Current().Lookup("host.other.test.", dns.TypeA).Kind; got != Refused {
		t.Errorf("deleted zone after restart: got %v; want Refused", got)
	}

	// A zones directory that cannot be read says nothing about which
	// zones exist: the copies stay.
	l = newTestLoader(t, filepath.Join(dir, "missing"), state)
	l.Reload()
	if _, err := os.Stat(filepath.Join(state, "last-good", "example.org.yaml")); err != nil {
		t.Errorf("copy after an unreadable zones directory: %v; want it kept", err)
	}
}

// TestLastGoodWrittenOnChange: an unchanged zone does not rewrite its copy.
func TestLastGoodWrittenOnChange(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeZone(t, dir, "example.org.yaml", yamlZone)
	l := newTestLoader(t, dir, state)
	l.Reload()
	copyPath := filepath.Join(state, "last-good", "example.org.yaml")
	old := time.Unix(1_000_000_000, 0)
	if err := os.Chtimes(copyPath, old, old); err != nil {
		t.Fatal(err)
	}
	l.Reload()
	newTestLoader(t, dir, state).Reload() // a restart compares with the disk
	if fi, _ := os.Stat(copyPath); !fi.ModTime().Equal(old) {
		t.Errorf("unchanged zone: copy rewritten at %v", fi.ModTime())
	}
	writeZone(t, dir, "example.org.yaml", yamlZone+"# a comment\n")
	l.Reload()
	if fi, _ := os.Stat(copyPath); fi.ModTime().Equal(old) {
		t.Error("changed file: copy not rewritten")
	}
	// Tools never write the state dir.
	writeZone(t, dir, "new.test.yaml", yamlZone)
	Check(Options{Dir: dir, SOA: testSOA, StateDir: state})
	Load(Options{Dir: dir, SOA: testSOA, StateDir: state})
	if _, err := os.Stat(filepath.Join(state, "last-good", "new.test.yaml")); !os.IsNotExist(err) {
		t.Errorf("after check and load: got %v; want no copy written", err)
	}
}

// TestStateWriteErrors: state files that cannot be written are reported,
// the zones still serve, and the next reload retries the writes even when
// nothing changed.
func TestStateWriteErrors(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	writeZone(t, dir, "example.org.yaml", yamlZone)
	// A directory where a file goes, and a file where a directory goes:
	// writes fail even for root.
	if err := os.Mkdir(filepath.Join(state, serialFile), 0o755); err != nil {
		t.Fatal(err)
	}
	writeZone(t, state, "last-good", "in the way")
	l, _ := NewLoader(Options{Dir: dir, SOA: testSOA, StateDir: state}, slog.New(slog.DiscardHandler)) // the unreadable serials are reported
	ps := l.Reload()
	if len(ps) != 2 || !strings.Contains(ps.Error(), "cannot save the last good copy") || !strings.Contains(ps.Error(), "zone serials") {
		t.Errorf("problems: got %v; want the copy and the serials reported", ps)
	}
	for _, p := range ps {
		if !p.State {
			t.Errorf("%s: want it marked a state write, not a zone problem", p)
		}
	}
	if got := aOf(t, l.Current(), "web.example.org."); got != "192.0.2.80" {
		t.Errorf("zone: got %s; want it served", got)
	}
	ws := l.StateWrites()
	if len(ws) != 2 || ws[0].Err == nil || ws[1].Err == nil || ws[0].Since.IsZero() || ws[1].Failures != 1 {
		t.Errorf("state writes: got %+v; want both failing", ws)
	}

	os.Remove(filepath.Join(state, serialFile))
	os.Remove(filepath.Join(state, "last-good"))
	if ps := l.Reload(); len(ps) > 0 {
		t.Errorf("after the fix: got %v", ps)
	}
	for _, w := range l.StateWrites() {
		if w.Err != nil || !w.Since.IsZero() || w.Failures != 1 {
			t.Errorf("%s after the fix: got %+v; want the error cleared and the failure still counted", w.Name, w)
		}
	}
	for _, p := range []string{serialFile, "last-good/example.org.yaml"} {
		if _, err := os.Stat(filepath.Join(state, p)); err != nil {
			t.Errorf("%s after the fix: %v; want it written", p, err)
		}
	}
	if newTestLoader(t, dir, "").StateWrites() != nil {
		t.Error("no state dir: want no state writes")
	}
}

package healthmesh

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/pools"
)

func aloneNode(t *testing.T, stateDir string) (*Node, error) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	n, err := NewNode(NodeOptions{Name: "solo", Region: "r", StateDir: stateDir, Log: log}, NewChecker(Options{AssumeUp: true}, &Prober{}, log))
	if n != nil {
		t.Cleanup(n.Close)
	}
	return n, err
}

func TestDrains(t *testing.T) {
	dir := t.TempDir()
	n, err := aloneNode(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	v := &pools.Value{Value: "198.51.100.1"}
	cname := &pools.Value{Value: "lb.example.net."}
	eu := &pools.Pool{ID: "eu"}
	us := &pools.Pool{ID: "us"}

	if !n.Settled() {
		t.Error("no drains, no checks: not settled")
	}
	n.SetDrain("198.51.100.1", 0, "maintenance", "test", false)
	if n.Settled() {
		t.Error("a value drained: settled")
	}
	n.SetDrain("pool:eu", 0, "region out", "test", false)
	n.SetDrain("lb.example.net", 300*time.Millisecond, "", "test", false)
	for _, tt := range []struct {
		name string
		p    *pools.Pool
		v    *pools.Value
		want bool
	}{
		{"value drained in any pool", us, v, true},
		{"value drained in fail-open", nil, v, true},
		{"pool drained", eu, &pools.Value{Value: "192.0.2.9"}, true},
		{"pool drain does not touch fail-open", nil, &pools.Value{Value: "192.0.2.9"}, false},
		{"other pool", us, &pools.Value{Value: "192.0.2.9"}, false},
		{"CNAME value named without the dot", us, cname, true},
	} {
		if got := n.Drained(nil, tt.p, tt.v); got != tt.want {
			t.Errorf("%s: got %v; want %v", tt.name, got, tt.want)
		}
	}
	if got := len(n.Drains()); got != 3 {
		t.Errorf("active drains: got %d; want 3", got)
	}
	// --for expires by itself.
	deadline := time.Now().Add(3 * time.Second)
	for n.Drained(nil, us, cname) {
		if time.Now().After(deadline) {
			t.Fatal("timed drain did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Undo.
	n.SetDrain("198.51.100.1", 0, "", "test", true)
	if n.Drained(nil, us, v) {
		t.Error("undone drain still applies")
	}
	if n.Settled() {
		t.Error("a pool still drained: settled")
	}

	// A restarted node reads them back before anything else.
	n.Close()
	again, err := aloneNode(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Drained(nil, eu, &pools.Value{Value: "x"}) || again.Drained(nil, us, v) {
		t.Errorf("after restart: drains %+v", again.Drains())
	}
	if again.Settled() {
		t.Error("a pool drained after restart: settled")
	}
	again.SetDrain("pool:eu", 0, "", "test", true)
	if !again.Settled() {
		t.Errorf("every drain undone or expired: not settled (%+v)", again.Drains())
	}
}

func TestDrainLastWriterWins(t *testing.T) {
	n, _ := aloneNode(t, "")
	base := time.Now().Add(-time.Hour) // tombstones older than DrainRetention are not kept
	older := Drain{Target: "pool:eu", SetAt: base, By: "a"}
	newer := Drain{Target: "pool:eu", SetAt: base.Add(time.Second), By: "b", Deleted: true}
	if !n.mergeDrain(newer) {
		t.Fatal("first drain not taken")
	}
	if n.mergeDrain(older) {
		t.Error("an older write replaced a newer one")
	}
	tie := Drain{Target: "pool:eu", SetAt: base.Add(time.Second), By: "c"}
	if !n.mergeDrain(tie) {
		t.Error("same time: the larger writer name must win on every node")
	}
}

func TestCorruptDrainFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "drains.json"), []byte("{not json"), 0o644)
	n, err := aloneNode(t, dir)
	if err == nil || !strings.Contains(err.Error(), "is corrupt (moved to") {
		t.Fatalf("got %v; want the corrupt file reported", err)
	}
	if n == nil {
		t.Fatal("node did not start")
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "drains.json.corrupt-*"))
	if len(matches) != 1 {
		t.Errorf("corrupt file not moved aside: %v", matches)
	}
}

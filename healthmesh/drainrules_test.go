package healthmesh

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/pools"
)

func TestCanonicalTarget(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  string // substring; "" for none
	}{
		{in: "198.51.100.1", want: "198.51.100.1"},
		{in: "2001:DB8:0:0::1", want: "2001:db8::1"},
		{in: "2001:db8::1", want: "2001:db8::1"},
		{in: "::ffff:198.51.100.1", want: "198.51.100.1"},
		{in: "CDN-EU2.EXAMPLE.NET", want: "cdn-eu2.example.net"},
		{in: "cdn-eu2.example.net.", want: "cdn-eu2.example.net"},
		{in: "bücher.example.", want: "xn--bcher-kva.example"},
		{in: "pool:eu", want: "pool:eu"},
		{in: "POOL:EU", want: "pool:EU"}, // pool ids as written in the zones
		{in: "fe80::1%eth0", wantErr: "zone"},
		{in: "", wantErr: "required"},
		{in: "pool:", wantErr: "needs a pool id"},
		{in: "a b", wantErr: "spaces"},
		{in: `a"b`, wantErr: "quotes"},
		{in: "a..b", wantErr: "empty label"},
		{in: ".", wantErr: "not an address"},
		{in: strings.Repeat("a", 64) + ".example", wantErr: "longer than 63"},
		{in: strings.Repeat("a.", 128), wantErr: "at most 255"},
		{in: "\xff.example", wantErr: "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CanonicalTarget(tt.in)
			switch {
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadDrain)):
				t.Errorf("got %q, %v; want an ErrBadDrain containing %q", got, err, tt.wantErr)
			}
			if err == nil {
				if again, _ := CanonicalTarget(got); again != got {
					t.Errorf("not idempotent: %q → %q", got, again)
				}
			}
		})
	}
}

func TestCheckDrainReason(t *testing.T) {
	tests := []struct {
		name, reason string
		wantErr      string
	}{
		{"empty", "", ""},
		{"at the limit", strings.Repeat("é", MaxDrainReason/2), ""},
		{"one byte over", strings.Repeat("a", MaxDrainReason+1), "reason is 201 bytes; at most 200 are allowed"},
		{"measured", strings.Repeat("a", 1500), "reason is 1500 bytes"},
		{"not UTF-8", "a\xffb", "not UTF-8"},
		{"new line", "a\nb", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDrainReason(tt.reason)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func TestCloseTargets(t *testing.T) {
	known := []string{"cdn-eu.example.net", "cdn-us.example.net", "198.51.100.10", "198.51.100.11", "198.51.100.1",
		"pool:eu", "pool:us", "pool:ap-south", "lb.example.org"}
	tests := []struct {
		target string
		want   []string
	}{
		{"cdn-eu2.example.net", []string{"cdn-eu.example.net", "cdn-us.example.net"}},
		{"198.51.100.100", []string{"198.51.100.10", "198.51.100.1", "198.51.100.11"}},
		{"pool:euu", []string{"pool:eu", "pool:us"}},
		{"pool:ap", []string{"pool:ap-south", "pool:eu", "pool:us"}},
		{"www.example.com", nil},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			if got := CloseTargets(tt.target, known, 3); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

// largestDrain is the biggest drain SetDrain can write with reason:
// every other field at its bound, and times that print longest.
func largestDrain(reason string) Drain {
	loc := time.FixedZone("", -(23*3600 + 59*60))
	at := time.Date(2026, 12, 31, 23, 59, 59, 123456789, loc)
	return Drain{
		Target:  "pool:" + strings.Repeat("p", MaxDrainTarget-len("pool:")),
		Until:   at.Add(time.Hour),
		Reason:  reason,
		SetAt:   at,
		By:      strings.Repeat("b", maxDrainBy),
		Deleted: true,
	}
}

// largestReasons are the reasons of MaxDrainReason bytes that JSON
// escapes most, each with its name.
var largestReasons = map[string]string{
	"quotes":    strings.Repeat(`"`, MaxDrainReason),
	"html":      strings.Repeat("<&>", MaxDrainReason/3),
	"separator": strings.Repeat("\u2028", MaxDrainReason/3),
	"invalid":   strings.Repeat("\ufffd", MaxDrainReason/3),
}

// TestLargestDrainFits: the largest drain a node writes travels in one
// broadcast; a larger one would wait in memberlist's queue for good.
func TestLargestDrainFits(t *testing.T) {
	for name, reason := range largestReasons {
		t.Run(name, func(t *testing.T) {
			d := largestDrain(reason)
			if err := d.wellFormed(); err != nil {
				t.Fatalf("the largest drain is not well formed: %v", err)
			}
			if err := CheckDrainReason(d.Reason); err != nil {
				t.Fatalf("the largest reason is refused: %v", err)
			}
			b, err := encode(msgDrain, d)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > maxMsg {
				t.Errorf("largest drain message: %d bytes; want at most maxMsg %d", len(b), maxMsg)
			}
			t.Logf("largest drain message: %d bytes of %d", len(b), maxMsg)
		})
	}
}

// TestDrainFromTheFuture: a drain stamped in year 9999, whether from a
// peer's message, its state or the drains file, is refused (counted, or
// reported at load with the file left as it was), so the target can
// still be drained and undone.
func TestDrainFromTheFuture(t *testing.T) {
	const counter = `meridian_mesh_drains_refused_total{reason="future"}`
	future := Drain{Target: "198.51.100.7", SetAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), By: "evil"}
	msg := mustEncode(msgDrain, future)
	state := encodeItems([][]byte{mustEncode(msgDrain, future)})

	n, m := newDelegate(t)
	before := meshState(n)
	m.NotifyMsg(msg)
	m.MergeRemoteState(state, false)
	// A minute's skew is tolerated; a little more is not.
	ahead := Drain{Target: "198.51.100.8", SetAt: time.Now().Add(MaxDrainSkew + 5*time.Second), By: "fast"}
	m.NotifyMsg(mustEncode(msgDrain, ahead))
	pump(n)
	if after := meshState(n); after != before {
		t.Errorf("state changed from\n%s\nto\n%s", before, after)
	}
	samples := gather(t, n)
	if got := samples[counter]; got != 3 {
		t.Errorf("%s: got %v; want 3", counter, got)
	}
	if got := samples["meridian_mesh_malformed_messages_total{}"]; got != 0 {
		t.Errorf("malformed: got %v; want 0 (future drains are refused, not malformed)", got)
	}
	skewed := Drain{Target: "198.51.100.9", SetAt: time.Now().Add(MaxDrainSkew / 2), By: "fast"}
	m.NotifyMsg(mustEncode(msgDrain, skewed))
	pump(n)
	if !n.Drained(nil, nil, &pools.Value{Value: "198.51.100.9"}) {
		t.Error("a drain within MaxDrainSkew was refused")
	}

	// In the file: dropped and reported; the rest kept, the file as it was.
	dir := t.TempDir()
	path := filepath.Join(dir, "drains.json")
	good := Drain{Target: "pool:eu", SetAt: time.Now().Add(-time.Minute), By: "n1"}
	data, _ := json.Marshal([]Drain{future, good})
	os.WriteFile(path, data, 0o644)
	f, err := aloneNode(t, dir)
	if err == nil || !strings.Contains(err.Error(), "198.51.100.7: set_at 9999-12-31T23:59:59Z is in the future") {
		t.Fatalf("got %v; want the future drain reported", err)
	}
	if st := f.DrainPersistence(); st.LoadErr == nil || st.Err != nil {
		t.Errorf("persistence: got %+v; want the load problem, no write error", st)
	}
	if on, _ := os.ReadFile(path); string(on) != string(data) {
		t.Errorf("drains.json changed at load: %s", on)
	}
	if !f.Drained(nil, &pools.Pool{ID: "eu"}, &pools.Value{Value: "x"}) || f.Drained(nil, nil, &pools.Value{Value: "198.51.100.7"}) {
		t.Errorf("drains after load: %+v; want pool:eu only", f.Drains())
	}
	// The target can be drained and undone, and the file holds both.
	if _, err := f.SetDrain("198.51.100.7", 0, "", "test", false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetDrain("198.51.100.7", 0, "", "test", true); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if f.Drained(nil, nil, &pools.Value{Value: "198.51.100.7"}) {
		t.Error("undone drain still applies")
	}
	var list []Drain
	if on, _ := os.ReadFile(path); json.Unmarshal(on, &list) != nil || len(list) != 2 {
		t.Errorf("drains.json after the undo: %s; want pool:eu and the tombstone", on)
	}
}

// TestDrainEncodingFailure: a drain that does not encode is never
// written, nor sent: the file keeps its last good content and the status
// says the write failed.
func TestDrainEncodingFailure(t *testing.T) {
	dir := t.TempDir()
	n, err := aloneNode(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.SetDrain("pool:eu", 0, "", "test", false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "drains.json")
	good, _ := os.ReadFile(path)
	if _, err := encode(msgDrain, Drain{Target: "x", SetAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("encode: got no error for year 10000")
	}
	n.mu.Lock()
	n.drains["x"] = Drain{Target: "x", SetAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} // as no entry point allows
	written := n.drainW.changed()
	n.mu.Unlock()
	if err = <-written; err == nil || !strings.Contains(err.Error(), "encoding") {
		t.Errorf("persist: got %v; want the encoding error", err)
	}
	if on, _ := os.ReadFile(path); string(on) != string(good) {
		t.Errorf("drains.json: got %q; want the last good content %q", on, good)
	}
	if st := n.DrainPersistence(); st.Err == nil || st.Failures != 1 {
		t.Errorf("persistence: got %+v; want the failure reported", st)
	}
}

// TestPeerDrainBounds: peers' drains with over-long reasons or targets,
// or an impossible target, are malformed; well-formed ones arrive
// canonical.
func TestPeerDrainBounds(t *testing.T) {
	now := time.Now().UTC().Format(time.RFC3339)
	tests := []struct {
		name, msg string
		bad       bool
	}{
		{"long reason", `d{"target":"pool:us","set_at":"` + now + `","by":"n3","reason":"` + strings.Repeat("r", MaxDrainReason+1) + `"}`, true},
		{"long target", `d{"target":"` + strings.Repeat("a", MaxDrainTarget+1) + `","set_at":"` + now + `","by":"n3"}`, true},
		{"long by", `d{"target":"pool:us","set_at":"` + now + `","by":"` + strings.Repeat("b", maxDrainBy+1) + `"}`, true},
		{"bad target", `d{"target":"a..b","set_at":"` + now + `","by":"n3"}`, true},
		{"upper case", `d{"target":"CDN.Example.NET.","set_at":"` + now + `","by":"n3"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, m := newDelegate(t)
			m.NotifyMsg([]byte(tt.msg))
			pump(n)
			if got := m.badMsgs.Load() == 1; got != tt.bad {
				t.Errorf("malformed: got %v; want %v", got, tt.bad)
			}
			if !tt.bad && !n.Drained(nil, nil, &pools.Value{Value: "cdn.example.net."}) {
				t.Errorf("drains: %+v; want cdn.example.net drained", n.Drains())
			}
		})
	}
}

func TestSetDrainRefusals(t *testing.T) {
	n, _ := aloneNode(t, "")
	if _, err := n.SetDrain("2001:DB8:0:0::1", 0, "", "test", false); err != nil {
		t.Fatal(err)
	}
	if !n.Drained(nil, nil, &pools.Value{Value: "2001:db8::1"}) {
		t.Error("upper-case IPv6 target does not drain its value")
	}
	tests := []struct {
		name    string
		target  string
		reason  string
		undo    bool
		kind    error
		wantErr string
	}{
		{"long reason", "pool:eu", strings.Repeat("a", 1500), false, ErrBadDrain, "at most 200"},
		{"bad target", "a b", "", false, ErrBadDrain, "spaces"},
		{"undo never drained", "198.51.100.200", "", true, ErrNotDrained, "198.51.100.200 is not drained"},
		{"undo twice", "2001:db8::1", "", true, nil, ""},
		{"undo undone", "2001:DB8::1", "", true, ErrNotDrained, "2001:db8::1 is not drained (undone at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := n.SetDrain(tt.target, 0, tt.reason, "test", tt.undo)
			if tt.kind == nil {
				if err != nil {
					t.Errorf("got %v; want it done", err)
				}
				return
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.wantErr) || d.Target != "" {
				t.Errorf("got %+v, %v; want a zero drain and %v containing %q", d, err, tt.kind, tt.wantErr)
			}
		})
	}
}

// TestDrainsForgotten: undone and expired drains older than
// DrainRetention are forgotten, in memory and in the file; an old
// tombstone from a peer is not taken up.
func TestDrainsForgotten(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-DrainRetention - time.Hour)
	list := []Drain{
		{Target: "198.51.100.1", SetAt: old, By: "n1", Deleted: true},               // forgotten
		{Target: "198.51.100.2", SetAt: old, Until: old.Add(time.Minute), By: "n1"}, // forgotten
		{Target: "198.51.100.3", SetAt: time.Now().Add(-time.Hour), By: "n1", Deleted: true},
		{Target: "198.51.100.4", SetAt: old, By: "n1"}, // until undone: kept
	}
	data, _ := json.Marshal(list)
	os.WriteFile(filepath.Join(dir, "drains.json"), data, 0o644)
	n, err := aloneNode(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	n.mergeDrain(Drain{Target: "198.51.100.5", SetAt: old, By: "n2", Deleted: true})
	want := `drain "198.51.100.3"|drain "198.51.100.4"`
	got := []string{}
	for _, line := range strings.Split(meshState(n), "\n") {
		got = append(got, line[:strings.Index(line, " {")])
	}
	if strings.Join(got, "|") != want {
		t.Errorf("held: got %q; want %q", got, want)
	}
	// The drain writer rewrites the file in the background.
	var b []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var onDisk []Drain
		if b, _ = os.ReadFile(filepath.Join(dir, "drains.json")); json.Unmarshal(b, &onDisk) == nil && len(onDisk) == 2 {
			return
		}
	}
	t.Errorf("drains.json: got %s; want the two kept", b)
}

// TestDrainLimit: a node holds drains for at most MaxDrains targets; a
// drain of one more is refused, from the API and from peers.
func TestDrainLimit(t *testing.T) {
	n, m := newDelegate(t)
	now := time.Now()
	n.mu.Lock()
	for i := len(n.drains); i < MaxDrains; i++ {
		target := fmt.Sprintf("pool:p%d", i)
		n.drains[target] = Drain{Target: target, SetAt: now, By: "n1", Deleted: true}
	}
	n.mu.Unlock()
	if _, err := n.SetDrain("pool:new", 0, "", "test", false); !errors.Is(err, ErrBadDrain) || !strings.Contains(err.Error(), "the most a node holds") {
		t.Errorf("SetDrain beyond the limit: got %v", err)
	}
	if _, err := n.SetDrain("pool:eu", 0, "", "test", false); err != nil {
		t.Errorf("SetDrain of a target held: got %v; want it done", err)
	}
	m.NotifyMsg(mustEncode(msgDrain, Drain{Target: "pool:peer", SetAt: now, By: "n2"}))
	pump(n)
	if got := gather(t, n)[`meridian_mesh_drains_refused_total{reason="limit"}`]; got != 1 {
		t.Errorf("refused for the limit: got %v; want 1", got)
	}
}

// TestMeshLargestDrain: the largest drains set on one node of three reach
// the others by broadcast within a couple of seconds; push/pull, a
// minute apart here, is not what carries them.
func TestMeshLargestDrain(t *testing.T) {
	var nodes []*testNode
	var first string
	for i := range 3 {
		addr := fmt.Sprintf("127.0.0.%d:%d", i+1, testbin.FreePort(t, fmt.Sprintf("127.0.0.%d", i+1)))
		o := &MeshOptions{Bind: addr, Insecure: true, ProbeInterval: 200 * time.Millisecond, PushPullInterval: time.Minute}
		if i == 0 {
			first = addr
		} else {
			o.Join = []string{first}
		}
		log := slog.New(slog.DiscardHandler)
		n, err := NewNode(NodeOptions{Name: fmt.Sprintf("n%d", i), Region: "eu", Mesh: o, Log: log}, NewChecker(Options{AssumeUp: true}, &Prober{}, log))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		nodes = append(nodes, &testNode{Node: n, addr: addr})
	}
	waitAll(t, 10*time.Second, "the mesh to form", nodes, func(n *testNode) bool { return members(n) == 3 })
	for name, reason := range largestReasons {
		target := "pool:" + name + strings.Repeat("q", MaxDrainTarget-len("pool:")-len(name))
		if _, err := nodes[0].SetDrain(target, time.Hour, reason, "api@"+strings.Repeat("b", maxDrainBy-4), false); err != nil {
			t.Fatal(err)
		}
		p := &pools.Pool{ID: target[len("pool:"):]}
		took := waitAll(t, 10*time.Second, "the drain on every node", nodes, func(n *testNode) bool { return n.Drained(nil, p, &pools.Value{}) })
		if took > 2*time.Second {
			t.Errorf("%s: the largest drain took %v to reach every node; want within 2s", name, took)
		}
		t.Logf("%s: the largest drain reached every node in %v", name, took.Round(time.Millisecond))
	}
}

package healthmesh

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// newDelegate returns a node whose mesh is only its memberlist delegate,
// without sockets: the test calls what memberlist would. The node is
// closed first, which stops its ticker, so the test drives it alone; it
// still merges what it is sent. It already holds an observation from n2
// and a drain.
func newDelegate(t testing.TB) (*Node, *mesh) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	n, err := NewNode(NodeOptions{Name: "n1", Region: "eu", Log: log}, NewChecker(Options{}, nil, log))
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	m := &mesh{node: n, stop: make(chan struct{}), alive: map[string]bool{"n1": true, "n2": true}, known: map[string]Member{},
		queue: &memberlist.TransmitLimitedQueue{NumNodes: func() int { return 2 }, RetransmitMult: 4}}
	n.mesh = m
	for _, b := range meshSeeds()[:2] {
		m.NotifyMsg(b)
	}
	if st := meshState(n); m.badMsgs.Load() != 0 || strings.Count(st, "\n") != 2 {
		t.Fatalf("setting up: %d malformed messages; state\n%s", m.badMsgs.Load(), st)
	}
	return n, m
}

// mustEncode is encode for messages known to encode.
func mustEncode(kind byte, v any) []byte {
	b, err := encode(kind, v)
	if err != nil {
		panic(err)
	}
	return b
}

// meshSeeds are messages as nodes send them, and some that no node sends.
func meshSeeds() [][]byte {
	until := time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC)
	return [][]byte{
		mustEncode(msgObservations, wireBatch{Observer: "n2", Region: "us", Items: []wireObs{
			{Endpoint: "ep1", Up: true, Since: 1767366245000, Seq: 7, AgeMS: 120},
			{Endpoint: "ep2", Up: false, Since: 1767366245000, Seq: 8, AgeMS: 0},
		}}),
		mustEncode(msgDrain, Drain{Target: "pool:eu", Until: until.AddDate(80, 0, 0), Reason: "maintenance", SetAt: until.Add(-time.Hour), By: "api@127.0.0.1"}),
		mustEncode(msgDrain, Drain{Target: "198.51.100.1", SetAt: until, By: "n3", Deleted: true}),
		mustEncode(msgObservations, wireBatch{Observer: "n1", Region: "eu", Items: []wireObs{{Endpoint: "ep1", Seq: 1}}}),
		nil,
		[]byte("o"),
		[]byte("o{}"),
		[]byte(`o{"n":"n2","i":[{"e":"ep1","q":9,"a":-5000}]}`),
		[]byte(`o{"n":"n2","i":[{"e":"","q":9}]}`),
		[]byte(`d{"target":""}`),
		[]byte(`d{"target":"x","set_at":"not a time"}`),
		[]byte(`x{"n":"n2"}`),
		[]byte("\x00\xff\xfe"),
	}
}

// meshState is what a node learned from the mesh, in a comparable form.
func meshState(n *Node) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var lines []string
	for id, byObs := range n.obs {
		for observer, e := range byObs {
			lines = append(lines, fmt.Sprintf("obs %q %q %+v", id, observer, *e))
		}
	}
	for target, d := range n.drains {
		lines = append(lines, fmt.Sprintf("drain %q %+v", target, d))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// checkWellFormed checks that everything n holds could have been sent by
// a node: named endpoints and observers, no observation seen after now,
// drains with targets.
func checkWellFormed(t *testing.T, in []byte, n *Node, now time.Time) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, byObs := range n.obs {
		for observer, e := range byObs {
			if id == "" || observer == "" || e.seen.After(now) {
				t.Fatalf("%q: holds observation of %q by %q seen %v after now", in, id, observer, e.seen.Sub(now))
			}
		}
	}
	for target := range n.drains {
		if target == "" {
			t.Fatalf("%q: holds a drain without target", in)
		}
	}
}

// FuzzMeshMessage sends arbitrary gossip messages to a node. A message
// that does not decode is ignored and counted; one that does is merged,
// and re-encodes to itself.
func FuzzMeshMessage(f *testing.F) {
	for _, b := range meshSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, m := newDelegate(t)
		before := meshState(n)
		m.NotifyMsg(b)
		now := time.Now()
		bad := m.badMsgs.Load()
		kind, batch, drain, err := decodeMsg(b)
		if err != nil {
			if bad != 1 {
				t.Fatalf("%q: malformed (%v) but counted %d times", b, err, bad)
			}
			if after := meshState(n); after != before {
				t.Fatalf("%q: malformed, yet state changed from\n%s\nto\n%s", b, before, after)
			}
			return
		}
		if bad != 0 {
			t.Fatalf("%q: decodes, yet counted as malformed", b)
		}
		checkWellFormed(t, b, n, now)
		var v any = batch
		if kind == msgDrain {
			v = drain
		}
		once, err := encode(kind, v)
		if err != nil {
			t.Fatalf("%q: decodes, yet does not encode: %v", b, err)
		}
		_, batch2, drain2, err := decodeMsg(once)
		if err != nil {
			t.Fatalf("%q: re-encoded as %q, which does not decode: %v", b, once, err)
		}
		if v = batch2; kind == msgDrain {
			v = drain2
		}
		if twice, _ := encode(kind, v); !bytes.Equal(once, twice) {
			t.Fatalf("%q: re-encodes as %q, then as %q", b, once, twice)
		}
	})
}

// FuzzMeshState sends an arbitrary push/pull state to a node: ignored and
// counted when it does not decode, else merged.
func FuzzMeshState(f *testing.F) {
	n, _ := newDelegate(f)
	f.Add(n.mesh.LocalState(false))
	f.Add([]byte(`{"b":[{"n":"n3","r":"ap","i":[{"e":"ep9","u":true,"s":1,"q":2,"a":30}]}],"d":[{"target":"x","set_at":"2026-01-02T15:04:05Z","by":"n3"}]}`))
	f.Add([]byte(`{"b":[{"n":"","i":[{"e":"ep9"}]}]}`))
	f.Add([]byte(`{"b":[{"n":"n3","i":[{"e":"ep9","a":-1000000}]}]}`))
	f.Add([]byte(`{"d":[{"target":""}]}`))
	f.Add([]byte(`{"b":{}}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, m := newDelegate(t)
		before := meshState(n)
		m.MergeRemoteState(b, false)
		now := time.Now()
		bad := m.badMsgs.Load()
		var st wireState
		if err := json.Unmarshal(b, &st); err != nil && bad != 1 {
			t.Fatalf("%q: malformed (%v) but counted %d times", b, err, bad)
		}
		if bad > 1 {
			t.Fatalf("%q: counted %d times", b, bad)
		}
		if bad == 1 {
			if after := meshState(n); after != before {
				t.Fatalf("%q: malformed, yet state changed from\n%s\nto\n%s", b, before, after)
			}
			return
		}
		checkWellFormed(t, b, n, now)
	})
}

// TestMeshMalformedCounted sends a node garbage as gossip messages and as
// push/pull state: each is ignored, leaving the node's state as it was,
// and counted in meridian_mesh_malformed_messages_total.
func TestMeshMalformedCounted(t *testing.T) {
	const counter = "meridian_mesh_malformed_messages_total{}"
	n, m := newDelegate(t)
	before := meshState(n)
	if got, ok := gather(t, n)[counter]; !ok || got != 0 {
		t.Fatalf("%s: got %v (exported: %v) before any garbage; want 0", counter, got, ok)
	}
	tests := []struct {
		name  string
		send  func([]byte)
		input string
	}{
		{"empty message", m.NotifyMsg, ""},
		{"type only", m.NotifyMsg, "o"},
		{"unknown type", m.NotifyMsg, `x{"n":"n2"}`},
		{"not JSON", m.NotifyMsg, "o{\"n\":\"n2\",\"i\":[\xff"},
		{"no observer", m.NotifyMsg, `o{"i":[{"e":"ep1","q":99}]}`},
		{"no endpoint", m.NotifyMsg, `o{"n":"n2","i":[{"e":"","q":99}]}`},
		{"age from the future", m.NotifyMsg, `o{"n":"n2","i":[{"e":"ep1","q":99,"a":-60000}]}`},
		{"age beyond a duration", m.NotifyMsg, `o{"n":"n2","i":[{"e":"ep1","q":99,"a":9223372036854775807}]}`},
		{"drain without target", m.NotifyMsg, `d{"set_at":"2030-01-01T00:00:00Z","by":"n3"}`},
		{"drain with a bad time", m.NotifyMsg, `d{"target":"pool:us","set_at":"tomorrow"}`},
		{"state not JSON", func(b []byte) { m.MergeRemoteState(b, false) }, "\x00\x01garbage"},
		{"state of the wrong shape", func(b []byte) { m.MergeRemoteState(b, true) }, `{"b":{"n":"n2"}}`},
		{"state with one bad batch", func(b []byte) { m.MergeRemoteState(b, false) },
			`{"b":[{"n":"n3","i":[{"e":"ep7","q":1}]},{"n":"","i":[{"e":"ep1","q":99}]}]}`},
		{"state with a drain without target", func(b []byte) { m.MergeRemoteState(b, false) },
			`{"d":[{"target":"pool:ap","set_at":"2030-01-01T00:00:00Z","by":"n3"},{"set_at":"2030-01-01T00:00:00Z"}]}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.send([]byte(tt.input))
			if got, want := gather(t, n)[counter], float64(i+1); got != want {
				t.Errorf("%s: got %v; want %v", counter, got, want)
			}
			if after := meshState(n); after != before {
				t.Errorf("state changed from\n%s\nto\n%s", before, after)
			}
		})
	}
	// A good message still merges, and is not counted.
	m.NotifyMsg([]byte(`o{"n":"n2","r":"us","i":[{"e":"ep1","u":true,"q":99,"a":10}]}`))
	if got, want := gather(t, n)[counter], float64(len(tests)); got != want {
		t.Errorf("%s after a good message: got %v; want %v", counter, got, want)
	}
	if meshState(n) == before {
		t.Errorf("a good message changed nothing")
	}
}

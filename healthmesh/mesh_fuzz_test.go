package healthmesh

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegateIDs are the endpoints of the delegate node's zones.
var delegateIDs = testIDs(40)

// newDelegate returns a node whose mesh is only its memberlist delegate,
// without sockets: the test calls what memberlist would, and pump plays
// the loop. The node is closed first, so the test drives it alone. It
// knows member n2 (region us) by its metadata, and already holds n2's
// vector and a drain.
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
	n.view.setEndpoints(delegateIDs, time.Now()) // as if its zones had these endpoints
	m.setMember(&memberlist.Node{Name: "n2", Meta: encodeMeta(nodeMeta{region: "us", key: testKey("n2").Public().(ed25519.PublicKey)}, 512)}, "alive", "")
	pump(n)
	for _, b := range meshSeeds()[:2] {
		m.NotifyMsg(b)
	}
	pump(n)
	if st := meshState(n); m.badMsgs.Load() != 0 || !strings.Contains(st, "observer n2") || !strings.Contains(st, "drain") {
		t.Fatalf("setting up: %d malformed messages; state\n%s", m.badMsgs.Load(), st)
	}
	return n, m
}

// pump runs the events waiting for the loop, as the loop would.
func pump(n *Node) {
	now := time.Now()
	for {
		select {
		case ev := <-n.events:
			n.handle(ev, now)
		default:
			n.publishVerdicts(now)
			return
		}
	}
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
	l := newList(delegateIDs)
	until := time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC)
	drain := func(d Drain) []byte { b, _ := encode(msgDrain, d); return b }
	seeds := [][]byte{
		testPage("n2", "us", 3, l, 0, map[int]bool{1: true, 7: true}),
		drain(Drain{Target: "pool:eu", Until: until.AddDate(80, 0, 0), Reason: "maintenance", SetAt: until.Add(-time.Hour), By: "api@127.0.0.1"}),
		drain(Drain{Target: "198.51.100.1", SetAt: until, By: "n3", Deleted: true}),
		testPage("n2", "us", 4, l, 0, map[int]bool{2: true}),
		testPage("n3", "ap", 1, l, 0, nil),                    // not a member: no key to check it with
		testPage("n2", "ap", 5, l, 0, nil),                    // another region than its metadata says
		forged("n2", "us", 9, l),                              // signed by another key
		testPage("n1", "eu", 99, l, 0, map[int]bool{0: true}), // our own name
		testPage("n2", "us", 6, newList(testIDs(5)), 0, nil),  // another list
		listPages(newList(testIDs(5)))[0],
		nil,
		[]byte("V"),
		[]byte("V\x01\x00"),
		[]byte(`d{"target":""}`),
		[]byte(`d{"target":"x","set_at":"not a time"}`),
		[]byte(`o{"n":"n2","r":"us","i":[{"e":"ep1","q":18446744073709551615}]}`), // the old format
		[]byte("\x00\xff\xfe"),
	}
	return seeds
}

// forged is a page in observer's name signed with a key not its own.
func forged(observer, region string, version uint64, l *epList) []byte {
	raw := testPage("mallory", region, version, l, 0, map[int]bool{0: true, 1: true, 2: true})
	p, _ := decodeVector(raw)
	p.observer = observer
	return encodeVector(p, testKey("mallory"))
}

// meshState is what a node learned from the mesh, in a comparable form.
func meshState(n *Node) string {
	var lines []string
	for name, o := range n.view.observers {
		if name == n.name {
			continue
		}
		var bits strings.Builder
		for i := range n.view.list.ids {
			switch {
			case !getBit(o.known, i):
				bits.WriteByte('.')
			case getBit(o.up, i):
				bits.WriteByte('u')
			default:
				bits.WriteByte('d')
			}
		}
		lines = append(lines, fmt.Sprintf("observer %s %s v%d list %s alive %v %s", name, o.region, o.version, o.list, o.alive, bits.String()))
	}
	for h := range n.view.lists {
		lines = append(lines, "list "+h.String())
	}
	n.mu.Lock()
	for target, d := range n.drains {
		lines = append(lines, fmt.Sprintf("drain %q %+v", target, d))
	}
	n.mu.Unlock()
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// FuzzMeshMessage sends arbitrary gossip messages to a node. A message
// that does not decode is ignored and counted, and changes nothing; one
// that decodes changes at most its sender's own vector or its drain.
func FuzzMeshMessage(f *testing.F) {
	for _, b := range meshSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, m := newDelegate(t)
		before := meshState(n)
		m.NotifyMsg(b)
		pump(n)
		bad := m.badMsgs.Load()
		kind, page, _, _, err := decodeMsg(b)
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
		if kind == msgVector && page.observer != "n2" {
			if after := meshState(n); after != before {
				t.Fatalf("%q: a page for %q (no key known) changed the state", b, page.observer)
			}
		}
		if len(n.view.observers) > 2 || len(n.view.lists) > maxLists {
			t.Fatalf("%q: holds %d observers, %d lists", b, len(n.view.observers), len(n.view.lists))
		}
	})
}

// FuzzMeshState sends an arbitrary push/pull state to a node: ignored and
// counted when it does not split into items, else taken item by item.
func FuzzMeshState(f *testing.F) {
	n, _ := newDelegate(f)
	n.snapshotState()
	f.Add(n.mesh.LocalState(false))
	f.Add(encodeItems(meshSeeds()))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, m := newDelegate(t)
		before := meshState(n)
		m.MergeRemoteState(b, false)
		pump(n)
		if _, err := decodeItems(b); err != nil {
			if m.badMsgs.Load() != 1 {
				t.Fatalf("%q: malformed but counted %d times", b, m.badMsgs.Load())
			}
			if after := meshState(n); after != before {
				t.Fatalf("%q: malformed, yet state changed", b)
			}
		}
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
	page := testPage("n2", "us", 50, newList(delegateIDs), 0, map[int]bool{3: true})
	tests := []struct {
		name  string
		send  func([]byte)
		input string
	}{
		{"empty message", m.NotifyMsg, ""},
		{"type only", m.NotifyMsg, "V"},
		{"unknown type", m.NotifyMsg, `x{"n":"n2"}`},
		{"the old observation format", m.NotifyMsg, `o{"n":"n2","r":"us","i":[{"e":"ep1","q":99}]}`},
		{"page cut short", m.NotifyMsg, string(page[:len(page)-1])},
		{"page with a byte more", m.NotifyMsg, string(page) + "x"},
		{"drain without target", m.NotifyMsg, `d{"set_at":"2030-01-01T00:00:00Z","by":"n3"}`},
		{"drain with a bad time", m.NotifyMsg, `d{"target":"pool:us","set_at":"tomorrow"}`},
		{"state not items", func(b []byte) { m.MergeRemoteState(b, false) }, "\x00\x01garbage"},
		{"state claiming more items", func(b []byte) { m.MergeRemoteState(b, false) }, "S\x00\x00\x00\x02\x00\x00\x00\x01V"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.send([]byte(tt.input))
			pump(n)
			if got, want := gather(t, n)[counter], float64(i+1); got != want {
				t.Errorf("%s: got %v; want %v", counter, got, want)
			}
			if after := meshState(n); after != before {
				t.Errorf("state changed from\n%s\nto\n%s", before, after)
			}
		})
	}
	// A good message still merges, and is not counted.
	m.NotifyMsg(page)
	pump(n)
	if got, want := gather(t, n)[counter], float64(len(tests)); got != want {
		t.Errorf("%s after a good message: got %v; want %v", counter, got, want)
	}
	if meshState(n) == before {
		t.Errorf("a good message changed nothing")
	}
}

// TestMeshIdentity: pages count only when signed by the key in their
// member's metadata, for the region it says, newer than what is held;
// a member's new key (a restarted process) replaces its old vector even
// with a lower version.
func TestMeshIdentity(t *testing.T) {
	n, m := newDelegate(t)
	l := newList(delegateIDs)
	state := func() string { return meshState(n) }
	base := state()
	for _, tt := range []struct {
		name string
		msg  []byte
	}{
		{"signed by another key", forged("n2", "us", 9, l)},
		{"no member of that name", testPage("n9", "us", 9, l, 0, map[int]bool{0: true})},
		{"another region", testPage("n2", "ap", 9, l, 0, map[int]bool{0: true})},
		{"older than held", testPage("n2", "us", 2, l, 0, map[int]bool{0: true})},
		{"this node's own name", testPage("n1", "eu", 9, l, 0, map[int]bool{0: true})},
	} {
		m.NotifyMsg(tt.msg)
		pump(n)
		if got := state(); got != base {
			t.Errorf("%s: state changed from\n%s\nto\n%s", tt.name, base, got)
		}
	}
	if r := &n.view.refused; r.badSig.Load() != 2 || r.unsigned.Load() != 1 || r.stale.Load() != 1 {
		t.Errorf("refusals: got %d bad signatures, %d unsigned, %d stale; want 2, 1, 1", r.badSig.Load(), r.unsigned.Load(), r.stale.Load())
	}
	// n2 restarts: a new key, and its versions start again.
	newKey := testKey("n2 again")
	m.setMember(&memberlist.Node{Name: "n2", Meta: encodeMeta(nodeMeta{region: "us", key: newKey.Public().(ed25519.PublicKey)}, 512)}, "alive", "")
	p, _ := decodeVector(testPage("n2", "us", 1, l, 0, map[int]bool{9: true}))
	m.NotifyMsg(encodeVector(p, newKey))
	pump(n)
	if o := n.view.observers["n2"]; o == nil || o.version != 1 || getBit(o.up, 9) || !getBit(o.up, 1) {
		t.Errorf("after n2's restart: got %v; want its new vector (version 1, endpoint 9 down)", state())
	}
}

// TestCallbacksOnlyEnqueue: memberlist's callbacks decode and hand over;
// nothing a peer sends changes the node until its loop takes it (here
// the test plays the loop), and a full queue drops and counts rather
// than waits.
func TestCallbacksOnlyEnqueue(t *testing.T) {
	n, m := newDelegate(t)
	before := meshState(n)
	m.NotifyMsg(mustEncode(msgDrain, Drain{Target: "pool:us", SetAt: time.Now(), By: "n2"}))
	m.NotifyMsg(testPage("n2", "us", 40, newList(delegateIDs), 0, map[int]bool{5: true}))
	if after := meshState(n); after != before {
		t.Fatalf("a callback changed the node itself:\n%s\nto\n%s", before, after)
	}
	pump(n)
	if after := meshState(n); after == before || !strings.Contains(after, `drain "pool:us"`) {
		t.Fatalf("the loop took nothing:\n%s", after)
	}
	page := testPage("n2", "us", 41, newList(delegateIDs), 0, nil)
	start := time.Now()
	for range queueSize + 10 {
		m.NotifyMsg(page)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("%d messages into a full queue took %v; callbacks must not wait", queueSize+10, took)
	}
	if got := n.dropped.Load(); got != 10 {
		t.Errorf("dropped: got %d; want the 10 beyond the queue", got)
	}
	pump(n)
}

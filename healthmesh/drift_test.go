package healthmesh

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// driftText is a view in a comparable form: the majority, then each
// differing member with how long it has differed, and "!" when flagged.
func driftText(v *driftView, now time.Time) string {
	var parts []string
	for name, d := range v.members {
		flag := ""
		if d.drifting {
			flag = "!"
		}
		parts = append(parts, fmt.Sprintf("%s%s %v", name, flag, now.Sub(d.since)))
	}
	sort.Strings(parts)
	maj := v.majority
	if maj == "" {
		maj = "none"
	}
	return fmt.Sprintf("majority %s; differ: %s; drifting %d", maj, strings.Join(parts, ", "), v.drifting)
}

// TestDriftTracker steps a tracker through time with a 30 s grace: each
// step gives the live members' digests, seconds after the start, and the
// view wanted.
func TestDriftTracker(t *testing.T) {
	type step struct {
		at      int // seconds
		digests map[string]string
		want    string
	}
	abc := func(a, b, c string) map[string]string { return map[string]string{"a": a, "b": b, "c": c} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"alone", []step{
			{0, map[string]string{"a": "x"}, "majority x; differ: ; drifting 0"},
			{100, map[string]string{"a": "y"}, "majority y; differ: ; drifting 0"},
		}},
		{"nobody announces", []step{{0, nil, "majority none; differ: ; drifting 0"}}},
		{"one odd of three: flagged after the grace, cleared when fixed", []step{
			{0, abc("x", "x", "y"), "majority x; differ: c 0s; drifting 0"},
			{29, abc("x", "x", "y"), "majority x; differ: c 29s; drifting 0"},
			{30, abc("x", "x", "y"), "majority x; differ: c! 30s; drifting 1"},
			{31, abc("x", "x", "x"), "majority x; differ: ; drifting 0"},
			{32, abc("x", "x", "y"), "majority x; differ: c 0s; drifting 0"},
		}},
		{"odd one changes but still differs: since kept", []step{
			{0, abc("x", "x", "y"), "majority x; differ: c 0s; drifting 0"},
			{20, abc("x", "x", "z"), "majority x; differ: c 20s; drifting 0"},
			{40, abc("x", "x", "z"), "majority x; differ: c! 40s; drifting 1"},
		}},
		{"tie of two: nobody", []step{
			{0, map[string]string{"a": "x", "b": "y"}, "majority none; differ: ; drifting 0"},
			{60, map[string]string{"a": "x", "b": "y"}, "majority none; differ: ; drifting 0"},
		}},
		{"tie of four: nobody", []step{
			{0, map[string]string{"a": "x", "b": "x", "c": "y", "d": "y"}, "majority none; differ: ; drifting 0"},
		}},
		{"three digests among three: nobody", []step{
			{0, abc("x", "y", "z"), "majority none; differ: ; drifting 0"},
		}},
		{"plurality is no majority", []step{
			{0, map[string]string{"a": "x", "b": "x", "c": "y", "d": "z"}, "majority none; differ: ; drifting 0"},
		}},
		{"rolling deploy: the majority moves, the clock restarts", []step{
			{0, abc("x", "x", "x"), "majority x; differ: ; drifting 0"},
			{10, abc("y", "x", "x"), "majority x; differ: a 0s; drifting 0"},
			{20, abc("y", "y", "x"), "majority y; differ: c 0s; drifting 0"},
			{25, abc("y", "y", "y"), "majority y; differ: ; drifting 0"},
		}},
		{"a flagged member dies, then comes back", []step{
			{0, abc("x", "x", "y"), "majority x; differ: c 0s; drifting 0"},
			{30, abc("x", "x", "y"), "majority x; differ: c! 30s; drifting 1"},
			{31, map[string]string{"a": "x", "b": "x"}, "majority x; differ: ; drifting 0"},
			{40, abc("x", "x", "y"), "majority x; differ: c 0s; drifting 0"},
		}},
		{"two odd of five", []step{
			{0, map[string]string{"a": "x", "b": "x", "c": "x", "d": "y", "e": "z"}, "majority x; differ: d 0s, e 0s; drifting 0"},
			{30, map[string]string{"a": "x", "b": "x", "c": "x", "d": "y", "e": "z"}, "majority x; differ: d! 30s, e! 30s; drifting 2"},
		}},
	}
	start := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr driftTracker
			for _, s := range tt.steps {
				now := start.Add(time.Duration(s.at) * time.Second)
				if got := driftText(tr.update(now, 30*time.Second, s.digests), now); got != s.want {
					t.Errorf("at %ds: got %q; want %q", s.at, got, s.want)
				}
				if len(tr.since) > len(s.digests) {
					t.Errorf("at %ds: tracking %d members; want at most the %d live", s.at, len(tr.since), len(s.digests))
				}
			}
		})
	}
}

// TestDriftStatus drives a node's drift through its delegate with an
// injected clock: peers announce their zone sets in their metadata, the
// node serves another set, and the status, the metrics and a node alone
// say what they should.
func TestDriftStatus(t *testing.T) {
	const other = "0000000000000000"
	n, m := newDelegate(t)
	m.grace = 30 * time.Second
	zones := []ZoneSerial{{Origin: "example.com.", Serial: 7, Hash: "abcdef012345"}, {Origin: "example.net.", Serial: 9, Hash: "0123456789ab"}}
	n.SetZones(ZoneSet{Version: 1, Digest: testDigest, Zones: zones})
	meta := func(digest string) []byte { return []byte("us\nzones=1:" + digest + ":2") }
	m.NotifyJoin(&memberlist.Node{Name: "n1", Meta: []byte("eu")})
	m.NotifyJoin(&memberlist.Node{Name: "n2", Meta: meta(other)})
	m.NotifyJoin(&memberlist.Node{Name: "n3", Meta: meta(other)})
	m.NotifyJoin(&memberlist.Node{Name: "n4", Meta: []byte("us\nzones=2:" + testDigest + ":2")}) // another digest version
	m.NotifyJoin(&memberlist.Node{Name: "n5", Meta: []byte("us")})                               // an older version

	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	type row struct {
		digest            string
		differs, drifting bool
		since             time.Time
	}
	check := func(when string, wantMaj string, wantDrifting int, want map[string]row) {
		t.Helper()
		st := n.Status()
		if st.ZoneSet.Digest != testDigest || st.ZoneSet.Count != 2 || len(st.ZoneSet.Zones) != 2 || st.ZoneSet.Zones[1] != zones[1] {
			t.Errorf("%s: local zone set: got %+v; want %s with both zones", when, st.ZoneSet, testDigest)
		}
		if st.ZoneSet.Majority != wantMaj || st.ZoneSet.Drifting != wantDrifting || st.ZoneSet.Grace != 30*time.Second {
			t.Errorf("%s: got majority %q, %d drifting, grace %v; want %q, %d, 30s", when, st.ZoneSet.Majority, st.ZoneSet.Drifting, st.ZoneSet.Grace, wantMaj, wantDrifting)
		}
		for _, mem := range st.Members {
			w := want[mem.Name]
			z := mem.ZoneSet
			if z.Digest != w.digest || z.Differs != w.differs || z.Drifting != w.drifting || !z.Since.Equal(w.since) {
				t.Errorf("%s: %s: got %+v; want %+v", when, mem.Name, z, w)
			}
		}
		self := 0.0
		if want["n1"].drifting {
			self = 1
		}
		mm := gather(t, n)
		if got := mm["meridian_mesh_zone_drift{}"]; got != float64(wantDrifting) {
			t.Errorf("%s: meridian_mesh_zone_drift: got %v; want %v", when, got, wantDrifting)
		}
		if got := mm["meridian_mesh_zone_drift_self{}"]; got != self {
			t.Errorf("%s: meridian_mesh_zone_drift_self: got %v; want %v", when, got, self)
		}
	}
	n.updateDrift(t0)
	check("at once", other, 0, map[string]row{
		"n1": {digest: testDigest, differs: true, since: t0},
		"n2": {digest: other}, "n3": {digest: other}, "n4": {digest: testDigest}, "n5": {},
	})
	n.updateDrift(t0.Add(30 * time.Second))
	check("after the grace", other, 1, map[string]row{
		"n1": {digest: testDigest, differs: true, drifting: true, since: t0},
		"n2": {digest: other}, "n3": {digest: other}, "n4": {digest: testDigest}, "n5": {},
	})

	// n3 serves a third set: no digest has a majority, nobody is flagged.
	m.NotifyUpdate(&memberlist.Node{Name: "n3", Meta: meta("2222222222222222")})
	n.updateDrift(t0.Add(31 * time.Second))
	check("no majority", "", 0, map[string]row{
		"n1": {digest: testDigest}, "n2": {digest: other}, "n3": {digest: "2222222222222222"}, "n4": {digest: testDigest}, "n5": {},
	})

	// n3 takes this node's files and n6 joins with them: this node is in
	// the majority, n2 differs; then n2 dies before it is flagged.
	m.NotifyUpdate(&memberlist.Node{Name: "n3", Meta: meta(testDigest)})
	m.NotifyJoin(&memberlist.Node{Name: "n6", Meta: meta(testDigest)})
	n.updateDrift(t0.Add(40 * time.Second))
	check("n2 differs", testDigest, 0, map[string]row{
		"n1": {digest: testDigest}, "n2": {digest: other, differs: true, since: t0.Add(40 * time.Second)},
		"n3": {digest: testDigest}, "n4": {digest: testDigest}, "n5": {}, "n6": {digest: testDigest},
	})
	m.NotifyLeave(&memberlist.Node{Name: "n2", Meta: meta(other)})
	n.updateDrift(t0.Add(90 * time.Second))
	check("n2 dead", testDigest, 0, map[string]row{
		"n1": {digest: testDigest}, "n2": {digest: other},
		"n3": {digest: testDigest}, "n4": {digest: testDigest}, "n5": {}, "n6": {digest: testDigest},
	})
}

// TestDriftAlone: a node without a mesh shows its own zone set and no
// drift.
func TestDriftAlone(t *testing.T) {
	n := startNodesAlone(t)
	n.SetZones(ZoneSet{Version: 1, Digest: testDigest, Zones: []ZoneSerial{{Origin: "example.com.", Serial: 7, Hash: "abcdef012345"}}})
	n.updateDrift(time.Now().Add(time.Hour))
	st := n.Status()
	if len(st.Members) != 1 || st.Members[0].ZoneSet != (MemberZones{Digest: testDigest, Count: 1}) {
		t.Errorf("members: got %+v; want this node with its zone set, not differing", st.Members)
	}
	if st.ZoneSet.Majority != testDigest || st.ZoneSet.Drifting != 0 {
		t.Errorf("zone set: got %+v; want its own digest the majority, nothing drifting", st.ZoneSet)
	}
}

// startNodesAlone returns a node without a mesh whose ticker is stopped,
// so that the test drives it alone.
func startNodesAlone(t *testing.T) *Node {
	t.Helper()
	n, _ := newDelegate(t)
	n.mesh = nil
	return n
}

// TestMeshDrift runs three gossiping nodes, one of which serves another
// zone set: every node flags it within seconds of the change, and not
// the other two, and the flag clears everywhere once it is fixed.
func TestMeshDrift(t *testing.T) {
	nodes := startNodes(t, 3, []string{"eu", "us", "ap"}, []byte("0123456789abcdef0123456789abcdef"), nil)
	waitAll(t, 10*time.Second, "the three to form", nodes, func(n *testNode) bool { return members(n) == 3 })
	const good, odd = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
	set := func(digest string) ZoneSet {
		return ZoneSet{Version: 1, Digest: digest, Zones: []ZoneSerial{{Origin: "example.com.", Serial: 1, Hash: digest[:12]}}}
	}
	// flagged lists, by name, the members a node flags as drifting, or
	// "-" when it knows every member's digest and flags none.
	flagged := func(n *testNode) string {
		var out []string
		for _, m := range n.Status().Members {
			if m.ZoneSet.Digest == "" {
				return "unknown"
			}
			if m.ZoneSet.Drifting {
				out = append(out, m.Name)
			}
		}
		if len(out) == 0 {
			return "-"
		}
		return strings.Join(out, ",")
	}
	for _, n := range nodes {
		n.SetZones(set(good))
	}
	waitAll(t, 10*time.Second, "every digest everywhere, nobody drifting", nodes, func(n *testNode) bool { return flagged(n) == "-" })

	nodes[2].SetZones(set(odd))
	start := time.Now()
	took := waitAll(t, 10*time.Second, "n02 flagged everywhere", nodes, func(n *testNode) bool { return flagged(n) == "n02" })
	t.Logf("a changed zone set was flagged on every node %v after the change (grace 300ms)", took.Round(time.Millisecond))
	if time.Since(start) < 300*time.Millisecond {
		t.Errorf("flagged after %v; want no sooner than the grace, 300ms", time.Since(start))
	}
	if st := nodes[0].Status(); st.ZoneSet.Majority != good || st.ZoneSet.Drifting != 1 {
		t.Errorf("n00: got majority %q, %d drifting; want %q, 1", st.ZoneSet.Majority, st.ZoneSet.Drifting, good)
	}

	nodes[2].SetZones(set(good))
	waitAll(t, 10*time.Second, "the flag cleared everywhere", nodes, func(n *testNode) bool { return flagged(n) == "-" })
}

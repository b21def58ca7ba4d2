package healthmesh

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// viewWith returns a view of endpoints ids in which the named members
// (name → region) are alive and known by their test keys.
func viewWith(ids []string, members map[string]string) *view {
	now := time.Unix(1000, 0)
	v := newView("self", "eu", time.Minute)
	v.setEndpoints(ids, now)
	for name, region := range members {
		v.member(name, memberKey{region: region, key: testKey(name).Public().(ed25519.PublicKey), alive: true}, now)
	}
	return v
}

func mustPage(t testing.TB, raw []byte) *vectorPage {
	t.Helper()
	p, err := decodeVector(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestViewQuorum: verdicts follow the votes of live members' vectors by
// region, move as the vectors and members change, and are decided again
// only where something changed.
func TestViewQuorum(t *testing.T) {
	ids := testIDs(10)
	l := newList(ids)
	v := viewWith(ids, map[string]string{"us1": "us", "ap1": "ap"})
	now := time.Unix(1001, 0)
	send := func(name, region string, version uint64, down map[int]bool) {
		t.Helper()
		raw := testPage(name, region, version, l, 0, down)
		if !v.page(mustPage(t, raw), raw, now) {
			t.Fatalf("page %s v%d refused", name, version)
		}
	}
	verdict := func(i int) bool { v.decide(now); return v.last[i].up }

	v.local(ids[3], false, now)
	if !verdict(3) {
		// Only this node's opinion so far: one region, down.
		t.Log("alone: down") // one observer alone decides alone
	}
	send("us1", "us", 1, map[int]bool{3: true})
	if verdict(3) {
		t.Error("eu and us say down: got up")
	}
	send("ap1", "ap", 1, nil)
	if verdict(3) {
		t.Error("eu and us down, ap up: got up; want down (two regions of three)")
	}
	send("us1", "us", 2, nil)
	if !verdict(3) {
		t.Error("only eu down now: got down; want up")
	}
	send("us1", "us", 3, map[int]bool{3: true})
	v.member("us1", memberKey{region: "us", key: testKey("us1").Public().(ed25519.PublicKey), alive: false}, now)
	if !verdict(3) {
		t.Error("the us member died: eu down, ap up is a tie; want the last verdict (up) kept")
	}
	v.member("us1", memberKey{region: "us", key: testKey("us1").Public().(ed25519.PublicKey), alive: true}, now)
	if verdict(3) {
		t.Error("the us member is back within the grace period: its vote counts again; want down")
	}
}

// TestViewIncremental: after any sequence of pages, local results,
// membership changes and endpoint changes, the tallies kept incrementally
// equal tallies counted from scratch.
func TestViewIncremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	all := testIDs(300)
	members := map[string]string{"a": "us", "b": "us", "c": "ap", "d": "eu", "e": "ap"}
	names := []string{"a", "b", "c", "d", "e"}
	v := viewWith(all[:200], members)
	versions := map[string]uint64{}
	lists := []*epList{newList(all[:200]), newList(all[100:300]), newList(all[:150])}
	var listMsgs [][]*listPage
	for _, l := range lists {
		var ps []*listPage
		for _, raw := range listPages(l) {
			p, _ := decodeList(raw)
			ps = append(ps, p)
		}
		listMsgs = append(listMsgs, ps)
	}
	mapped := 0 // pages applied to tallies bit by bit
	for step := range 3000 {
		now := time.Unix(2000+int64(step), 0)
		switch r := rng.IntN(100); {
		case r < 60:
			name := names[rng.IntN(len(names))]
			l := lists[rng.IntN(len(lists))]
			down := map[int]bool{}
			for range rng.IntN(20) {
				down[rng.IntN(len(l.ids))] = true
			}
			versions[name]++
			raw := testPage(name, members[name], versions[name], l, 0, down)
			if o := v.observers[name]; o != nil && o.list == l.hash && o.known != nil && (l.hash == v.list.hash || v.lists[l.hash] != nil) {
				mapped++
			}
			v.page(mustPage(t, raw), raw, now)
			if rng.IntN(2) == 0 { // the list follows, sometimes
				for _, lp := range listMsgs[slices.Index(lists, l)] {
					v.listPage(lp, now)
				}
			}
		case r < 85:
			v.local(v.list.ids[rng.IntN(len(v.list.ids))], rng.IntN(2) == 0, now)
		case r < 97:
			name := names[rng.IntN(len(names))]
			v.member(name, memberKey{region: members[name], key: testKey(name).Public().(ed25519.PublicKey), alive: rng.IntN(3) > 0}, now)
		default:
			lo := rng.IntN(100)
			v.setEndpoints(all[lo:lo+100+rng.IntN(100)], now)
		}
		v.decide(now)
		got := slices.Clone(v.tally)
		v.recount()
		for i := range got {
			if fmt.Sprint(normal(got[i])) != fmt.Sprint(normal(v.tally[i])) {
				t.Fatalf("step %d, endpoint %d: incremental %v; counted %v", step, i, got[i], v.tally[i])
			}
		}
		v.decide(now)
	}
	if mapped < 500 {
		t.Errorf("pages applied bit by bit: %d; the history should exercise that path more", mapped)
	}
}

// normal drops empty regions and orders a tally, for comparison.
func normal(t tally) []regionVotes {
	var out []regionVotes
	for _, r := range t {
		if r.up != 0 || r.down != 0 {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b regionVotes) int {
		if a.region < b.region {
			return -1
		}
		if a.region > b.region {
			return 1
		}
		return 0
	})
	return out
}

// TestViewOtherList: a vector over another endpoint list counts once
// that list has arrived whole and matching its hash, mapped by ID;
// endpoints this node does not know are ignored.
func TestViewOtherList(t *testing.T) {
	all := testIDs(20)
	v := viewWith(all[:10], map[string]string{"us1": "us"})
	now := time.Unix(1001, 0)
	theirs := newList(all[5:20]) // 5 in common
	down := map[int]bool{}
	for i := range theirs.ids {
		down[i] = true
	}
	raw := testPage("us1", "us", 1, theirs, 0, down)
	v.page(mustPage(t, raw), raw, now)
	counted := 0
	v.each(v.observers["us1"].known, func(int) { counted++ })
	if counted != 0 {
		t.Fatal("a vector over an unknown list counted")
	}
	pages := listPages(theirs)
	bad, _ := decodeList(pages[0])
	bad.ids = slices.Clone(bad.ids)
	bad.ids[0] = all[0] // not the list the hash names
	v.listPage(bad, now)
	if len(v.lists) != 0 {
		t.Fatal("a list not matching its hash was kept")
	}
	for _, rp := range pages {
		p, _ := decodeList(rp)
		v.listPage(p, now)
	}
	o := v.observers["us1"]
	votes := 0
	v.each(o.known, func(i int) { votes++ })
	if votes != 5 {
		t.Errorf("opinions mapped: got %d; want the 5 endpoints both lists have", votes)
	}
	for i := range 5 {
		if j := v.index[all[5+i]]; !getBit(o.known, j) || getBit(o.up, j) {
			t.Errorf("endpoint %s: want known down", all[5+i])
		}
	}
}

// TestViewSweep: a dead member's vector is kept for the grace period,
// then forgotten with the list only it used; state stays bounded.
func TestViewSweep(t *testing.T) {
	all := testIDs(20)
	v := viewWith(all[:10], map[string]string{"us1": "us"})
	now := time.Unix(1001, 0)
	theirs := newList(all[3:15])
	raw := testPage("us1", "us", 1, theirs, 0, nil)
	v.page(mustPage(t, raw), raw, now)
	for _, rp := range listPages(theirs) {
		p, _ := decodeList(rp)
		v.listPage(p, now)
	}
	if len(v.lists) != 1 {
		t.Fatalf("lists held: %d; want the one us1's vector names", len(v.lists))
	}
	v.member("us1", memberKey{region: "us", key: testKey("us1").Public().(ed25519.PublicKey), alive: false}, now)
	v.sweep(now.Add(30 * time.Second))
	if v.observers["us1"] == nil {
		t.Error("forgotten within the grace period")
	}
	v.sweep(now.Add(2 * time.Minute))
	if v.observers["us1"] != nil || len(v.lists) != 0 || len(v.members) != 0 {
		t.Errorf("after the grace period: %d observers besides this node, %d lists, %d members; want none",
			len(v.observers)-1, len(v.lists), len(v.members))
	}
	// Pages of lists no member's vector names are not even collected;
	// lists being collected are bounded and expire.
	for i := range 20 {
		l := newList(testIDs(200 + i))
		p, _ := decodeList(listPages(l)[0])
		v.listPage(p, now)
	}
	if len(v.pending) != 0 {
		t.Errorf("lists nobody names being collected: %d; want none", len(v.pending))
	}
	v.member("us1", memberKey{region: "us", key: testKey("us1").Public().(ed25519.PublicKey), alive: true}, now)
	for i := range maxPending + 3 {
		l := newList(testIDs(300 + i))
		raw := testPage("us1", "us", uint64(10+i), l, 0, nil)
		v.page(mustPage(t, raw), raw, now)
		p, _ := decodeList(listPages(l)[0])
		v.listPage(p, now)
	}
	if len(v.pending) > 1 {
		t.Errorf("lists being collected: %d; want only the one us1's current vector names", len(v.pending))
	}
	v.sweep(now.Add(5 * time.Minute))
	if len(v.pending) != 0 {
		t.Errorf("lists never completed: %d kept; want none", len(v.pending))
	}
}

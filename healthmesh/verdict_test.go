package healthmesh

import (
	"testing"
	"time"
)

func TestQuorumRule(t *testing.T) {
	now := time.Unix(1000, 0)
	fresh, stale := now.Add(-time.Second), now.Add(-10*time.Second)
	obs := func(entries ...obsEntry) map[string]*obsEntry {
		m := map[string]*obsEntry{}
		for i := range entries {
			m[string(rune('a'+i))] = &entries[i]
		}
		return m
	}
	up := func(region string) obsEntry { return obsEntry{region: region, up: true, seen: fresh} }
	down := func(region string) obsEntry { return obsEntry{region: region, up: false, seen: fresh} }
	staleDown := func(region string) obsEntry { return obsEntry{region: region, up: false, seen: stale} }
	tests := []struct {
		name   string
		obs    map[string]*obsEntry
		up, ok bool
	}{
		{"no observations keep the last verdict", obs(), false, false},
		{"one node alone decides alone: down", obs(down("us")), false, true},
		{"one node alone decides alone: up", obs(up("us")), true, true},
		{"one region of three cannot reach it: stays up", obs(down("us"), up("eu"), up("ap")), true, true},
		{"down everywhere", obs(down("us"), down("eu"), down("ap")), false, true},
		{"two of three regions down", obs(down("us"), down("eu"), up("ap")), false, true},
		{"region votes by majority of its observers", obs(down("us"), down("us"), up("us"), up("eu")), false, false},
		{"tie inside a region is no vote", obs(down("us"), up("us"), down("eu")), false, true},
		{"tie between regions keeps the last verdict", obs(down("us"), up("eu")), false, false},
		{"stale observations do not vote", obs(staleDown("us"), staleDown("eu"), up("ap")), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := freshVotes(tt.obs, now, 3*time.Second, func(string) bool { return true })
			up, ok := v.decide()
			if up != tt.up || ok != tt.ok {
				t.Errorf("got up=%v ok=%v; want up=%v ok=%v", up, ok, tt.up, tt.ok)
			}
		})
	}
	// Observers memberlist does not see alive do not vote.
	m := obs(down("us"), up("eu"), up("ap"))
	v := freshVotes(m, now, 3*time.Second, func(o string) bool { return o == "a" })
	if up, ok := v.decide(); up || !ok {
		t.Errorf("only the down observer alive: got up=%v ok=%v; want down", up, ok)
	}
}

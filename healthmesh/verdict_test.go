package healthmesh

import "testing"

func TestQuorumRule(t *testing.T) {
	type vote struct {
		region string
		up     bool
	}
	up := func(r string) vote { return vote{r, true} }
	down := func(r string) vote { return vote{r, false} }
	tests := []struct {
		name   string
		votes  []vote
		up, ok bool
	}{
		{"no observations keep the last verdict", nil, false, false},
		{"one node alone decides alone: down", []vote{down("us")}, false, true},
		{"one node alone decides alone: up", []vote{up("us")}, true, true},
		{"one region of three cannot reach it: stays up", []vote{down("us"), up("eu"), up("ap")}, true, true},
		{"down everywhere", []vote{down("us"), down("eu"), down("ap")}, false, true},
		{"two of three regions down", []vote{down("us"), down("eu"), up("ap")}, false, true},
		{"region votes by majority of its observers", []vote{down("us"), down("us"), up("us"), up("eu")}, false, false},
		{"tie inside a region is no vote", []vote{down("us"), up("us"), down("eu")}, false, true},
		{"tie between regions keeps the last verdict", []vote{down("us"), up("eu")}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl tally
			for _, v := range tt.votes {
				tl.add(v.region, v.up, 1)
			}
			up, ok := tl.decide()
			if up != tt.up || ok != tt.ok {
				t.Errorf("got up=%v ok=%v; want up=%v ok=%v", up, ok, tt.up, tt.ok)
			}
		})
	}
	// A vote taken back no longer counts.
	var tl tally
	tl.add("us", false, 1)
	tl.add("eu", true, 1)
	tl.add("ap", true, 1)
	tl.add("eu", true, -1)
	tl.add("ap", true, -1)
	if up, ok := tl.decide(); up || !ok {
		t.Errorf("only the down vote left: got up=%v ok=%v; want down", up, ok)
	}
}

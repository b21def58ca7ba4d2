package healthmesh

import (
	"strings"
	"testing"
	"time"
)

func TestTrackerRiseFall(t *testing.T) {
	tests := []struct {
		name       string
		assumeUp   bool
		rise, fall int
		results    string // o = success, x = failure
		want       string // verdict after each result: U or D
	}{
		{"up until fall failures", true, 2, 2, "oxxo", "UUDD"},
		{"one failure is not enough", true, 2, 2, "oxoxo", "UUUUU"},
		{"comes back after rise successes", true, 2, 2, "xxooo", "UDDUU"},
		{"a failure resets the rise run", true, 2, 2, "xxoxoo", "UDDDDU"},
		{"fall 1 rise 1 flips each time", true, 1, 1, "xoxo", "DUDU"},
		{"fall 3", true, 1, 3, "xxxo", "UUDU"},
		{"assume down starts down", false, 2, 2, "oo", "DU"},
		{"rise 3", false, 3, 2, "ooxooo", "DDDDDU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker(tt.assumeUp, time.Unix(0, 0))
			var got strings.Builder
			changes := 0
			for i, c := range tt.results {
				before := tr.up
				changed := tr.observe(Result{OK: c == 'o', At: time.Unix(int64(i+1), 0)}, tt.rise, tt.fall)
				if changed != (before != tr.up) {
					t.Fatalf("result %d: changed=%v but verdict went %v→%v", i, changed, before, tr.up)
				}
				if changed {
					changes++
					if !tr.since.Equal(time.Unix(int64(i+1), 0)) {
						t.Errorf("since: got %v; want the time of the deciding probe", tr.since)
					}
				}
				if tr.up {
					got.WriteByte('U')
				} else {
					got.WriteByte('D')
				}
			}
			if got.String() != tt.want {
				t.Errorf("got %s; want %s", got.String(), tt.want)
			}
			if tr.probes != len(tt.results) {
				t.Errorf("probes: got %d; want %d", tr.probes, len(tt.results))
			}
		})
	}
}

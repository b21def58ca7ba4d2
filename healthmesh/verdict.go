package healthmesh

import (
	"time"
)

// obsEntry is one observer's latest observation of one endpoint.
type obsEntry struct {
	region string
	up     bool
	since  time.Time
	seq    uint64
	seen   time.Time // local time of the observer's latest probe
}

// votes counts the fresh observations of one endpoint by region.
type votes map[string]*[2]int // region → [up, down]

// decide applies the quorum rule: each region votes by the majority of its
// observers (a tie inside a region is no vote), and the endpoint is down
// when more voting regions say down than up, up when more say up. It
// reports ok=false for a tie or no votes: the caller keeps the last
// verdict.
func (v votes) decide() (up, ok bool) {
	upR, downR := 0, 0
	for _, c := range v {
		switch {
		case c[0] > c[1]:
			upR++
		case c[1] > c[0]:
			downR++
		}
	}
	switch {
	case downR > upR:
		return false, true
	case upR > downR:
		return true, true
	}
	return false, false
}

// freshVotes gathers the observations of ep that are fresh at now (seen
// within maxAge) and come from observers that alive says are members.
func freshVotes(obs map[string]*obsEntry, now time.Time, maxAge time.Duration, alive func(string) bool) votes {
	v := votes{}
	for observer, e := range obs {
		if now.Sub(e.seen) >= maxAge || !alive(observer) {
			continue
		}
		c := v[e.region]
		if c == nil {
			c = new([2]int)
			v[e.region] = c
		}
		if e.up {
			c[0]++
		} else {
			c[1]++
		}
	}
	return v
}

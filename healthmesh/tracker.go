package healthmesh

import "time"

// tracker applies rise/fall hysteresis to one endpoint's probe results.
// It is not safe for concurrent use; the Checker guards it.
type tracker struct {
	up      bool
	since   time.Time // when up last changed (or tracking started)
	okRun   int       // consecutive successes while down
	failRun int       // consecutive failures while up
	last    Result    // the latest probe
	probes  int       // probes observed
}

func newTracker(assumeUp bool, now time.Time) *tracker {
	return &tracker{up: assumeUp, since: now}
}

// observe records r and reports whether the verdict changed: an up
// endpoint goes down after fall consecutive failures, a down one comes up
// after rise consecutive successes.
func (t *tracker) observe(r Result, rise, fall int) bool {
	t.last = r
	t.probes++
	if r.OK {
		t.failRun = 0
		if t.up {
			return false
		}
		t.okRun++
		if t.okRun >= rise {
			t.up, t.okRun, t.since = true, 0, r.At.Add(r.Latency)
			return true
		}
		return false
	}
	t.okRun = 0
	if !t.up {
		return false
	}
	t.failRun++
	if t.failRun >= fall {
		t.up, t.failRun, t.since = false, 0, r.At.Add(r.Latency)
		return true
	}
	return false
}

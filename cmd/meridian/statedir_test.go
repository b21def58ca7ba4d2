package main

import (
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
)

// TestStateDirNotWritable starts a node whose state dir cannot take its
// files, as a container's fresh volume owned by another user cannot: the
// zones are served, and the log names the state write as what failed,
// never the zones.
func TestStateDirNotWritable(t *testing.T) {
	// A directory where the serials file goes and a file where the copies'
	// directory goes: the writes fail for root as well.
	n := testbin.Start(t, testbin.Config(baseConfig+"state_dir: state\n"), map[string]string{
		"zones/example.org.yaml":             orgYAML,
		"state/zone-serials.json/in-the-way": "",
		"state/last-good":                    "in the way",
	})
	if a, _ := firstA(t, n.Addr, "web.example.org."); a != "192.0.2.80" {
		t.Errorf("web.example.org: got %q; want the zone served", a)
	}
	n.WaitLog("cannot write the state dir", 5*time.Second)
	var state []string
	for _, line := range strings.Split(n.Logs(), "\n") {
		if strings.Contains(line, "zone problem") {
			t.Errorf("a state write logged as a zone problem: %s", line)
		}
		if strings.Contains(line, "cannot write the state dir") {
			state = append(state, line)
		}
	}
	joined := strings.Join(state, "\n")
	for _, want := range []string{"zone serials", "cannot save the last good copy", "state_dir="} {
		if !strings.Contains(joined, want) {
			t.Errorf("state write lines lack %q:\n%s", want, joined)
		}
	}
}

//go:build race

package healthmesh

// raceEnabled: the race detector slows 30 gossiping nodes in one process
// far past real timings; the scale test runs without it (make test does).
const raceEnabled = true

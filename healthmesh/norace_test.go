//go:build !race

package healthmesh

const raceEnabled = false

package daemon

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's GOGC without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestLoadGC: the first load runs with the startup GOGC and the setting
// comes back afterwards; an operator's GOGC is not overridden.
func TestLoadGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(70))
	t.Setenv("GOGC", "")
	restore := loadGC()
	if got := gcPercent(); got != startupGCPercent {
		t.Errorf("during the load: GOGC %d; want %d", got, startupGCPercent)
	}
	restore()
	if got := gcPercent(); got != 70 {
		t.Errorf("after the load: GOGC %d; want 70", got)
	}
	t.Setenv("GOGC", "70")
	restore = loadGC()
	if got := gcPercent(); got != 70 {
		t.Errorf("with GOGC set: %d; want 70", got)
	}
	restore()
}

package daemon

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// memoryLimit reads the collector's soft memory limit without changing it.
func memoryLimit() int64 { return debug.SetMemoryLimit(-1) }

// TestLoadGC: the first load runs under the startup memory limit and the
// setting comes back afterwards; an operator's GOGC or GOMEMLIMIT is not
// overridden.
func TestLoadGC(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	restore := loadGC()
	if got := memoryLimit(); got != startupLimit {
		t.Errorf("during the load: limit %d; want %d", got, startupLimit)
	}
	restore()
	if got := memoryLimit(); got != math.MaxInt64 {
		t.Errorf("after the load: limit %d; want none", got)
	}
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "100")
			restore := loadGC()
			if got := memoryLimit(); got != math.MaxInt64 {
				t.Errorf("with %s set: limit %d; want none", env, got)
			}
			restore()
		})
	}
}

// TestLoadGCLifts: a load whose live data passes three quarters of the
// startup limit gets the limit lifted, so the collector does not run back
// to back for the rest of it.
func TestLoadGCLifts(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	defer func(l int64) { startupLimit = l }(startupLimit)
	startupLimit = 32 << 20
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	restore := loadGC()
	defer restore()
	if got := memoryLimit(); got != startupLimit {
		t.Fatalf("limit %d; want %d", got, startupLimit)
	}
	kept := make([]byte, 28<<20) // live beyond 24 MiB
	for i := range kept {
		kept[i] = byte(i)
	}
	runtime.GC()
	deadline := time.Now().Add(5 * time.Second)
	for memoryLimit() != math.MaxInt64 {
		if time.Now().After(deadline) {
			t.Fatalf("limit still %d with %d MiB live", memoryLimit(), len(kept)>>20)
		}
		time.Sleep(5 * time.Millisecond)
	}
	runtime.KeepAlive(kept)
}

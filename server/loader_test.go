package server

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridiandns/meridian/zones"
)

// testLoader writes files (name → text) into a new directory and loads
// it with o (whose Dir it sets), failing the test on any problem.
func testLoader(tb testing.TB, o zones.Options, files map[string]string) (*zones.Loader, string) {
	tb.Helper()
	o.Dir = tb.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(o.Dir, name), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	l, err := zones.NewLoader(o, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	if ps := l.Reload(); len(ps) > 0 {
		tb.Fatal(ps)
	}
	return l, o.Dir
}

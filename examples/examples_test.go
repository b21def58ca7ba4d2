// Package examples holds the runnable demo; this test loads every file in
// it exactly as `meridian serve` would, so the demo never rots.
package examples_test

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/daemon"
	"github.com/meridiandns/meridian/zones"
)

func TestEveryExampleLoads(t *testing.T) {
	covered := map[string]bool{"examples_test.go": true, "README.md": true}
	configs, _ := filepath.Glob("*.yaml")
	if len(configs) == 0 {
		t.Fatal("no example configs")
	}
	for _, path := range configs {
		t.Run(path, func(t *testing.T) {
			c, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			covered[path] = true
			if _, err := geo.Open(c.GeoIP.Databases); err != nil {
				t.Fatal(err)
			}
			for _, db := range c.GeoIP.Databases {
				rel, _ := filepath.Rel(".", db)
				covered[rel] = true
			}
			if ps := zones.Check(daemon.ZoneOptions(c)); len(ps) > 0 {
				t.Fatalf("zone problems:\n%v", ps)
			}
			l, err := zones.NewLoader(daemon.ZoneOptions(c), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			l.Reload()
			files, _ := os.ReadDir(c.Zones.Dir)
			for _, f := range files {
				rel, _ := filepath.Rel(".", filepath.Join(c.Zones.Dir, f.Name()))
				origin := strings.TrimSuffix(strings.TrimSuffix(f.Name(), ".yaml"), ".zone") + "."
				if l.Current().Zone(origin) == nil {
					t.Errorf("%s: zone %s not served", rel, origin)
				}
				covered[rel] = true
			}
		})
	}
	filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		// Go files are covered by their own package's tests.
		if strings.HasSuffix(p, ".go") || filepath.Base(p) == "README.md" {
			return nil
		}
		if err == nil && !d.IsDir() && !covered[p] && !strings.HasPrefix(p, ".state") {
			t.Errorf("%s: not exercised by any example config; load it here", p)
		}
		return nil
	})
}

// Package examples holds the runnable demo, the disaster-recovery fleet
// and the deployment files; these tests load every file in it exactly as
// `meridian serve` (or systemd, or Docker) would, so none of it rots.
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

// exercisedElsewhere are example files that no config names, with the
// test that runs them.
var exercisedElsewhere = map[string]string{
	"deploy/meridian.yaml":    "TestDeployConfig, TestSystemdUnit, TestDockerfile",
	"deploy/meridian.service": "TestSystemdUnit",
	"deploy/Dockerfile":       "TestDockerfile",
	"dr/run.sh":               "TestDRRunScript",
}

// standIns are the files production configs name that the examples stand
// in for, as examples/dr/run.sh does: a real GeoIP database.
var standIns = map[string]string{
	"/var/lib/GeoIP/GeoLite2-City.mmdb": "geoip/demo-city.mmdb",
}

func TestEveryExampleLoads(t *testing.T) {
	covered := map[string]bool{}
	for f := range exercisedElsewhere {
		covered[f] = true
	}
	// The demo, and the three nodes of the disaster-recovery fleet
	// (docs/dr.md; cmd/meridian's TestDRExample also runs them).
	configs, _ := filepath.Glob("*.yaml")
	dr, _ := filepath.Glob("dr/*.yaml")
	if len(configs) == 0 || len(dr) != 3 {
		t.Fatalf("got example configs %v and %v; want the demo and three dr nodes", configs, dr)
	}
	for _, path := range append(configs, dr...) {
		t.Run(path, func(t *testing.T) {
			c, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			covered[path] = true
			for i, db := range c.GeoIP.Databases {
				if s, ok := standIns[db]; ok {
					c.GeoIP.Databases[i] = s
				}
			}
			loadExample(t, c, covered)
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

// loadExample opens the GeoIP databases and loads every zone of c exactly
// as `meridian serve` would, marking the files it used as covered.
func loadExample(t *testing.T, c *config.Config, covered map[string]bool) {
	t.Helper()
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
}

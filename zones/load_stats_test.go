package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestReloadStats(t *testing.T) {
	dir := t.TempDir()
	l := newTestLoader(t, dir, "")
	steps := []struct {
		name   string
		change func()
		ok     uint64
		failed uint64
		zones  map[string]uint64
	}{
		{"good zones", func() {
			writeZone(t, dir, "example.org.yaml", yamlZone)
			writeZone(t, dir, "other.test.zone", otherZone)
		}, 1, 0, map[string]uint64{}},
		{"one zone broken", func() {
			writeZone(t, dir, "example.org.yaml", "www: {type: A, value: nope}\n")
		}, 1, 1, map[string]uint64{"example.org.": 1}},
		{"still broken, and a file name that is no zone name", func() {
			writeZone(t, dir, "bad..name.yaml", yamlZone)
		}, 1, 2, map[string]uint64{"example.org.": 2, "": 1}},
		{"fixed", func() {
			writeZone(t, dir, "example.org.yaml", yamlZone)
			if err := os.Remove(filepath.Join(dir, "bad..name.yaml")); err != nil {
				t.Fatal(err)
			}
		}, 2, 2, map[string]uint64{"example.org.": 2, "": 1}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change()
			l.Reload()
			got := l.Stats()
			if got.OK != st.ok || got.Failed != st.failed || fmt.Sprint(got.ZoneErrors) != fmt.Sprint(st.zones) {
				t.Errorf("got ok %d, failed %d, zone errors %v; want ok %d, failed %d, zone errors %v",
					got.OK, got.Failed, got.ZoneErrors, st.ok, st.failed, st.zones)
			}
		})
	}
}

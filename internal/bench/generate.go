package bench

import (
	"fmt"
	"os"
	"path/filepath"
)

// Listeners are the addresses the generated configs listen on.
type Listeners struct {
	Meridian  []string // the one-core run: one address
	Meridian2 []string // the two-core run: two addresses
	Gdnsd     []string
	Gdnsd2    []string
}

// DefaultListeners are fixed high ports, for generating files to read;
// the runner picks free ports instead.
func DefaultListeners() Listeners {
	return Listeners{
		Meridian:  []string{"127.0.0.1:15301"},
		Meridian2: []string{"127.0.0.1:15302", "127.0.0.2:15302"},
		Gdnsd:     []string{"127.0.0.1:15303"},
		Gdnsd2:    []string{"127.0.0.1:15304", "127.0.0.2:15304"},
	}
}

// Layout says where Generate put each file.
type Layout struct {
	Dir       string
	GeoDB     string // GeoIP2-City database both servers read
	QueryFile string // dnsperf -B query file
	QueryList string // the same queries, one readable line each
	Meridian  string // meridian.yaml: one listener
	Meridian2 string // meridian-2.yaml: two listeners
	Gdnsd     string // gdnsd config directory: one listener, one UDP thread
	Gdnsd2    string // gdnsd config directory: two listeners, one UDP thread each
}

// Generate writes the scenario's files under dir:
//
//	geo/bench-city.mmdb      GeoIP2-City database
//	meridian/meridian.yaml   Meridian, one listener (meridian-2.yaml: two)
//	meridian/zones/*.yaml    octoDNS-style zones with dynamic records
//	gdnsd/, gdnsd-2/         gdnsd config directories (config, zones/)
//	queries.bin              dnsperf -B query file (queries.txt: readable)
func Generate(dir string, s *Scenario, l Listeners) (*Layout, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	lay := &Layout{
		Dir:       abs,
		GeoDB:     filepath.Join(abs, "geo", "bench-city.mmdb"),
		QueryFile: filepath.Join(abs, "queries.bin"),
		QueryList: filepath.Join(abs, "queries.txt"),
		Meridian:  filepath.Join(abs, "meridian", "meridian.yaml"),
		Meridian2: filepath.Join(abs, "meridian", "meridian-2.yaml"),
		Gdnsd:     filepath.Join(abs, "gdnsd"),
		Gdnsd2:    filepath.Join(abs, "gdnsd-2"),
	}
	if err := os.MkdirAll(filepath.Dir(lay.GeoDB), 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := WriteGeoDB(lay.GeoDB, s); err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error { return WriteMeridianZones(filepath.Join(abs, "meridian", "zones"), s) },
		func() error {
			return WriteMeridianConfig(lay.Meridian, MeridianConfig{Listen: l.Meridian, GeoDB: lay.GeoDB, Zones: "zones"})
		},
		func() error {
			return WriteMeridianConfig(lay.Meridian2, MeridianConfig{Listen: l.Meridian2, GeoDB: lay.GeoDB, Zones: "zones"})
		},
		func() error {
			return WriteGdnsd(lay.Gdnsd, s, GdnsdConfig{Listen: l.Gdnsd, UDPThreads: 1, GeoDB: lay.GeoDB})
		},
		func() error {
			return WriteGdnsd(lay.Gdnsd2, s, GdnsdConfig{Listen: l.Gdnsd2, UDPThreads: 1, GeoDB: lay.GeoDB})
		},
		func() error { return WriteQueryFile(lay.QueryFile, s.Queries) },
		func() error { return WriteQueryList(lay.QueryList, s.Queries) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return lay, nil
}

// Package geotest builds small GeoIP2-shaped MaxMind databases in code, so
// tests and the example generator never depend on a downloaded database.
//
// Records have the shape of real GeoIP2-City records (continent{code,names},
// country{iso_code,names}, subdivisions[{iso_code,names}],
// location{latitude,longitude}), so geoip2-golang and package geo read them
// exactly as they read MaxMind's databases. Output is deterministic: the same
// entries always produce the same bytes.
package geotest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// BuildEpoch is the fixed build time written into every database, so that
// generated files are byte-for-byte reproducible (2024-01-01T00:00:00Z).
const BuildEpoch = 1704067200

// Entry is one network and where the database says it is.
type Entry struct {
	Network     string  // CIDR, IPv4 or IPv6, e.g. "192.0.2.0/24"
	Country     string  // ISO 3166-1 alpha-2; "" writes no country
	Continent   string  // written verbatim (may deliberately disagree with Country); "" writes none
	Subdivision string  // first subdivision ISO code, e.g. "CA"; "" writes none
	Lat, Lon    float64 // location; written unless NoCoords
	NoCoords    bool    // omit location entirely
}

// Option changes how a database is written.
type Option func(*options)

type options struct {
	country bool
}

// Country writes a GeoIP2-Country-shaped database: no subdivisions and no
// location, database type "GeoIP2-Country".
func Country() Option { return func(o *options) { o.country = true } }

// Write builds a database from entries and writes it to path atomically
// (temporary file in the same directory, then rename), so a reader watching
// path never sees a half-written file.
func Write(path string, entries []Entry, opts ...Option) error {
	b, err := Build(entries, opts...)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".geotest-*")
	if err != nil {
		return fmt.Errorf("geotest: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("geotest: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("geotest: write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("geotest: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("geotest: %w", err)
	}
	return nil
}

// WriteT writes a database into t.TempDir() and returns its path. It fails
// the test on error.
func WriteT(t testing.TB, entries []Entry, opts ...Option) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	if err := Write(path, entries, opts...); err != nil {
		t.Fatal(err)
	}
	return path
}

// Build returns the database bytes for entries.
func Build(entries []Entry, opts ...Option) ([]byte, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dbType := "GeoIP2-City"
	if o.country {
		dbType = "GeoIP2-Country"
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:   BuildEpoch,
		DatabaseType: dbType,
		Description:  map[string]string{"en": "Meridian test database (geotest)"},
		Languages:    []string{"en"},
		RecordSize:   28,
		IPVersion:    6,
		// Test data lives in documentation and shared address ranges
		// (192.0.2.0/24, 100.64.0.0/10, 2001:db8::/32), which mmdbwriter
		// refuses by default.
		IncludeReservedNetworks: true,
	})
	if err != nil {
		return nil, fmt.Errorf("geotest: %w", err)
	}
	for _, e := range entries {
		_, network, err := net.ParseCIDR(e.Network)
		if err != nil {
			return nil, fmt.Errorf("geotest: entry %q: %w", e.Network, err)
		}
		if err := tree.Insert(network, record(e, o)); err != nil {
			return nil, fmt.Errorf("geotest: entry %q: %w", e.Network, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("geotest: %w", err)
	}
	return buf.Bytes(), nil
}

func record(e Entry, o options) mmdbtype.Map {
	m := mmdbtype.Map{}
	if e.Continent != "" {
		m["continent"] = mmdbtype.Map{
			"code":  mmdbtype.String(e.Continent),
			"names": names(e.Continent),
		}
	}
	if e.Country != "" {
		country := mmdbtype.Map{
			"iso_code": mmdbtype.String(e.Country),
			"names":    names(e.Country),
		}
		m["country"] = country
		m["registered_country"] = country
	}
	if o.country {
		return m
	}
	if e.Subdivision != "" {
		m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{
			"iso_code": mmdbtype.String(e.Subdivision),
			"names":    names(e.Subdivision),
		}}
	}
	if !e.NoCoords {
		m["location"] = mmdbtype.Map{
			"accuracy_radius": mmdbtype.Uint16(100),
			"latitude":        mmdbtype.Float64(e.Lat),
			"longitude":       mmdbtype.Float64(e.Lon),
		}
	}
	return m
}

// names stands in for the localized names map; the code is good enough for
// tests and keeps the files small.
func names(code string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(code)}
}

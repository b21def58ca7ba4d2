package geo_test

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/geotest"
)

var cityEntries = []geotest.Entry{
	{Network: "192.0.2.0/24", Country: "US", Continent: "NA", Subdivision: "VA", Lat: 38.9, Lon: -77.0},
	{Network: "198.51.100.0/25", Country: "DE", Continent: "EU", Lat: 50.1, Lon: 8.7},
	// The database's continent field is wrong on purpose: octoDNS puts
	// Turkey in AS and so must Meridian.
	{Network: "203.0.113.0/24", Country: "TR", Continent: "EU", Lat: 41.0, Lon: 29.0},
	{Network: "100.64.0.0/16", Country: "BR", Continent: "SA", NoCoords: true},
	{Network: "100.65.0.0/16", Continent: "EU", NoCoords: true}, // continent only, no country
	{Network: "2001:db8:1::/48", Country: "JP", Continent: "AS", Lat: 35.7, Lon: 139.7},
}

func mustOpen(t testing.TB, paths ...string) *geo.Reader {
	t.Helper()
	r, err := geo.Open(paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestLookup(t *testing.T) {
	r := mustOpen(t, geotest.WriteT(t, cityEntries))
	tests := []struct {
		ip   string
		want geo.Location
	}{
		{"192.0.2.7", geo.Location{Continent: "NA", Country: "US", Subdivision: "VA", Lat: 38.9, Lon: -77.0, HasCoords: true,
			Prefix: netip.MustParsePrefix("192.0.2.0/24"), Found: true}},
		{"::ffff:192.0.2.7", geo.Location{Continent: "NA", Country: "US", Subdivision: "VA", Lat: 38.9, Lon: -77.0, HasCoords: true,
			Prefix: netip.MustParsePrefix("192.0.2.0/24"), Found: true}},
		{"198.51.100.1", geo.Location{Continent: "EU", Country: "DE", Lat: 50.1, Lon: 8.7, HasCoords: true,
			Prefix: netip.MustParsePrefix("198.51.100.0/25"), Found: true}},
		// The hole next to a record: the database says how far it reaches.
		{"198.51.100.200", geo.Location{Prefix: netip.MustParsePrefix("198.51.100.128/25")}},
		{"203.0.113.9", geo.Location{Continent: "AS", Country: "TR", Lat: 41.0, Lon: 29.0, HasCoords: true,
			Prefix: netip.MustParsePrefix("203.0.113.0/24"), Found: true}},
		{"100.64.3.4", geo.Location{Continent: "SA", Country: "BR",
			Prefix: netip.MustParsePrefix("100.64.0.0/16"), Found: true}},
		// A record with no country locates nobody.
		{"100.65.3.4", geo.Location{Prefix: netip.MustParsePrefix("100.65.0.0/16")}},
		{"2001:db8:1::53", geo.Location{Continent: "AS", Country: "JP", Lat: 35.7, Lon: 139.7, HasCoords: true,
			Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Found: true}},
		{"2001:db8:2::53", geo.Location{Prefix: netip.MustParsePrefix("2001:db8:2::/47")}},
		{"127.0.0.1", geo.Location{Prefix: netip.MustParsePrefix("112.0.0.0/4")}},
		// ::/96 is the IPv4 subtree, so ::1 is 0.0.0.1 there.
		{"::1", geo.Location{Prefix: netip.MustParsePrefix("::/98")}},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			got := r.Lookup(netip.MustParseAddr(tt.ip))
			if got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
			if got.Prefix.IsValid() && !got.Prefix.Contains(netip.MustParseAddr(tt.ip).Unmap()) {
				t.Errorf("prefix %v does not contain %s", got.Prefix, tt.ip)
			}
		})
	}
}

func TestLookupCountryDatabase(t *testing.T) {
	r := mustOpen(t, geotest.WriteT(t, cityEntries, geotest.Country()))
	got := r.Lookup(netip.MustParseAddr("192.0.2.1"))
	want := geo.Location{Continent: "NA", Country: "US", Prefix: netip.MustParsePrefix("192.0.2.0/24"), Found: true}
	if got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
}

func TestLookupFirstDatabaseWins(t *testing.T) {
	first := geotest.WriteT(t, []geotest.Entry{
		{Network: "192.0.2.0/25", Country: "GB", Continent: "EU", Lat: 51.5, Lon: -0.1},
	})
	second := geotest.WriteT(t, []geotest.Entry{
		{Network: "192.0.2.0/24", Country: "FR", Continent: "EU", Lat: 48.9, Lon: 2.4},
		{Network: "2001:db8::/32", Country: "FR", Continent: "EU", Lat: 48.9, Lon: 2.4},
	})
	r := mustOpen(t, first, second)
	tests := []struct {
		ip, country, prefix string
	}{
		{"192.0.2.1", "GB", "192.0.2.0/25"},
		// Missed by the first database in 192.0.2.128/25, found by the
		// second in a /24: the answer holds only for the /25.
		{"192.0.2.129", "FR", "192.0.2.128/25"},
		{"2001:db8::1", "FR", "2001:db8::/32"},
		{"198.51.100.1", "", "196.0.0.0/6"},
	}
	for _, tt := range tests {
		got := r.Lookup(netip.MustParseAddr(tt.ip))
		if got.Country != tt.country || got.Prefix.String() != tt.prefix {
			t.Errorf("Lookup(%s) = %s %s; want %s %s", tt.ip, got.Country, got.Prefix, tt.country, tt.prefix)
		}
	}
}

func TestNilAndEmptyReader(t *testing.T) {
	var nilReader *geo.Reader
	ip := netip.MustParseAddr("192.0.2.1")
	if got := nilReader.Lookup(ip); got != (geo.Location{}) {
		t.Errorf("nil Lookup = %+v; want zero", got)
	}
	if changed, err := nilReader.Reload(); changed || err != nil {
		t.Errorf("nil Reload = %v, %v; want false, nil", changed, err)
	}
	if err := nilReader.Close(); err != nil {
		t.Errorf("nil Close = %v", err)
	}
	empty := mustOpen(t)
	if got := empty.Lookup(ip); got != (geo.Location{}) {
		t.Errorf("empty Lookup = %+v; want zero", got)
	}
	closed := mustOpen(t, geotest.WriteT(t, cityEntries))
	closed.Close()
	if got := closed.Lookup(ip); got != (geo.Location{}) {
		t.Errorf("closed Lookup = %+v; want zero", got)
	}
	if got := mustOpen(t, geotest.WriteT(t, cityEntries)).Lookup(netip.Addr{}); got != (geo.Location{}) {
		t.Errorf("Lookup(invalid) = %+v; want zero", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := geotest.WriteT(t, cityEntries)
	for _, path := range []string{garbage, filepath.Join(dir, "missing.mmdb")} {
		_, err := geo.Open([]string{good, path})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Open(%s) error = %v; want one naming the file", path, err)
		}
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.mmdb")
	other := geotest.WriteT(t, []geotest.Entry{{Network: "198.51.100.0/24", Country: "DE", Continent: "EU"}})
	if err := geotest.Write(path, []geotest.Entry{{Network: "192.0.2.0/24", Country: "US", Continent: "NA"}}); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, path, other)
	ip := netip.MustParseAddr("192.0.2.1")
	country := func() string { return r.Lookup(ip).Country }

	if changed, err := r.Reload(); changed || err != nil {
		t.Fatalf("Reload unchanged = %v, %v; want false, nil", changed, err)
	}

	// geotest.Write replaces the file atomically by rename.
	if err := geotest.Write(path, []geotest.Entry{{Network: "192.0.2.0/24", Country: "JP", Continent: "AS"}}); err != nil {
		t.Fatal(err)
	}
	if got := country(); got != "US" {
		t.Errorf("before Reload got %q; want US", got)
	}
	changed, err := r.Reload()
	if !changed || err != nil {
		t.Fatalf("Reload = %v, %v; want true, nil", changed, err)
	}
	if got := country(); got != "JP" {
		t.Errorf("after Reload got %q; want JP", got)
	}
	if got := r.Lookup(netip.MustParseAddr("198.51.100.1")).Country; got != "DE" {
		t.Errorf("untouched database got %q; want DE", got)
	}

	// A corrupt replacement keeps the old database serving.
	tmp := filepath.Join(dir, "tmp")
	if err := os.WriteFile(tmp, []byte("\x00garbage\xff not an mmdb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	changed, err = r.Reload()
	if changed || err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Reload corrupt = %v, %v; want false and an error naming %s", changed, err, path)
	}
	if got := country(); got != "JP" {
		t.Errorf("after failed Reload got %q; want JP", got)
	}

	// A missing file likewise.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Reload missing error = %v; want one naming %s", err, path)
	}
	if got := country(); got != "JP" {
		t.Errorf("after missing file got %q; want JP", got)
	}

	// And a good file brings it back.
	if err := geotest.Write(path, []geotest.Entry{{Network: "192.0.2.0/24", Country: "AU", Continent: "OC"}}); err != nil {
		t.Fatal(err)
	}
	if changed, err := r.Reload(); !changed || err != nil {
		t.Fatalf("Reload = %v, %v; want true, nil", changed, err)
	}
	if got := country(); got != "AU" {
		t.Errorf("after recovery got %q; want AU", got)
	}
}

// TestReloadConcurrent runs lookups against reloads for the race detector.
func TestReloadConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	countries := []string{"US", "JP"}
	write := func(i int) {
		if err := geotest.Write(path, []geotest.Entry{{Network: "192.0.2.0/24", Country: countries[i%2]}}); err != nil {
			t.Error(err)
		}
	}
	write(0)
	r := mustOpen(t, path)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i < 20; i++ {
			write(i)
			if _, err := r.Reload(); err != nil {
				t.Error(err)
			}
		}
	}()
	ip := netip.MustParseAddr("192.0.2.1")
	for {
		select {
		case <-done:
			return
		default:
			if c := r.Lookup(ip).Country; c != "US" && c != "JP" {
				t.Fatalf("got %q; want US or JP", c)
			}
		}
	}
}

func TestLookupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	r := mustOpen(t, geotest.WriteT(t, cityEntries))
	for _, s := range []string{"192.0.2.7", "2001:db8:1::1", "127.0.0.1"} {
		ip := netip.MustParseAddr(s)
		r.Lookup(ip) // warm the string cache
		r.Lookup(ip)
		if n := testing.AllocsPerRun(100, func() { r.Lookup(ip) }); n != 0 {
			t.Errorf("Lookup(%s) allocs = %v; want 0", s, n)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64
	}{
		{"London-Paris", 51.5074, -0.1278, 48.8566, 2.3522, 344},
		{"New York-Los Angeles", 40.7128, -74.0060, 34.0522, -118.2437, 3936},
		{"same point", 38.9, -77.0, 38.9, -77.0, 0},
		{"antipodes", 0, 0, 0, 180, math.Pi * 6371.0088},
	}
	for _, tt := range tests {
		got := geo.Distance(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
		if math.Abs(got-tt.want) > tt.want*0.01 {
			t.Errorf("%s: got %.1f km; want %.0f km ±1%%", tt.name, got, tt.want)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	r := mustOpen(b, geotest.WriteT(b, cityEntries))
	ips := []netip.Addr{
		netip.MustParseAddr("192.0.2.7"),
		netip.MustParseAddr("2001:db8:1::1"),
		netip.MustParseAddr("198.51.100.200"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Lookup(ips[i%len(ips)])
	}
}

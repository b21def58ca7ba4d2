package geo_test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/geotest"
)

// TestLookupCached checks that a cached lookup always gives what Lookup
// gives, including for two addresses of one /24 that the database puts in
// different /25s, and that a reload empties the cache.
func TestLookupCached(t *testing.T) {
	r := mustOpen(t, geotest.WriteT(t, cityEntries))
	c := new(geo.Cache)
	ips := []string{
		"192.0.2.7", "192.0.2.200", "::ffff:192.0.2.9",
		"198.51.100.1", "198.51.100.200", "198.51.100.2", "198.51.100.129",
		"203.0.113.9", "100.64.3.4", "100.64.3.5", "100.65.3.4", "127.0.0.1",
		"2001:db8:1::53", "2001:db8:1:0:ff::1", "2001:db8:1:ff::1", "2001:db8:2::53",
	}
	for round := range 3 {
		for _, s := range ips {
			ip := netip.MustParseAddr(s)
			if got, want := r.LookupCached(ip, c), r.Lookup(ip); got != want {
				t.Errorf("round %d: LookupCached(%s) = %+v; Lookup gives %+v", round, s, got, want)
			}
		}
	}
	// Many networks: slots are shared, and every answer must still be right.
	for i := range 20000 {
		ip := netip.AddrFrom4([4]byte{198, 51, byte(i % 256), byte(i * 7)})
		if i%3 == 0 {
			ip = netip.AddrFrom4([4]byte{byte(i), byte(i >> 8), 100, byte(i)})
		}
		if got, want := r.LookupCached(ip, c), r.Lookup(ip); got != want {
			t.Fatalf("LookupCached(%s) = %+v; Lookup gives %+v", ip, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { r.LookupCached(netip.MustParseAddr("192.0.2.7"), c) }); n != 0 {
		t.Errorf("got %v allocations per cached lookup; want 0", n)
	}
	var nilCache *geo.Cache
	if got := r.LookupCached(netip.MustParseAddr("192.0.2.7"), nilCache); got.Country != "US" {
		t.Errorf("nil cache: got %q; want US", got.Country)
	}
	var nilReader *geo.Reader
	if got := nilReader.LookupCached(netip.MustParseAddr("192.0.2.7"), c); got != (geo.Location{}) {
		t.Errorf("nil reader: got %+v; want zero", got)
	}
}

func TestLookupCachedReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	write := func(country string) {
		t.Helper()
		if err := geotest.Write(path, []geotest.Entry{{Network: "192.0.2.0/24", Country: country, Continent: "NA"}}); err != nil {
			t.Fatal(err)
		}
	}
	write("US")
	r := mustOpen(t, path)
	c := new(geo.Cache)
	ip := netip.MustParseAddr("192.0.2.1")
	for i, country := range []string{"US", "CA", "MX"} {
		if i > 0 {
			write(country)
			if changed, err := r.Reload(); !changed || err != nil {
				t.Fatalf("Reload = %v, %v; want true, nil", changed, err)
			}
		}
		for range 2 {
			if got := r.LookupCached(ip, c).Country; got != country {
				t.Errorf("after reload %d: got %q; want %q", i, got, country)
			}
		}
	}
}

func BenchmarkLookupCached(b *testing.B) {
	r := mustOpen(b, geotest.WriteT(b, cityEntries))
	var ips []netip.Addr
	for i := range 1024 {
		ips = append(ips, netip.MustParseAddr(fmt.Sprintf("192.0.%d.%d", i%4, i%256)))
	}
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			c := new(geo.Cache)
			if !cached {
				c = nil
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r.LookupCached(ips[i%len(ips)], c)
				i++
			}
		})
	}
}

// TestLookupCachedManyLocations: more distinct locations than a Cache
// keeps empties it rather than answering from a stale entry.
func TestLookupCachedManyLocations(t *testing.T) {
	var entries []geotest.Entry
	for i := range 5000 {
		entries = append(entries, geotest.Entry{Network: fmt.Sprintf("10.%d.%d.0/24", i/256, i%256),
			Country: "US", Continent: "NA", Lat: float64(i) / 100, Lon: 1})
	}
	r := mustOpen(t, geotest.WriteT(t, entries))
	c := new(geo.Cache)
	for round := range 2 {
		for i := range 5000 {
			ip := netip.AddrFrom4([4]byte{10, byte(i / 256), byte(i % 256), byte(round + 1)})
			if got, want := r.LookupCached(ip, c), r.Lookup(ip); got != want {
				t.Fatalf("round %d: LookupCached(%s) = %+v; Lookup gives %+v", round, ip, got, want)
			}
		}
	}
}

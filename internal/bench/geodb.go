package bench

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/geotest"
)

// Location is a place the generated GeoIP database puts networks in.
type Location struct {
	Country     string // ISO 3166-1 alpha-2
	Subdivision string // ISO 3166-2 subdivision code without the country, "" = none
	Lat, Lon    float64
}

// locations spread clients over every continent the policies name, plus
// places that only a catch-all matches (MX, CA, EG, ...).
var locations = []Location{
	{"US", "CA", 37.4, -122.1}, {"US", "WA", 47.6, -122.3}, {"US", "OR", 45.5, -122.7},
	{"US", "VA", 38.9, -77.0}, {"US", "NY", 40.7, -74.0}, {"US", "TX", 32.8, -96.8},
	{"CA", "QC", 45.5, -73.6}, {"CA", "ON", 43.7, -79.4}, {"MX", "", 19.4, -99.1},
	{"BR", "SP", -23.5, -46.6}, {"AR", "", -34.6, -58.4}, {"CL", "", -33.4, -70.6},
	{"GB", "ENG", 51.5, -0.1}, {"DE", "HE", 50.1, 8.7}, {"FR", "IDF", 48.9, 2.4},
	{"NL", "", 52.4, 4.9}, {"RU", "MOW", 55.8, 37.6}, {"PL", "", 52.2, 21.0},
	{"TR", "34", 41.0, 29.0}, {"ZA", "GP", -26.2, 28.0}, {"NG", "LA", 6.5, 3.4},
	{"EG", "", 30.0, 31.2}, {"JP", "13", 35.7, 139.7}, {"KR", "11", 37.6, 127.0},
	{"CN", "", 31.2, 121.5}, {"IN", "MH", 19.1, 72.9}, {"SG", "", 1.3, 103.8},
	{"AU", "NSW", -33.9, 151.2}, {"NZ", "", -36.8, 174.8},
}

// Network is one entry of the generated GeoIP database.
type Network struct {
	Prefix netip.Prefix
	Loc    Location
}

// Address plan of the generated database. Clients outside every entry
// (the holes, missV4, the subnet rule's 10.0.0.0/8) have no location.
var (
	dbV4       = netip.MustParsePrefix("100.64.0.0/10") // split into /20 entries
	dbV4Bits   = 20
	dbV6       = netip.MustParsePrefix("2001:db8::/32") // /48 entries 2001:db8:1:: ...
	dbV6Count  = 48
	missV4     = netip.MustParsePrefix("198.18.0.0/15") // never in the database
	corpSubnet = netip.MustParsePrefix("10.0.0.0/8")    // the world policy's subnet rule
)

// makeNetworks lays out the database: every /20 of dbV4 but one in ten,
// and 2001:db8:N::/48 for N in 1..dbV6Count but one in eight, each given a
// location by a fixed shuffle so neighbouring networks seldom share one.
func makeNetworks(r *rand.Rand) []Network {
	var nets []Network
	n4 := 1 << (dbV4Bits - dbV4.Bits())
	for i := range n4 {
		if i%10 == 9 {
			continue // a hole: located nowhere
		}
		nets = append(nets, Network{Prefix: nthSubnet(dbV4, dbV4Bits, i), Loc: locations[r.IntN(len(locations))]})
	}
	for i := 1; i <= dbV6Count; i++ {
		if i%8 == 0 {
			continue
		}
		p := netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i))
		nets = append(nets, Network{Prefix: p, Loc: locations[r.IntN(len(locations))]})
	}
	return nets
}

// nthSubnet returns the i-th /bits subnet of p (IPv4 only).
func nthSubnet(p netip.Prefix, bits, i int) netip.Prefix {
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i) << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits)
}

// WriteGeoDB writes the scenario's networks as a GeoIP2-City database.
// Each record's continent is the one octoDNS (and so Meridian) places the
// country on, so gdnsd, which reads the database's continent field, sees
// the same continent.
func WriteGeoDB(path string, s *Scenario) error {
	entries := make([]geotest.Entry, 0, len(s.Networks))
	for _, n := range s.Networks {
		cont, ok := geo.ContinentOf(n.Loc.Country)
		if !ok {
			return fmt.Errorf("bench: no continent for country %q", n.Loc.Country)
		}
		entries = append(entries, geotest.Entry{Network: n.Prefix.String(), Country: n.Loc.Country,
			Continent: cont, Subdivision: n.Loc.Subdivision, Lat: n.Loc.Lat, Lon: n.Loc.Lon})
	}
	return geotest.Write(path, entries)
}

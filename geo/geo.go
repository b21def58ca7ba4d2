// Package geo locates DNS clients: GeoIP2/GeoLite2 City or Country
// databases (read with oschwald's maxminddb/geoip2 v2 libraries), octoDNS
// geo codes and their country→continent table, and great-circle distances.
//
// Lookups are on the query path: they take no locks (one atomic.Pointer
// load) and do not allocate. Databases are read into memory rather than
// memory-mapped, so an operator overwriting a file in place cannot crash the
// server; Reload swaps in new copies.
package geo

import (
	"math"
	"net/netip"
)

// Location is where a client is, as far as the databases know.
type Location struct {
	Continent   string // from ContinentOf(Country), NOT the database's continent field; "" when unknown
	Country     string // ISO 3166-1 alpha-2, "" when unknown
	Subdivision string // first subdivision ISO code (e.g. "CA" for California), "" when unknown
	Lat, Lon    float64
	HasCoords   bool

	// Prefix is the network around the client for which this answer holds:
	// every address in it gets the same Location. It is what the database
	// reports for the record (or for the empty subtree on a miss), narrowed
	// across the databases consulted; for IPv4 clients it is an IPv4
	// prefix. It is the zero Prefix when no database is configured, where
	// every address gets the same (empty) answer.
	Prefix netip.Prefix

	// Found reports whether a database knew the client's country.
	Found bool
}

// earthRadiusKm is the IUGG mean Earth radius.
const earthRadiusKm = 6371.0088

// Distance returns the great-circle distance in kilometres between two
// points given in decimal degrees (haversine formula).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ := (lat2 - lat1) * rad
	dλ := (lon2 - lon1) * rad
	a := math.Sin(dφ/2)*math.Sin(dφ/2) +
		math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(math.Min(1, a)))
}

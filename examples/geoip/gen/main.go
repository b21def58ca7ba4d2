// Command gen writes the demo GeoIP2-City database used by the examples:
//
//	go run ./examples/geoip/gen -o examples/geoip/demo-city.mmdb
//
// Every network is a documentation (RFC 5737, RFC 3849) or shared (RFC 6598)
// range, so the file locates no real client. Loopback is deliberately
// absent: a query from 127.0.0.1 has an unknown location. The output is
// byte-for-byte reproducible; see README.md for the table.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/meridiandns/meridian/internal/geotest"
)

// entries is the table in README.md; keep them in step.
var entries = []geotest.Entry{
	{Network: "192.0.2.0/24", Country: "US", Continent: "NA", Subdivision: "VA", Lat: 38.9, Lon: -77.0},    // Ashburn
	{Network: "198.51.100.0/24", Country: "DE", Continent: "EU", Subdivision: "HE", Lat: 50.1, Lon: 8.7},   // Frankfurt
	{Network: "203.0.113.0/24", Country: "JP", Continent: "AS", Subdivision: "13", Lat: 35.7, Lon: 139.7},  // Tokyo
	{Network: "100.64.0.0/24", Country: "GB", Continent: "EU", Subdivision: "ENG", Lat: 51.5, Lon: -0.1},   // London
	{Network: "100.64.1.0/24", Country: "FR", Continent: "EU", Subdivision: "IDF", Lat: 48.9, Lon: 2.4},    // Paris
	{Network: "100.64.2.0/24", Country: "BR", Continent: "SA", Subdivision: "SP", Lat: -23.5, Lon: -46.6},  // São Paulo
	{Network: "100.64.3.0/24", Country: "AU", Continent: "OC", Subdivision: "NSW", Lat: -33.9, Lon: 151.2}, // Sydney
	{Network: "100.64.4.0/24", Country: "ZA", Continent: "AF", Subdivision: "GP", Lat: -26.2, Lon: 28.0},   // Johannesburg
	{Network: "100.64.5.0/24", Country: "RU", Continent: "EU", Subdivision: "MOW", Lat: 55.8, Lon: 37.6},   // Moscow
	{Network: "100.64.6.0/24", Country: "TR", Continent: "AS", Subdivision: "34", Lat: 41.0, Lon: 29.0},    // Istanbul
	{Network: "100.64.7.0/24", Country: "US", Continent: "NA", Subdivision: "CA", Lat: 37.4, Lon: -122.1},  // Palo Alto
	{Network: "100.64.8.0/24", Country: "CA", Continent: "NA", Subdivision: "QC", Lat: 45.5, Lon: -73.6},   // Montréal
	{Network: "2001:db8:1::/48", Country: "US", Continent: "NA", Subdivision: "VA", Lat: 38.9, Lon: -77.0}, // Ashburn
	{Network: "2001:db8:2::/48", Country: "DE", Continent: "EU", Subdivision: "HE", Lat: 50.1, Lon: 8.7},   // Frankfurt
	{Network: "2001:db8:3::/48", Country: "JP", Continent: "AS", Subdivision: "13", Lat: 35.7, Lon: 139.7}, // Tokyo
}

func main() {
	out := flag.String("o", "examples/geoip/demo-city.mmdb", "output file")
	flag.Parse()
	if err := geotest.Write(*out, entries); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// Package bench is the side-by-side benchmark of Meridian and gdnsd behind
// `make bench`.
//
// It generates one GSLB scenario (scenario.go) and writes it three ways:
// as a Meridian config with octoDNS-style YAML zones (meridian.go), as an
// equivalent gdnsd config directory with geoip, weighted and simplefo
// resources (gdnsd.go), and as a dnsperf -B query file with a fixed mix of
// query classes and EDNS Client Subnet options (queries.go). Both servers
// read the same generated GeoIP2 City database (geodb.go).
//
// The runner (sidebyside.go) checks that both servers give equivalent
// answers (equiv.go), then alternates timed dnsperf runs between them with
// the server and dnsperf pinned to different CPUs, reading the server's CPU
// time from /proc (procstat.go). bigzone.go measures loading and reloading
// a large zone set under a paced query load (pacer.go).
//
// The command line is cmd/gslbbench at the top of the module; README.md
// says how to read the figures.
package bench

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/geotest"
	"github.com/meridiandns/meridian/internal/testbin"
)

const geoZone = `'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  values: [192.0.2.100]
  dynamic:
    pools:
      ap: {fallback: us, values: [{value: 203.0.113.100}]}
      eu: {fallback: us, values: [{value: 198.51.100.100}]}
      us: {values: [{value: 192.0.2.100}]}
    rules:
      - {geos: [AS], pool: ap}
      - {geos: [EU], pool: eu}
      - {pool: us}
`

// TestThroughUnbound sends ECS queries through a real recursive resolver
// that delegates example.com to Meridian: each client region must get its
// own pool, although they all ask the same resolver for the same name.
func TestThroughUnbound(t *testing.T) {
	require := os.Getenv("MERIDIAN_REQUIRE_TOOLS") != ""
	dig := lookTool(t, "dig")
	db, err := geotest.Build([]geotest.Entry{
		{Network: "198.51.100.0/24", Country: "DE", Lat: 50.1, Lon: 8.7},
		{Network: "203.0.113.0/24", Country: "JP", Lat: 35.7, Lon: 139.7},
		{Network: "192.0.2.0/24", Country: "US", Lat: 38.9, Lon: -77},
		{Network: "2001:db8:2::/48", Country: "DE", Lat: 50.1, Lon: 8.7},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := testbin.Start(t, baseConfig+"geoip: {databases: [geo.mmdb]}\n", map[string]string{
		"zones/example.com.yaml": geoZone,
		"geo.mmdb":               string(db),
	})
	u := testbin.StartUnbound(t, map[string]string{"example.com.": n.Addr}, require)

	for _, tt := range []struct{ subnet, want string }{
		{"198.51.100.0/24", "198.51.100.100"},
		{"203.0.113.0/24", "203.0.113.100"},
		{"192.0.2.0/24", "192.0.2.100"},
		{"198.51.100.0/24", "198.51.100.100"}, // again, now from unbound's cache
		{"203.0.113.0/24", "203.0.113.100"},
	} {
		o := runTool(t, dig, u.Addr, "+subnet="+tt.subnet, "app.example.com", "A")
		if o.status != "NOERROR" || len(o.answer) != 1 || !strings.HasSuffix(o.answer[0], " "+tt.want) {
			t.Errorf("client %s through unbound: got %s %q; want %s\n%s\nunbound:\n%s\nmeridian:\n%s",
				tt.subnet, o.status, o.answer, tt.want, o.raw, u.Logs(), n.Logs())
		}
	}
}

package main

import (
	"bytes"
	"net/netip"
	"os"
	"testing"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/geotest"
)

const committed = "../demo-city.mmdb"

// TestCommittedUpToDate fails when entries and the committed database have
// drifted apart; rerun the generator (see the package comment).
func TestCommittedUpToDate(t *testing.T) {
	want, err := geotest.Build(entries)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: go run ./examples/geoip/gen -o examples/geoip/demo-city.mmdb", committed)
	}
	again, err := geotest.Build(entries)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, want) {
		t.Error("two builds of the same entries differ")
	}
}

// TestReadmeTable checks the test addresses documented in README.md.
func TestReadmeTable(t *testing.T) {
	r, err := geo.Open([]string{committed})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		ip, code string
	}{
		{"192.0.2.1", "NA-US-VA"},
		{"198.51.100.1", "EU-DE"},
		{"203.0.113.1", "AS-JP"},
		{"100.64.0.1", "EU-GB"},
		{"100.64.1.1", "EU-FR"},
		{"100.64.2.1", "SA-BR"},
		{"100.64.3.1", "OC-AU"},
		{"100.64.4.1", "AF-ZA"},
		{"100.64.5.1", "EU-RU"},
		{"100.64.6.1", "AS-TR"},
		{"100.64.7.1", "NA-US-CA"},
		{"100.64.8.1", "NA-CA-QC"},
		{"2001:db8:1::1", "NA-US-VA"},
		{"2001:db8:2::1", "EU-DE"},
		{"2001:db8:3::1", "AS-JP"},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"100.64.9.1", ""},
	}
	for _, tt := range tests {
		loc := r.Lookup(netip.MustParseAddr(tt.ip))
		if tt.code == "" {
			if loc.Found {
				t.Errorf("%s: got %+v; want unknown", tt.ip, loc)
			}
			continue
		}
		c, err := geo.ParseCode(tt.code)
		if err != nil {
			t.Fatal(err)
		}
		if !loc.Found || !c.Matches(loc) || !loc.HasCoords {
			t.Errorf("%s: got %+v; want %s with coordinates", tt.ip, loc, tt.code)
		}
	}
}

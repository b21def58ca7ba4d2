package geo_test

import (
	"testing"

	"github.com/meridiandns/meridian/geo"
)

func TestContinentOf(t *testing.T) {
	tests := []struct {
		country, want string
		ok            bool
	}{
		{"RU", "EU", true},
		{"TR", "AS", true},
		{"CY", "AS", true},
		{"GE", "AS", true},
		{"AM", "AS", true},
		{"AZ", "AS", true},
		{"TL", "AS", true},
		{"US", "NA", true},
		{"CA", "NA", true},
		{"BR", "SA", true},
		{"AU", "OC", true},
		{"GU", "OC", true},
		{"ZA", "AF", true},
		{"AQ", "AN", true},
		{"GB", "EU", true},
		{"XK", "", false}, // Kosovo: MaxMind has it, octoDNS does not
		{"us", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := geo.ContinentOf(tt.country)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ContinentOf(%q) = %q, %v; want %q, %v", tt.country, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValid(t *testing.T) {
	for _, c := range []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"} {
		if !geo.ValidContinent(c) {
			t.Errorf("ValidContinent(%q) = false; want true", c)
		}
	}
	for _, c := range []string{"", "ID", "AP", "eu", "XX"} {
		if geo.ValidContinent(c) {
			t.Errorf("ValidContinent(%q) = true; want false", c)
		}
	}
	countries := []struct {
		cont, country string
		want          bool
	}{
		{"EU", "RU", true},
		{"AS", "RU", false},
		{"NA", "US", true},
		{"NA", "GB", false},
		{"XX", "US", false},
	}
	for _, tt := range countries {
		if got := geo.ValidCountry(tt.cont, tt.country); got != tt.want {
			t.Errorf("ValidCountry(%q, %q) = %v; want %v", tt.cont, tt.country, got, tt.want)
		}
	}
	subs := []struct {
		cont, country, sub string
		want               bool
	}{
		{"NA", "US", "CA", true},
		{"NA", "US", "OR", true},
		{"NA", "US", "PR", true},
		{"NA", "CA", "BC", true},
		{"NA", "CA", "YT", true},
		{"NA", "US", "BC", false},
		{"NA", "US", "XX", false},
		{"EU", "US", "CA", false},
		{"EU", "DE", "BE", false},
		{"EU", "GB", "ENG", false},
	}
	for _, tt := range subs {
		if got := geo.ValidSubdivision(tt.cont, tt.country, tt.sub); got != tt.want {
			t.Errorf("ValidSubdivision(%q, %q, %q) = %v; want %v", tt.cont, tt.country, tt.sub, got, tt.want)
		}
	}
}

func TestParseCode(t *testing.T) {
	tests := []struct {
		code    string
		want    geo.Code
		wantErr string
	}{
		{code: "EU", want: geo.Code{Continent: "EU"}},
		{code: "NA-US", want: geo.Code{Continent: "NA", Country: "US"}},
		{code: "NA-US-CA", want: geo.Code{Continent: "NA", Country: "US", Subdivision: "CA"}},
		{code: "NA-US-OR", want: geo.Code{Continent: "NA", Country: "US", Subdivision: "OR"}},
		{code: "NA-CA-QC", want: geo.Code{Continent: "NA", Country: "CA", Subdivision: "QC"}},
		{code: "AS-TR", want: geo.Code{Continent: "AS", Country: "TR"}},
		// The cases of octoDNS's own TestRecordGeoCodes.test_validate.
		{code: "XX-YY-ZZ-AA", wantErr: `invalid geo code "XX-YY-ZZ-AA"`},
		{code: "X-Y-Z", wantErr: `unknown continent code "X-Y-Z"`},
		{code: "XXX-Y-Z", wantErr: `unknown continent code "XXX-Y-Z"`},
		{code: "XX", wantErr: `unknown continent code "XX"`},
		{code: "XX-US", wantErr: `unknown continent code "XX-US"`},
		{code: "XX-US-OR", wantErr: `unknown continent code "XX-US-OR"`},
		{code: "NA-XX", wantErr: `unknown country code "NA-XX"`},
		{code: "NA-XX-OR", wantErr: `unknown country code "NA-XX-OR"`},
		{code: "NA-GB", wantErr: `unknown country code "NA-GB"`},
		{code: "NA-US-XX", wantErr: `unknown province code "NA-US-XX"`},
		// Beyond octoDNS's tests.
		{code: "", wantErr: `unknown continent code ""`},
		{code: "eu", wantErr: `unknown continent code "eu"`},
		{code: "EU-RU-MOW", wantErr: `unknown province code "EU-RU-MOW"`},
		{code: "AS-RU", wantErr: `unknown country code "AS-RU"`},
		{code: "NA-US-", wantErr: `unknown province code "NA-US-"`},
		{code: `EU-"X`, wantErr: `unknown country code "EU-"X"`},
	}
	for _, tt := range tests {
		got, err := geo.ParseCode(tt.code)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseCode(%q) error = %v; want %s", tt.code, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCode(%q) error = %v; want nil", tt.code, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseCode(%q) = %+v; want %+v", tt.code, got, tt.want)
		}
		if s := got.String(); s != tt.code {
			t.Errorf("ParseCode(%q).String() = %q; want %q", tt.code, s, tt.code)
		}
	}
}

func TestCodeMatches(t *testing.T) {
	california := geo.Location{Continent: "NA", Country: "US", Subdivision: "CA", Found: true}
	virginia := geo.Location{Continent: "NA", Country: "US", Subdivision: "VA", Found: true}
	canada := geo.Location{Continent: "NA", Country: "CA", Found: true}
	moscow := geo.Location{Continent: "EU", Country: "RU", Found: true}
	unknown := geo.Location{}
	tests := []struct {
		code string
		loc  geo.Location
		want bool
	}{
		{"NA", california, true},
		{"NA", canada, true},
		{"NA", moscow, false},
		{"NA-US", california, true},
		{"NA-US", canada, false},
		{"NA-US-CA", california, true},
		{"NA-US-CA", virginia, false},
		{"NA-US-CA", canada, false},
		{"NA-CA", canada, true},
		{"EU", moscow, true},
		{"AS", moscow, false},
		{"EU", unknown, false},
		{"NA-US", geo.Location{Continent: "NA", Country: "US"}, true}, // no subdivision known
		{"NA-US-CA", geo.Location{Continent: "NA", Country: "US"}, false},
	}
	for _, tt := range tests {
		c, err := geo.ParseCode(tt.code)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Matches(tt.loc); got != tt.want {
			t.Errorf("%s.Matches(%+v) = %v; want %v", tt.code, tt.loc, got, tt.want)
		}
	}
	if got := (geo.Code{}).Matches(unknown); got {
		t.Errorf("Code{}.Matches(Location{}) = true; want false")
	}
}

// TestCodeKey checks the packed form against Matches over every pair of a
// set of codes and locations, including parts too long to pack.
func TestCodeKey(t *testing.T) {
	parts := []string{"", "N", "NA", "EU", "US", "CA", "C", "CAL", "VA", "LONG"}
	var locs []geo.Location
	var codes []geo.Code
	for _, a := range parts {
		for _, b := range parts {
			for _, c := range parts {
				locs = append(locs, geo.Location{Continent: a, Country: b, Subdivision: c})
				codes = append(codes, geo.Code{Continent: a, Country: b, Subdivision: c})
			}
		}
	}
	packedPairs := 0
	for _, c := range codes {
		key, mask, cok := c.Key()
		if cok != (c.Continent != "" && len(c.Continent) <= 2 && len(c.Country) <= 2 && len(c.Subdivision) <= 3) {
			t.Errorf("%+v.Key() ok = %v", c, cok)
		}
		for _, l := range locs {
			lk, lok := l.Key()
			if lok != (len(l.Continent) <= 2 && len(l.Country) <= 2 && len(l.Subdivision) <= 3) {
				t.Fatalf("%+v.Key() ok = %v", l, lok)
			}
			if !cok || !lok {
				continue
			}
			packedPairs++
			if got, want := lk&mask == key, c.Matches(l); got != want {
				t.Errorf("packed %+v matches %+v = %v; Matches says %v", c, l, got, want)
			}
		}
	}
	if packedPairs < 100000 {
		t.Fatalf("only %d packed pairs compared", packedPairs)
	}
	if _, ok := (&geo.Location{Country: "U\x00"}).Key(); ok {
		t.Error("a NUL byte packed")
	}
}

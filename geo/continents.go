package geo

import (
	"errors"
	"strings"
)

// The tables below are octoDNS's octodns/record/geo_data.py (the layout
// since octoDNS 1.0: Timor-Leste under AS, provinces for US and CA only),
// transcribed code for code. Meridian must accept exactly the geo codes
// octoDNS accepts and place every country on the continent octoDNS places it
// (RU is EU; TR, CY, GE, AM and AZ are AS), so that a zone file means the
// same thing here as it does to octoDNS. Do not "correct" them.
var continentCountries = map[string]string{
	"AF": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
	"AN": "AQ BV HM TF",
	"AS": "AE AF AM AZ BD BH BN BT CC CN CX CY GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
	"EU": "AD AL AT AX BA BE BG BY CH CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA",
	"NA": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG VI",
	"OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
	"SA": "AR BO BR CL CO EC FK GF GS GY PE PY SR UY VE",
}

// countryProvinces lists the only subdivisions octoDNS knows.
var countryProvinces = map[string]string{
	"US": "AK AL AR AS AZ CA CO CT DC DE FL GA GU HI IA ID IL IN KS KY LA MA MD ME MI MN MO MP MS MT NC ND NE NH NJ NM NV NY OH OK OR PA PR RI SC SD TN TX UM UT VA VI VT WA WI WV WY",
	"CA": "AB BC MB NB NL NS NT NU ON PE QC SK YT",
}

var (
	continentOf = map[string]string{}   // country → continent
	provinces   = map[string]struct{}{} // "US-CA" → present
)

func init() {
	for cont, list := range continentCountries {
		for _, c := range strings.Fields(list) {
			if prev, dup := continentOf[c]; dup {
				panic("geo: country " + c + " listed under " + prev + " and " + cont)
			}
			continentOf[c] = cont
		}
	}
	for country, list := range countryProvinces {
		for _, p := range strings.Fields(list) {
			provinces[country+"-"+p] = struct{}{}
		}
	}
}

// ContinentOf returns the continent octoDNS places an ISO 3166-1 alpha-2
// country on, and false for a country octoDNS does not know.
func ContinentOf(country string) (string, bool) {
	c, ok := continentOf[country]
	return c, ok
}

// ValidContinent reports whether c is an octoDNS continent code
// (AF, AN, AS, EU, NA, OC, SA).
func ValidContinent(c string) bool {
	_, ok := continentCountries[c]
	return ok
}

// ValidCountry reports whether octoDNS lists country under continent.
func ValidCountry(continent, country string) bool {
	c, ok := continentOf[country]
	return ok && c == continent
}

// ValidSubdivision reports whether octoDNS lists sub as a province of
// country under continent. Only US states and territories and Canadian
// provinces exist.
func ValidSubdivision(continent, country, sub string) bool {
	if !ValidCountry(continent, country) {
		return false
	}
	_, ok := provinces[country+"-"+sub]
	return ok
}

// Code is a parsed octoDNS geo code: "EU", "NA-US" or "NA-US-CA".
// Country and Subdivision are "" when the code does not narrow that far.
type Code struct {
	Continent   string
	Country     string
	Subdivision string
}

// ParseCode parses and validates an octoDNS geo code the way octoDNS's
// GeoCodes.validate does, with its messages:
//
//	invalid geo code "X"        more than three dash-separated parts
//	unknown continent code "X"  first part is not a continent
//	unknown country code "X"    second part is not a country of that continent
//	unknown province code "X"   third part is not a province of that country
//
// X is always the whole code. octoDNS prefixes each message with where it
// was found, "rule N " (note the trailing space) for dynamic rules; callers
// do the same, e.g. fmt.Errorf("rule %d %w", n, err). Codes are case
// sensitive, as in octoDNS. Where octoDNS itself would crash (a province for
// a country without provinces, e.g. "EU-DE-BE"), this reports an unknown
// province code.
func ParseCode(code string) (Code, error) {
	parts := strings.Split(code, "-")
	switch {
	case len(parts) > 3:
		return Code{}, codeError("invalid geo code", code)
	case !ValidContinent(parts[0]):
		return Code{}, codeError("unknown continent code", code)
	case len(parts) > 1 && !ValidCountry(parts[0], parts[1]):
		return Code{}, codeError("unknown country code", code)
	case len(parts) > 2 && !ValidSubdivision(parts[0], parts[1], parts[2]):
		return Code{}, codeError("unknown province code", code)
	}
	c := Code{Continent: parts[0]}
	if len(parts) > 1 {
		c.Country = parts[1]
	}
	if len(parts) > 2 {
		c.Subdivision = parts[2]
	}
	return c, nil
}

// codeError quotes with plain double quotes, as Python's f'"{code}"' does,
// rather than %q, which would escape.
func codeError(msg, code string) error {
	return errors.New(msg + ` "` + code + `"`)
}

// Matches reports whether l lies inside c: the continent always has to
// match, the country when c names one, the subdivision when c names one. An
// unknown location (Continent "") matches nothing.
func (c Code) Matches(l Location) bool {
	if c.Continent == "" || c.Continent != l.Continent {
		return false
	}
	if c.Country != "" && c.Country != l.Country {
		return false
	}
	return c.Subdivision == "" || c.Subdivision == l.Subdivision
}

// String returns the code in octoDNS form ("NA-US-CA").
func (c Code) String() string {
	s := c.Continent
	if c.Country != "" {
		s += "-" + c.Country
		if c.Subdivision != "" {
			s += "-" + c.Subdivision
		}
	}
	return s
}

// Packed geo keys let a rule test a location with a mask and a compare
// instead of up to three string comparisons: continent in bytes 0-1,
// country in bytes 2-3, subdivision in bytes 4-6, zero-padded. Codes and
// locations whose parts are longer (or hold a NUL) do not pack; callers
// then fall back to Code.Matches.

// packPart writes s into k at byte offset off, at most n bytes.
func packPart(k *uint64, s string, off, n int) bool {
	if len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return false
		}
		*k |= uint64(s[i]) << (8 * (off + i))
	}
	return true
}

// Key is l in packed form; false when l does not pack.
func (l *Location) Key() (uint64, bool) {
	var k uint64
	ok := packPart(&k, l.Continent, 0, 2) && packPart(&k, l.Country, 2, 2) && packPart(&k, l.Subdivision, 4, 3)
	return k, ok
}

// Key is c in packed form with the mask of the parts c names: a location
// with packed key lk lies inside c exactly when lk&mask == key. False when
// c does not pack or names no continent (it then matches nothing).
func (c Code) Key() (key, mask uint64, ok bool) {
	if c.Continent == "" || !packPart(&key, c.Continent, 0, 2) || !packPart(&key, c.Country, 2, 2) || !packPart(&key, c.Subdivision, 4, 3) {
		return 0, 0, false
	}
	mask = 0xffff
	if c.Country != "" {
		mask |= 0xffff << 16
	}
	if c.Subdivision != "" {
		mask |= 0xffffff << 32
	}
	return key, mask, true
}

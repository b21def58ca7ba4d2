package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/miekg/dns"
)

const masterHead = `$ORIGIN example.com.
$TTL 300
@ SOA ns1 hostmaster 1 7200 1800 1209600 60
@ NS ns1
ns1 A 192.0.2.53
`

// parseMasterFiles writes files into a new zones directory and parses
// its example.com.zone. It returns the records as text and the problems
// as "file:line: message", the file relative to the directory.
func parseMasterFiles(t *testing.T, files map[string]string) (rrs, problems []string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writeZone(t, dir, name, body)
	}
	records, soa, ps := parseMaster(filepath.Join(dir, "example.com.zone"), "example.com.", dir)
	if soa != nil {
		rrs = append(rrs, soa.String())
	}
	for _, r := range records {
		for _, rr := range r.RRs {
			rrs = append(rrs, rr.String())
		}
	}
	for _, p := range ps {
		problems = append(problems, strings.TrimPrefix(p.String(), dir+string(filepath.Separator)))
	}
	return rrs, problems
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got\n\t%s\nwant\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// TestMasterEmptyRdata: a record with its type and nothing after it is a
// problem at its line, whether a record follows it (the parser fails on
// it) or it ends the file (the parser takes it for a deletion, as in a
// dynamic update).
func TestMasterEmptyRdata(t *testing.T) {
	for _, typ := range []string{"CNAME", "A", "AAAA", "MX", "TXT", "NS", "SRV", "PTR"} {
		for _, tt := range []struct{ name, tail string }{
			{"followed", "after A 192.0.2.1\n"},
			{"last", ""},
			{"comment", "; the end\n"},
		} {
			t.Run(typ+"/"+tt.name, func(t *testing.T) {
				_, got := parseMasterFiles(t, map[string]string{
					"example.com.zone": masterHead + "www IN " + typ + "\n" + tt.tail,
				})
				sameLines(t, "problems", got, []string{fmt.Sprintf("example.com.zone:6: %s record has no data", typ)})
			})
		}
	}
}

// TestMasterEveryProblem: one pass reports every problem of a file, each
// at its line, syntax errors included: the parser starts again after
// each, with the $ORIGIN, $TTL and owner of the entries before.
func TestMasterEveryProblem(t *testing.T) {
	_, got := parseMasterFiles(t, map[string]string{"example.com.zone": masterHead + `www IN A 192.0.2.300
mail IN MX 10 mail
 IN CNAME
chaos CH TXT "hello"
sub SOA ns1 hostmaster 2 7200 1800 1209600 60
away.example.net. A 192.0.2.2
multi IN TXT ( "first"
  "second" ) ; fine
broken IN MX ( 10
  mail.example.com.
  extra )
cut MX \# 2 000a
$ORIGIN sub.example.com.
ok A 192.0.2.3
 AAAA 2001:db8::zz
ok2 TYPE99999 \# 0
tail IN CNAME
`})
	sameLines(t, "problems", got, []string{
		`example.com.zone:6: bad A A at "192.0.2.300"`,
		`example.com.zone:8: CNAME record has no data`,
		`example.com.zone:9: chaos.example.com.: only class IN is served`,
		`example.com.zone:10: sub.example.com.: SOA allowed only once, at the apex`,
		`example.com.zone:11: away.example.net. is outside zone example.com.`,
		`example.com.zone:16: garbage after rdata at "extra"`,
		`example.com.zone:17: MX record has an empty domain name (Mx)`,
		`example.com.zone:20: bad AAAA AAAA at "2001:db8::zz"`,
		`example.com.zone:21: unknown RR type`,
		`example.com.zone:22: CNAME record has no data`,
	})
}

// TestMasterLines: records and directives over several lines, comments
// and blank lines do not shift the lines of problems, and a problem in an
// included file names that file and its line.
func TestMasterLines(t *testing.T) {
	_, got := parseMasterFiles(t, map[string]string{
		"example.com.zone": `; a comment
$ORIGIN example.com.

@ IN SOA ns1 hostmaster (
        1       ; serial
        7200    ; refresh
        1800 1209600 60 )
@ NS ns1
txt TXT "a quoted string
  with a newline" "and ; no comment"

ns1 A 192.0.2.300
$INCLUDE hosts/a.inc
after IN A 192.0.2.1.1
$INCLUDE hosts/a.inc example.net.
`,
		"hosts/a.inc": `; hosts
a A 192.0.2.10
b (
  A
  192.0.2.11 192.0.2.12 )
$INCLUDE b.inc
c CNAME
`,
		"hosts/b.inc": "\n\nd A 192.0.2.333\n",
	})
	sameLines(t, "problems", got, []string{
		`example.com.zone:12: bad A A at "192.0.2.300"`,
		`hosts/a.inc:5: garbage after rdata at "192.0.2.12"`,
		`hosts/b.inc:3: bad A A at "192.0.2.333"`,
		`hosts/a.inc:7: CNAME record has no data`,
		`example.com.zone:14: bad A A at "192.0.2.1.1"`,
		`hosts/a.inc:2: a.example.net. is outside zone example.com.`,
	})
}

// TestMasterIncludeState: records after and inside a $INCLUDE parse as
// the dns package's own parser reads them when it follows the $INCLUDE
// itself: the default TTL, by $TTL or by the last TTL given, carries into
// the included file and not back; its $ORIGIN does not leak; a record
// whose line starts with a blank keeps the owner before the $INCLUDE.
func TestMasterIncludeState(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
	}{
		{"ttl directive", map[string]string{
			"example.com.zone": masterHead + "www 60 A 192.0.2.1\n$INCLUDE a.inc\n AAAA 2001:db8::1\nafter A 192.0.2.2\n",
			"a.inc":            "in1 A 192.0.2.10\nin2 120 A 192.0.2.11\nin3 A 192.0.2.12\n$TTL 30\n$ORIGIN inner.example.com.\nin4 A 192.0.2.13\n",
		}},
		{"ttl of the last record", map[string]string{
			"example.com.zone": "$ORIGIN example.com.\n@ 900 SOA ns1 hostmaster 1 7200 1800 1209600 60\n@ NS ns1\nns1 45 A 192.0.2.53\n" +
				"$INCLUDE a.inc\nafter A 192.0.2.2\n$INCLUDE a.inc sub\n  TXT \"blank owner\"\n",
			"a.inc": "in1 A 192.0.2.10\nin2 120 A 192.0.2.11\nin3 A 192.0.2.12\n",
		}},
		{"nested and generated", map[string]string{
			"example.com.zone": masterHead + "$GENERATE 1-3 host$ 77 A 192.0.2.$\n$INCLUDE dir/a.inc deep\n$ORIGIN x.example.com.\n$INCLUDE dir/a.inc\nlast ( A\n 192.0.2.9 )\n",
			"dir/a.inc":        "$TTL 20\nn1 A 192.0.2.10\n$INCLUDE b.inc\nn2 A 192.0.2.11\n",
			"dir/b.inc":        "b1 A 192.0.2.20\n@ TXT \"at origin\"\n",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ps := parseMasterFiles(t, tt.files)
			if len(ps) > 0 {
				t.Fatal(ps)
			}
			sameLines(t, "records", sorted(got), sorted(parseNatively(t, tt.files)))
		})
	}
}

// parseNatively parses example.com.zone of files with the dns package's
// parser following the $INCLUDEs.
func parseNatively(t *testing.T, files map[string]string) []string {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	zp := dns.NewZoneParser(strings.NewReader(files["example.com.zone"]), "example.com.", "example.com.zone")
	zp.SetIncludeAllowed(true)
	zp.SetIncludeFS(fsys)
	zp.SetDefaultTTL(3600)
	var rrs []string
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr.String())
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return rrs
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestMasterProblemLimit: the problems listed for a file are bounded; the
// rest are counted.
func TestMasterProblemLimit(t *testing.T) {
	text := masterHead + strings.Repeat("bad A 192.0.2.300\n", maxMasterProblems+50)
	_, got := parseMasterFiles(t, map[string]string{"example.com.zone": text})
	if len(got) != maxMasterProblems+1 {
		t.Fatalf("problems: got %d; want %d and a count of the rest", len(got), maxMasterProblems+1)
	}
	if want := "example.com.zone:6: bad A A at \"192.0.2.300\""; got[0] != want {
		t.Errorf("first problem: got %q; want %q", got[0], want)
	}
	if want := "example.com.zone: 50 more problems not listed; only the first 100 are"; got[len(got)-1] != want {
		t.Errorf("last problem: got %q; want %q", got[len(got)-1], want)
	}
}

// TestMasterIncludeConfined: no $INCLUDE reads a file outside the zones
// directory, nor one a $GENERATE writes (the parser would open that
// itself), and nothing of such a file shows in the problems.
func TestMasterIncludeConfined(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.inc")
	if err := os.WriteFile(secret, []byte("s3cr3t-token A 192.0.2.1\nhunter2 TXT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, line, want string }{
		{"parent", "$INCLUDE ../secret.inc", `$INCLUDE "../secret.inc" is outside the zones directory`},
		{"absolute", "$INCLUDE " + secret, `$INCLUDE "` + secret + `": no such file in the zones directory`},
		{"link", "$INCLUDE link.inc", `$INCLUDE "link.inc": symbolic link is absolute; only relative links that stay in the zones directory are followed`},
		{"generated", `$GENERATE 1-1 \$INCLUDE ` + secret, `$INCLUDE directive not allowed at "` + secret + `"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeZone(t, dir, "example.com.zone", masterHead+tt.line+"\n")
			if err := os.Symlink(secret, filepath.Join(dir, "link.inc")); err != nil {
				t.Fatal(err)
			}
			set, ps := Load(Options{Dir: dir, SOA: testSOA})
			want := filepath.Join(dir, "example.com.zone") + ":6: " + tt.want
			if len(ps) != 1 || ps[0].String() != want {
				t.Fatalf("problems: got %v; want %s", ps, want)
			}
			if strings.Contains(ps.Error(), "s3cr3t") || strings.Contains(ps.Error(), "hunter2") {
				t.Errorf("problems show the outside file: %v", ps)
			}
			if set.Zone("example.com.") != nil {
				t.Error("zone served")
			}
		})
	}
}

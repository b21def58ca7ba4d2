package zones

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
)

// fuzzMaxFile bounds a fuzzed zone file: several times the examples, and
// small enough that loading it takes milliseconds.
const fuzzMaxFile = 16 << 10

// fuzzLoadTimeout is how long loading one fuzzed file may take before the
// target calls it a hang.
const fuzzLoadTimeout = 10 * time.Second

// addFiles seeds f with the files matching each pattern.
func addFiles(f *testing.F, patterns ...string) {
	n := 0
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no seed files in %q", patterns)
	}
}

// FuzzLoadYAML loads arbitrary octoDNS YAML zone files the way the server
// does: each either loads into a zone that answers lookups, or is refused
// with problems that name the file; never a panic or a hang.
func FuzzLoadYAML(f *testing.F) {
	addFiles(f, "testdata/yaml/*.yaml", "../examples/zones/*.yaml", "../examples/dr/zones/*.yaml")
	f.Add([]byte("'': {type: NS, value: ns1.example.com.}\nwww: &w {type: A, value: 192.0.2.1}\nweb: *w\nalt: {<<: *w, ttl: 60}\n"))
	fuzzLoad(f, "example.com.yaml")
}

// FuzzLoadMaster is FuzzLoadYAML for RFC 1035 master files.
func FuzzLoadMaster(f *testing.F) {
	addFiles(f, "../examples/zones/*.zone")
	for _, text := range []string{parentZone, otherZone, childZone} {
		f.Add([]byte(strings.ReplaceAll(text, "$ORIGIN ", "; ")))
	}
	f.Add([]byte("$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n$GENERATE 1-4 host$ A 192.0.2.$\n$INCLUDE nowhere.zone\n"))
	fuzzLoad(f, "example.net.zone")
}

// fuzzLoad loads each input as the only file, named file, of a zones
// directory.
func fuzzLoad(f *testing.F, file string) {
	dir := f.TempDir()
	path := filepath.Join(dir, file)
	origin := strings.TrimSuffix(file, filepath.Ext(file)) + "."
	o := Options{Dir: dir, SOA: testSOA, DynamicTTL: 30, DegradedTTL: 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxFile {
			return
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		type loaded struct {
			set *Set
			ps  Problems
		}
		done := make(chan loaded, 1)
		go func() {
			set, ps := Load(o)
			done <- loaded{set, ps}
		}()
		var l loaded
		select {
		case l = <-done:
		case <-time.After(fuzzLoadTimeout):
			t.Fatalf("loading %d bytes did not finish in %v", len(data), fuzzLoadTimeout)
		}
		if len(l.ps) > 0 {
			for _, p := range l.ps {
				if !strings.HasPrefix(p.Path, dir+string(filepath.Separator)) || p.Msg == "" || p.Line < 0 {
					t.Errorf("problem %q does not name a file of the zones directory and what is wrong", p)
				}
			}
			if z := l.set.Zone(origin); z != nil {
				t.Errorf("zone with problems is served:\n%v", l.ps)
			}
			return
		}
		z := l.set.Zone(origin)
		if z == nil {
			t.Fatalf("no problems, and no zone %s", origin)
		}
		lookupAll(t, l.set, z)
	})
}

// lookupAll looks up every record of z, by its type and by ANY, as a
// client would, and checks that each answer is the zone's.
func lookupAll(t *testing.T, s *Set, z *Zone) {
	t.Helper()
	c := pools.NewClient(netip.MustParseAddr("192.0.2.1"), nil)
	for _, r := range z.Records {
		if len(r.RRs) == 0 {
			continue
		}
		name := r.RRs[0].Header().Name
		for _, qt := range []uint16{r.RRs[0].Header().Rrtype, dns.TypeANY, dns.TypeA} {
			res := s.LookupFor(name, qt, Query{Client: &c})
			if res.Kind == Refused || res.Zone != z {
				t.Errorf("%s %s: got %v from zone %v; want an answer from %s", name, dns.TypeToString[qt], res.Kind, res.Zone, z.Origin)
			}
		}
	}
}

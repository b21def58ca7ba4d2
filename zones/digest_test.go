package zones

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// loadSet loads files (name → content) from a new directory. A serial
// in serials (origin → serial) is what the node's state says it handed
// out for the zone's current content, as on a node whose clock or
// history differs.
func loadSet(t *testing.T, files map[string]string, serials map[string]uint32) *Set {
	t.Helper()
	dir, state := t.TempDir(), ""
	for name, body := range files {
		writeZone(t, dir, name, body)
	}
	if len(serials) > 0 {
		// Learn the content hashes first, then say they were given
		// these serials.
		probe := newTestLoader(t, dir, "")
		if ps := probe.Reload(); len(ps) > 0 {
			t.Fatal(ps)
		}
		m := map[string]serialEntry{}
		for origin, serial := range serials {
			z := probe.Current().Zone(origin)
			m[origin] = serialEntry{Serial: serial, Hash: hex.EncodeToString(z.hash[:])}
		}
		state = t.TempDir()
		data, _ := json.Marshal(m)
		writeZone(t, state, serialFile, string(data))
	}
	l := newTestLoader(t, dir, state)
	if ps := l.Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	return l.Current()
}

func TestSetDigest(t *testing.T) {
	base := map[string]string{"example.org.yaml": yamlZone, "other.test.zone": otherZone}
	with := func(name, body string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		if body == "" {
			delete(m, name)
		} else {
			m[name] = body
		}
		return m
	}
	want := loadSet(t, base, nil)
	if n := len(want.Zones()); n != 2 {
		t.Fatalf("setting up: got %d zones; want 2", n)
	}
	tests := []struct {
		name    string
		files   map[string]string
		serials map[string]uint32
		same    bool
	}{
		{"same files in another directory", base, nil, true},
		{"YAML serial from another clock", base, map[string]uint32{"example.org.": 42}, true},
		{"YAML layout and comments", with("example.org.yaml", "# deployed by hand\n"+strings.ReplaceAll(yamlZone, ": ", ":   ")), nil, true},
		{"one record changed", with("example.org.yaml", strings.Replace(yamlZone, "192.0.2.80", "192.0.2.81", 1)), nil, false},
		{"one TTL changed", with("other.test.zone", strings.Replace(otherZone, "$TTL 600", "$TTL 601", 1)), nil, false},
		{"master file serial changed", with("other.test.zone", strings.Replace(otherZone, " 7 7200", " 8 7200", 1)), nil, false},
		{"zone missing", with("other.test.zone", ""), nil, false},
		{"zone added", with("child.example.org.zone", childZone), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadSet(t, tt.files, tt.serials)
			if same := got.Digest() == want.Digest(); same != tt.same {
				t.Errorf("got digest %s, same as the base's (%s): %v; want %v", got.Digest().Short(), want.Digest().Short(), same, tt.same)
			}
		})
	}
}

// TestSetDigestOrder builds sets from the same zones added in every
// order: the digest is the same.
func TestSetDigestOrder(t *testing.T) {
	s := loadSet(t, map[string]string{"example.org.yaml": yamlZone, "other.test.zone": otherZone,
		"child.example.org.zone": childZone}, nil)
	zs := s.Zones()
	want := s.Digest()
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {2, 0, 1}} {
		got := NewSet(zs[order[0]], zs[order[1]], zs[order[2]]).Digest()
		if got != want {
			t.Errorf("order %v: got %s; want %s", order, got.Short(), want.Short())
		}
	}
	if got := NewSet(zs[0], zs[1]).Digest(); got == want {
		t.Errorf("two of three zones: got the digest of all three (%s)", got.Short())
	}
}

// TestZoneDigests lists each zone's serial and content hash: a YAML zone
// whose serial differs keeps its hash.
func TestZoneDigests(t *testing.T) {
	files := map[string]string{"example.org.yaml": yamlZone, "other.test.zone": otherZone}
	a := loadSet(t, files, nil).ZoneDigests()
	b := loadSet(t, files, map[string]uint32{"example.org.": 42}).ZoneDigests()
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("got %d and %d zones; want 2", len(a), len(b))
	}
	if got, want := b[0], (ZoneDigest{Origin: "example.org.", Serial: 42, Hash: a[0].Hash}); got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
	if got, want := a[1], (ZoneDigest{Origin: "other.test.", Serial: 7, Hash: b[1].Hash}); got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
	if got := a[0].Hash; len(got) != 2*zoneHashLen || a[0].Hash == a[1].Hash {
		t.Errorf("hashes %q and %q: want %d hex digits each, different", a[0].Hash, a[1].Hash, 2*zoneHashLen)
	}
	if a[0].Serial == 42 {
		t.Errorf("serial from the clock: got 42, the other node's")
	}
	if got := (Digest{0xab, 0xcd}).Short(); got != "abcd000000000000" {
		t.Errorf("Short: got %q; want %q", got, "abcd000000000000")
	}
}

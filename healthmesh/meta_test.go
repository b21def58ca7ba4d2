package healthmesh

import (
	"crypto/ed25519"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

const testDigest = "3f2a9c0d11b2e4f5"

func TestMetaDecode(t *testing.T) {
	zones := metaZones{version: 1, digest: testDigest, count: 12}
	tests := []struct {
		name    string
		in      string
		want    nodeMeta
		wantErr error
	}{
		{"older version: region", "eu-west", nodeMeta{region: "eu-west"}, nil},
		{"older version: leaving", "eu-west\nleaving", nodeMeta{region: "eu-west", leaving: true}, nil},
		{"empty", "", nodeMeta{}, nil},
		{"zones", "eu-west\nzones=1:" + testDigest + ":12", nodeMeta{region: "eu-west", zones: zones}, nil},
		{"zones, leaving", "eu-west\nzones=1:" + testDigest + ":12\nleaving", nodeMeta{region: "eu-west", leaving: true, zones: zones}, nil},
		{"empty zone set", "us\nzones=1:" + testDigest + ":0", nodeMeta{region: "us", zones: metaZones{1, testDigest, 0}}, nil},
		{"another digest version", "us\nzones=2:" + testDigest + ":3", nodeMeta{region: "us", zones: metaZones{2, testDigest, 3}}, nil},
		{"unknown fields and flags", "us\nload=7\nzones=1:" + testDigest + ":12\ndraining\nleaving",
			nodeMeta{region: "us", leaving: true, zones: zones}, nil},
		{"digest too short", "us\nzones=1:3f2a:12", nodeMeta{region: "us"}, errMetaZones},
		{"digest in upper case", "us\nzones=1:" + strings.ToUpper(testDigest) + ":12", nodeMeta{region: "us"}, errMetaZones},
		{"digest not hex", "us\nzones=1:3f2a9c0d11b2e4fz:12", nodeMeta{region: "us"}, errMetaZones},
		{"negative count", "us\nzones=1:" + testDigest + ":-1\nleaving", nodeMeta{region: "us", leaving: true}, errMetaZones},
		{"count beyond bound", "us\nzones=1:" + testDigest + ":99999999999", nodeMeta{region: "us"}, errMetaZones},
		{"version 0", "us\nzones=0:" + testDigest + ":1", nodeMeta{region: "us"}, errMetaZones},
		{"part missing", "us\nzones=1:" + testDigest, nodeMeta{region: "us"}, errMetaZones},
		{"part too many", "us\nzones=1:" + testDigest + ":1:2", nodeMeta{region: "us"}, errMetaZones},
		{"zones twice", "us\nzones=1:" + testDigest + ":1\nzones=1:0000000000000000:1", nodeMeta{region: "us"}, errMetaRepeated},
		{"too many lines", "us" + strings.Repeat("\nx=1", maxMetaLines) + "\nleaving", nodeMeta{leaving: true}, errMetaLines},
		{"too long", strings.Repeat("x", memberlist.MetaMaxSize+1), nodeMeta{}, errMetaTooLong},
		{"key", "us\nkey=" + base64.RawURLEncoding.EncodeToString(testPub), nodeMeta{region: "us", key: testPub}, nil},
		{"key too short", "us\nkey=AAAA", nodeMeta{region: "us"}, errMetaKey},
		{"key not base64", "us\nkey=" + strings.Repeat("*", 43), nodeMeta{region: "us"}, errMetaKey},
		{"key twice", "us\nkey=" + base64.RawURLEncoding.EncodeToString(testPub) + "\nkey=" +
			base64.RawURLEncoding.EncodeToString(testPub), nodeMeta{region: "us"}, errMetaKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeMeta([]byte(tt.in))
			if !reflect.DeepEqual(got, tt.want) || err != tt.wantErr {
				t.Errorf("got %+v, %v; want %+v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// testPub is a member's public key, for metadata.
var testPub = []byte(testKey("n2").Public().(ed25519.PublicKey))

func TestMetaEncode(t *testing.T) {
	zones := metaZones{version: 1, digest: testDigest, count: 12}
	long := strings.Repeat("r", 600)
	tests := []struct {
		name  string
		in    nodeMeta
		limit int
		want  string
	}{
		{"region", nodeMeta{region: "eu-west"}, 512, "eu-west"},
		{"leaving, as older versions read it", nodeMeta{region: "eu-west", leaving: true}, 512, "eu-west\nleaving"},
		{"zones", nodeMeta{region: "eu-west", zones: zones}, 512, "eu-west\nzones=1:" + testDigest + ":12"},
		{"zones, leaving last", nodeMeta{region: "eu", zones: zones, leaving: true}, 512, "eu\nzones=1:" + testDigest + ":12\nleaving"},
		{"long region cut, the rest kept", nodeMeta{region: long, zones: zones, leaving: true}, 512,
			long[:512-len("\nzones=1:"+testDigest+":12\nleaving")] + "\nzones=1:" + testDigest + ":12\nleaving"},
		{"region's first line only", nodeMeta{region: "eu\nzones=9:" + testDigest + ":1"}, 512, "eu"},
		{"no room at all but the leave", nodeMeta{region: "eu", zones: zones, leaving: true}, 10, "\nleaving"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(encodeMeta(tt.in, tt.limit))
			if got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
			if len(got) > tt.limit {
				t.Errorf("got %d bytes; want at most %d", len(got), tt.limit)
			}
		})
	}
}

// TestNodeMeta: what a node announces follows its zone set and its
// leave, and a peer's metadata sets the member's region, zone set and
// state; malformed metadata is counted and what can be read is kept.
func TestNodeMeta(t *testing.T) {
	n, m := newDelegate(t)
	key := "\nkey=" + base64.RawURLEncoding.EncodeToString(n.key.Public().(ed25519.PublicKey))
	if got := string(m.NodeMeta(memberlist.MetaMaxSize)); got != "eu"+key {
		t.Errorf("before any zones: got %q; want %q", got, "eu"+key)
	}
	n.SetZones(ZoneSet{Version: 1, Digest: testDigest, Zones: []ZoneSerial{{Origin: "example.com.", Serial: 7, Hash: "abcdef012345"}}})
	if got, want := string(m.NodeMeta(memberlist.MetaMaxSize)), "eu"+key+"\nzones=1:"+testDigest+":1"; got != want {
		t.Errorf("with zones: got %q; want %q", got, want)
	}
	m.leaving.Store(true)
	if got, want := string(m.NodeMeta(memberlist.MetaMaxSize)), "eu"+key+"\nzones=1:"+testDigest+":1\nleaving"; got != want {
		t.Errorf("leaving: got %q; want %q", got, want)
	}

	m.NotifyJoin(&memberlist.Node{Name: "n2", Meta: []byte("us\nzones=1:" + testDigest + ":4")})
	m.NotifyJoin(&memberlist.Node{Name: "n3", Meta: []byte("ap\nzones=1:nothex:4")})
	m.NotifyJoin(&memberlist.Node{Name: "n4", Meta: []byte("us")})
	m.NotifyLeave(&memberlist.Node{Name: "n4", Meta: []byte("us\nzones=1:" + testDigest + ":4\nleaving")})
	m.NotifyLeave(&memberlist.Node{Name: "n5", Meta: []byte("us")})
	byName := map[string]Member{}
	for _, mem := range m.members() {
		byName[mem.Name] = mem
	}
	tests := []struct {
		name                  string
		region, state, digest string
		count                 int
		metaErr               bool
	}{
		{"n2", "us", "alive", testDigest, 4, false},
		{"n3", "ap", "alive", "", 0, true},
		{"n4", "us", "left", testDigest, 4, false},
		{"n5", "us", "dead", "", 0, false},
	}
	for _, tt := range tests {
		mem := byName[tt.name]
		if mem.Region != tt.region || mem.State != tt.state || mem.ZoneSet.Digest != tt.digest || mem.ZoneSet.Count != tt.count || (mem.MetaError != "") != tt.metaErr {
			t.Errorf("%s: got %+v; want region %s, state %s, digest %q, %d zones, meta error %v",
				tt.name, mem, tt.region, tt.state, tt.digest, tt.count, tt.metaErr)
		}
	}
	if got := m.badMsgs.Load(); got != 1 {
		t.Errorf("malformed count: got %d; want 1 (n3)", got)
	}
}

// FuzzMeshMeta hands a node arbitrary member metadata. It never panics;
// what decodes re-encodes, within memberlist's limit, to the same
// metadata; malformed metadata is counted.
func FuzzMeshMeta(f *testing.F) {
	for _, s := range []string{"eu-west", "eu-west\nleaving", "eu\nzones=1:" + testDigest + ":12",
		"eu\nzones=1:" + testDigest + ":12\nleaving", "eu\nzones=2:" + testDigest + ":0\nload=3\nflag",
		"eu\nzones=1:xyz:1", "eu\nzones=1:" + testDigest + ":1\nzones=1:" + testDigest + ":1", "", "\n\n\n",
		strings.Repeat("\n", 40), strings.Repeat("x", 600)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := decodeMeta(b)
		if len(md.region) > len(b) || len(md.zones.digest) > digestHexLen || md.zones.count > maxZoneCount || md.zones.count < 0 {
			t.Fatalf("%q: decoded beyond bounds: %+v", b, md)
		}
		if err == nil {
			once := encodeMeta(md, memberlist.MetaMaxSize)
			if len(once) > memberlist.MetaMaxSize {
				t.Fatalf("%q: re-encodes to %d bytes", b, len(once))
			}
			again, err := decodeMeta(once)
			if err != nil || !reflect.DeepEqual(again, md) {
				t.Fatalf("%q: decoded as %+v, re-encoded as %q, which decodes as %+v, %v", b, md, once, again, err)
			}
		}
		_, m := newDelegate(t)
		m.NotifyJoin(&memberlist.Node{Name: "peer", Meta: b})
		m.NotifyLeave(&memberlist.Node{Name: "peer", Meta: b})
		if got, want := m.badMsgs.Load(), map[bool]int64{true: 0, false: 2}[err == nil]; got != want {
			t.Fatalf("%q: counted %d times as malformed; want %d", b, got, want)
		}
	})
}

package healthmesh

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/hashicorp/memberlist"
)

// Member metadata (memberlist's NodeMeta, at most memberlist.MetaMaxSize
// bytes, carried with the member's name) is lines of text:
//
//	eu-west                       the region: always the first line
//	zones=1:3f2a9c0d11b2e4f5:12   fields, key=value
//	leaving                       flags, bare words; always last
//
// Unknown keys and flags are ignored, so that a newer node can say more
// without older ones taking its metadata for garbage. Older versions sent
// the region alone, ending in "\nleaving" while the node left: that still
// decodes, and a leaving node still ends its metadata so, for them.
//
// The zones field is the version of the zone set digest, the digest's
// first bytes in hex and the number of zones. Digests are compared only
// with digests of the same version: a peer computing another one is
// shown as unknown, never as drift.

// leavingMeta ends the metadata of a node that is leaving the mesh.
const leavingMeta = "\nleaving"

// Bounds on what a peer's metadata may hold.
const (
	maxMetaLines  = 16      // region, fields and flags
	maxZoneCount  = 1 << 24 // far beyond any zone set a node loads
	digestHexLen  = 16      // zones.DigestLen bytes, in hex
	zonesFieldKey = "zones"
	keyFieldKey   = "key"
)

var (
	errMetaTooLong  = errors.New("meta: longer than memberlist allows")
	errMetaLines    = errors.New("meta: too many lines")
	errMetaZones    = errors.New("meta: malformed zones field")
	errMetaRepeated = errors.New("meta: zones field given twice")
	errMetaKey      = errors.New("meta: malformed key field")
)

// nodeMeta is a member's metadata, decoded.
type nodeMeta struct {
	region  string
	leaving bool
	zones   metaZones
	key     ed25519.PublicKey // verifies the member's vector pages (vector.go); nil when not sent
}

// metaZones is a member's zone set as its metadata announces it. The
// zero value says nothing: an older version, or a node that has not
// loaded its zones yet.
type metaZones struct {
	version int
	digest  string // digestHexLen lower-case hex digits
	count   int
}

// known reports whether z holds a digest of the given version.
func (z metaZones) known(version int) bool { return z.digest != "" && z.version == version }

// encodeMeta returns m's metadata in at most limit bytes. What does not
// fit is cut from the region, whose first line alone is sent.
func encodeMeta(m nodeMeta, limit int) []byte {
	var tail []byte
	if len(m.key) == ed25519.PublicKeySize {
		tail = append(tail, "\n"+keyFieldKey+"="...)
		tail = base64.RawURLEncoding.AppendEncode(tail, m.key)
	}
	if m.zones.digest != "" {
		tail = append(tail, '\n')
		tail = append(tail, zonesFieldKey+"="...)
		tail = strconv.AppendInt(tail, int64(m.zones.version), 10)
		tail = append(tail, ':')
		tail = append(tail, m.zones.digest...)
		tail = append(tail, ':')
		tail = strconv.AppendInt(tail, int64(m.zones.count), 10)
	}
	if m.leaving {
		tail = append(tail, leavingMeta...)
	}
	region, _, _ := strings.Cut(m.region, "\n")
	if room := limit - len(tail); len(region) > room {
		if room < 0 {
			// Cannot happen with memberlist's limit; keep the leave.
			if m.leaving && limit >= len(leavingMeta) {
				return []byte(leavingMeta)
			}
			return nil
		}
		region = region[:room]
	}
	return append([]byte(region), tail...)
}

// decodeMeta reads a peer's metadata. It never fails whole: the region
// and the leaving flag are read from whatever arrived, and a field that
// is malformed is dropped and reported in err.
func decodeMeta(b []byte) (m nodeMeta, err error) {
	if len(b) > memberlist.MetaMaxSize {
		return nodeMeta{leaving: bytes.HasSuffix(b, []byte(leavingMeta))}, errMetaTooLong
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > maxMetaLines {
		return nodeMeta{leaving: bytes.HasSuffix(b, []byte(leavingMeta))}, errMetaLines
	}
	m.region = lines[0]
	seen := false
	for _, line := range lines[1:] {
		key, val, field := strings.Cut(line, "=")
		switch {
		case !field:
			if line == "leaving" {
				m.leaving = true
			}
		case key == keyFieldKey:
			if k, e := base64.RawURLEncoding.DecodeString(val); e == nil && len(k) == ed25519.PublicKeySize && m.key == nil {
				m.key = k
			} else {
				m.key, err = nil, errMetaKey
			}
		case key != zonesFieldKey:
		case seen:
			m.zones, err = metaZones{}, errMetaRepeated
		default:
			seen = true
			if z, ok := parseMetaZones(val); ok {
				m.zones = z
			} else {
				err = errMetaZones
			}
		}
	}
	return m, err
}

// parseMetaZones reads "1:3f2a9c0d11b2e4f5:12". A version it does not
// know is kept, with its digest, so that it is shown but never compared.
func parseMetaZones(s string) (metaZones, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return metaZones{}, false
	}
	version, err1 := strconv.Atoi(parts[0])
	count, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || version < 1 || count < 0 || count > maxZoneCount || !isDigest(parts[1]) {
		return metaZones{}, false
	}
	return metaZones{version: version, digest: parts[1], count: count}, true
}

// isDigest reports whether s is digestHexLen lower-case hex digits.
func isDigest(s string) bool {
	if len(s) != digestHexLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

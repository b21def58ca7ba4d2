package zones

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
)

// Digest fingerprints the zones a set serves, for comparing nodes: two
// nodes loaded from the same files have the same digest, whatever their
// directories, load order or clocks.
type Digest [32]byte

// DigestVersion numbers the definition of Digest. Nodes compare only
// digests of the same version, so a change to what the digest covers must
// come with a new version, lest a fleet in the middle of an upgrade see
// every node drift.
const DigestVersion = 1

// DigestLen is the number of bytes of a digest that Short keeps: enough
// that different zone sets do not collide by accident.
const DigestLen = 8

// Short returns the first DigestLen bytes of d in lower-case hex, the
// form nodes publish and people read.
func (d Digest) Short() string { return hex.EncodeToString(d[:DigestLen]) }

// ZoneDigest is one zone of a set, for display.
type ZoneDigest struct {
	Origin string
	Serial uint32
	// Hash is the start of the zone's content hash (everything it
	// answers, the SOA serial aside), in hex: the same content gives
	// the same hash on every node, even where YAML serials differ.
	Hash string
}

// zoneHashLen is the number of bytes of a zone's content hash shown.
const zoneHashLen = 6

// Digest returns the canonical digest of s: every zone's origin and
// content hash, in origin order, and the serial of zones whose files
// carry one (master files). The serials the loader hands out to YAML
// zones are left out: they come from each node's clock and state, so
// they differ across nodes that serve the same content, and the content
// hash already changes with the content. It costs a hash of a few dozen
// bytes per zone.
func (s *Set) Digest() Digest {
	h := sha256.New()
	var b [4]byte
	field := func(p []byte) {
		binary.BigEndian.PutUint32(b[:], uint32(len(p)))
		h.Write(b[:])
		h.Write(p)
	}
	h.Write([]byte("meridian zone set " + strconv.Itoa(DigestVersion) + "\n"))
	for _, z := range s.Zones() {
		field([]byte(z.Origin))
		field(z.hash[:])
		var serial [4]byte
		if !z.ownSerial {
			binary.BigEndian.PutUint32(serial[:], z.SOA.Serial)
		}
		field(serial[:])
	}
	var d Digest
	h.Sum(d[:0])
	return d
}

// ZoneDigests lists the zones of s in origin order with their serials
// and content hashes.
func (s *Set) ZoneDigests() []ZoneDigest {
	zs := s.Zones()
	out := make([]ZoneDigest, len(zs))
	for i, z := range zs {
		out[i] = ZoneDigest{Origin: z.Origin, Serial: z.SOA.Serial, Hash: hex.EncodeToString(z.hash[:zoneHashLen])}
	}
	return out
}

package healthmesh

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
)

// A node speaks for itself only: its observations travel as its state
// vector, one bit pair per endpoint of its endpoint list (probed or not,
// up or down), cut in pages and signed with a key that lives as long as
// the process. The public key is in the node's member metadata, which
// memberlist binds to the member's name, so a page verifies only with
// the key of the member it names: a member can neither cast another's
// vote nor replay its own old news over a restart (a new process has a
// new key, and its pages replace whatever the old key signed). Versions
// count the vector's changes within one key; no clock is involved.
//
// Endpoint lists are sorted endpoint IDs, named by a hash of their
// content. Nodes serving the same zones have the same list, so a vector
// is two bitmaps; a receiver with another list maps the sender's bits by
// ID once it has the sender's list, which travels in its own unsigned
// pages (a list is checked against its hash, which the signed vector
// carries).

const (
	msgVector byte = 'V' // a signed page of a node's state vector
	msgList   byte = 'L' // a page of an endpoint list

	wireFormat = 1 // the format byte of vector and list pages

	pageSize     = 2048    // endpoints per vector page: two 256-byte bitmaps
	listPageIDs  = 96      // endpoint IDs per list page
	maxEndpoints = 1 << 16 // endpoints a list may hold
	maxNameLen   = 128     // node names in pages
	maxRegionLen = 64
	maxExtLen    = 256 // room for later per-endpoint figures (RTT bucket, load)
	idLen        = 8   // an endpoint ID is 8 bytes, 16 hex digits
)

var errBadPage = errors.New("healthmesh: malformed page")

// listHash names an endpoint list.
type listHash [8]byte

func (h listHash) String() string { return hex.EncodeToString(h[:]) }

// epList is an endpoint list: sorted, distinct IDs.
type epList struct {
	hash listHash
	ids  []string
}

// newList makes the list of ids (sorted, without duplicates).
func newList(ids []string) *epList {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return &epList{hash: hashIDs(ids), ids: ids}
}

func hashIDs(ids []string) listHash {
	h := sha256.New()
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(len(ids)))
	h.Write(b[:])
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	var out listHash
	copy(out[:], h.Sum(nil))
	return out
}

// vectorPage is one page of a node's state vector: entries start to
// start+count of the list named by list, of n.
type vectorPage struct {
	observer, region string
	version          uint64
	list             listHash
	n, start         uint32
	count            uint16
	up, known        []byte // count bits each, entry i at bit i%8 of byte i/8
	ext              []byte // later per-endpoint figures; carried, not read
	signed           []byte // the bytes the signature covers
	sig              []byte
}

func (p *vectorPage) bit(bits []byte, i int) bool { return bits[i/8]&(1<<(i%8)) != 0 }

// encodeVector writes a page and signs it with key.
func encodeVector(p *vectorPage, key ed25519.PrivateKey) []byte {
	b := make([]byte, 0, 64+len(p.observer)+len(p.region)+2*len(p.up)+len(p.ext)+ed25519.SignatureSize)
	b = append(b, msgVector, wireFormat)
	b = appendStr8(b, p.observer)
	b = appendStr8(b, p.region)
	b = binary.BigEndian.AppendUint64(b, p.version)
	b = append(b, p.list[:]...)
	b = binary.BigEndian.AppendUint32(b, p.n)
	b = binary.BigEndian.AppendUint32(b, p.start)
	b = binary.BigEndian.AppendUint16(b, p.count)
	b = appendStates(b, p)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.ext)))
	b = append(b, p.ext...)
	return append(b, ed25519.Sign(key, b)...)
}

// decodeVector parses a page without verifying its signature (verify
// does, with the observer's key). Every length is bounded.
func decodeVector(b []byte) (*vectorPage, error) {
	r := reader{b: b}
	if r.byte() != msgVector || r.byte() != wireFormat {
		return nil, errBadPage
	}
	p := &vectorPage{observer: r.str8(maxNameLen), region: r.str8(maxRegionLen), version: r.u64()}
	copy(p.list[:], r.bytes(len(p.list)))
	p.n, p.start, p.count = r.u32(), r.u32(), r.u16()
	nb := (int(p.count) + 7) / 8
	p.up, p.known = r.states(int(p.count))
	p.ext = r.bytes(int(r.u16()))
	end := r.off
	p.sig = r.bytes(ed25519.SignatureSize)
	switch {
	case r.bad || r.off != len(b) || p.observer == "" || p.version == 0 || len(p.ext) > maxExtLen:
		return nil, errBadPage
	case p.n > maxEndpoints || p.start%pageSize != 0 || int(p.count) > pageSize ||
		p.start+uint32(p.count) > p.n || (p.count < pageSize && p.start+uint32(p.count) != p.n):
		return nil, errBadPage
	}
	for i := range p.up {
		if p.up[i]&^p.known[i] != 0 {
			return nil, errBadPage // up without an opinion
		}
	}
	if r := int(p.count) % 8; r != 0 && (p.known[nb-1]>>r) != 0 {
		return nil, errBadPage // bits past the end
	}
	p.signed = b[:end]
	return p, nil
}

// A page's entries are written in whichever of two forms is shorter:
// two bitmaps (up, then known), or the known entries alone, each as a
// uvarint of its distance from the previous one and its state. A node
// that probes a share of the endpoints (mesh.probers_per_region) has
// few known entries, and the shorter its pages, the more of them fit in
// a gossip packet: what decides how fast a mass failure spreads.
const (
	formBitmaps byte = 0
	formEntries byte = 1
)

func appendStates(b []byte, p *vectorPage) []byte {
	known := 0
	size := 0 // of the entries form, after its count
	prev := -1
	for i := range int(p.count) {
		if p.bit(p.known, i) {
			known++
			size += uvarintLen(uint64(i-prev-1)<<1 | 1)
			prev = i
		}
	}
	if 1+uvarintLen(uint64(known))+size >= 1+len(p.up)+len(p.known) {
		b = append(b, formBitmaps)
		b = append(b, p.up...)
		return append(b, p.known...)
	}
	b = append(b, formEntries)
	b = binary.AppendUvarint(b, uint64(known))
	prev = -1
	for i := range int(p.count) {
		if !p.bit(p.known, i) {
			continue
		}
		e := uint64(i-prev-1) << 1
		if p.bit(p.up, i) {
			e |= 1
		}
		b = binary.AppendUvarint(b, e)
		prev = i
	}
	return b
}

func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// states reads the entries of a page of count, in either form, as the
// up and known bitmaps.
func (r *reader) states(count int) (up, known []byte) {
	nb := (count + 7) / 8
	switch r.byte() {
	case formBitmaps:
		return r.bytes(nb), r.bytes(nb)
	case formEntries:
	default:
		r.bad = true
		return make([]byte, nb), make([]byte, nb)
	}
	up, known = make([]byte, nb), make([]byte, nb)
	k := r.uvarint()
	if k > uint64(count) {
		r.bad = true
		return up, known
	}
	i := -1
	for range k {
		e := r.uvarint()
		gap := e >> 1
		if r.bad || gap >= uint64(count-i-1) {
			r.bad = true
			return up, known
		}
		i += int(gap) + 1
		known[i/8] |= 1 << (i % 8)
		if e&1 != 0 {
			up[i/8] |= 1 << (i % 8)
		}
	}
	return up, known
}

// verify reports whether key signed p.
func (p *vectorPage) verify(key ed25519.PublicKey) bool {
	return len(key) == ed25519.PublicKeySize && ed25519.Verify(key, p.signed, p.sig)
}

// listPage is a page of an endpoint list: IDs start to start+len(ids).
type listPage struct {
	list     listHash
	n, start uint32
	ids      []string
}

func encodeList(p *listPage) []byte {
	b := make([]byte, 0, 24+idLen*len(p.ids))
	b = append(b, msgList, wireFormat)
	b = append(b, p.list[:]...)
	b = binary.BigEndian.AppendUint32(b, p.n)
	b = binary.BigEndian.AppendUint32(b, p.start)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.ids)))
	for _, id := range p.ids {
		raw, _ := hex.DecodeString(id) // IDs are checked to be 16 hex digits before they are listed
		b = append(b, raw...)
	}
	return b
}

func decodeList(b []byte) (*listPage, error) {
	r := reader{b: b}
	if r.byte() != msgList || r.byte() != wireFormat {
		return nil, errBadPage
	}
	p := &listPage{}
	copy(p.list[:], r.bytes(len(p.list)))
	p.n, p.start = r.u32(), r.u32()
	count := int(r.u16())
	if r.bad || count > listPageIDs || p.n > maxEndpoints || p.start%listPageIDs != 0 ||
		p.start+uint32(count) > p.n || (count < listPageIDs && p.start+uint32(count) != p.n) {
		return nil, errBadPage
	}
	for range count {
		p.ids = append(p.ids, hex.EncodeToString(r.bytes(idLen)))
	}
	if r.bad || r.off != len(b) {
		return nil, errBadPage
	}
	return p, nil
}

// listPages cuts l into pages.
func listPages(l *epList) [][]byte {
	var out [][]byte
	for start := 0; start < len(l.ids) || start == 0; start += listPageIDs {
		end := min(start+listPageIDs, len(l.ids))
		out = append(out, encodeList(&listPage{list: l.hash, n: uint32(len(l.ids)), start: uint32(start), ids: l.ids[start:end]}))
		if end == len(l.ids) {
			break
		}
	}
	return out
}

// validID reports whether id can be listed: 16 lower-case hex digits.
func validID(id string) bool {
	if len(id) != 2*idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func appendStr8(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// reader reads a page; past the end or over a bound it marks itself bad
// and returns zero values.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) bytes(n int) []byte {
	if r.bad || n < 0 || r.off+n > len(r.b) {
		r.bad = true
		return make([]byte, max(n, 0))
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *reader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	x, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.off += n
	return x
}

func (r *reader) byte() byte  { return r.bytes(1)[0] }
func (r *reader) u16() uint16 { return binary.BigEndian.Uint16(r.bytes(2)) }
func (r *reader) u32() uint32 { return binary.BigEndian.Uint32(r.bytes(4)) }
func (r *reader) u64() uint64 { return binary.BigEndian.Uint64(r.bytes(8)) }

func (r *reader) str8(limit int) string {
	n := int(r.byte())
	if n > limit {
		r.bad = true
		return ""
	}
	return string(r.bytes(n))
}

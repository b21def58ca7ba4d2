package healthmesh

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
)

// testKey is a fixed key per name, so that seeds and tests are stable.
func testKey(name string) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, name)
	return ed25519.NewKeyFromSeed(seed)
}

func testIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)
	}
	return newList(ids).ids
}

// testPage is page start of a vector over list l in which the endpoints
// down are down and every other one up.
func testPage(observer, region string, version uint64, l *epList, start int, down map[int]bool) []byte {
	count := min(pageSize, len(l.ids)-start)
	p := &vectorPage{observer: observer, region: region, version: version, list: l.hash, n: uint32(len(l.ids)),
		start: uint32(start), count: uint16(count)}
	p.up, p.known = make([]byte, (count+7)/8), make([]byte, (count+7)/8)
	for k := range count {
		p.known[k/8] |= 1 << (k % 8)
		if !down[start+k] {
			p.up[k/8] |= 1 << (k % 8)
		}
	}
	return encodeVector(p, testKey(observer))
}

// TestVectorPage: a page decodes to what was encoded, verifies with its
// signer's key only, fits a gossip message at its largest, and any change
// to its bytes is refused or fails the signature.
func TestVectorPage(t *testing.T) {
	l := newList(testIDs(3000))
	raw := testPage("node-a", "eu", 7, l, 0, map[int]bool{5: true})
	if len(raw) > maxMsg {
		t.Errorf("a full page of %d endpoints is %d bytes; want at most %d", pageSize, len(raw), maxMsg)
	}
	big := testPage(string(bytes.Repeat([]byte("n"), maxNameLen)), string(bytes.Repeat([]byte("r"), maxRegionLen)), 1, l, 0, nil)
	if len(big) > maxMsg {
		t.Errorf("the largest page is %d bytes; want at most %d", len(big), maxMsg)
	}
	p, err := decodeVector(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.observer != "node-a" || p.region != "eu" || p.version != 7 || p.list != l.hash || p.n != 3000 || p.count != pageSize {
		t.Errorf("decoded %+v", p)
	}
	if p.bit(p.up, 5) || !p.bit(p.known, 5) || !p.bit(p.up, 6) {
		t.Errorf("bits: endpoint 5 should be known down, 6 up")
	}
	if !p.verify(testKey("node-a").Public().(ed25519.PublicKey)) {
		t.Error("does not verify with its signer's key")
	}
	if p.verify(testKey("node-b").Public().(ed25519.PublicKey)) {
		t.Error("verifies with another member's key")
	}
	last, err := decodeVector(testPage("node-a", "eu", 8, l, pageSize, nil))
	if err != nil || last.count != 3000-pageSize {
		t.Errorf("last page: %v, count %d", err, last.count)
	}
	// Every single-byte change is refused or breaks the signature.
	for i := range raw {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		if q, err := decodeVector(b); err == nil && q.verify(testKey("node-a").Public().(ed25519.PublicKey)) {
			t.Fatalf("byte %d changed: still decodes and verifies", i)
		}
	}
	for _, cut := range []int{0, 1, 10, len(raw) - 1} {
		if _, err := decodeVector(raw[:cut]); err == nil {
			t.Errorf("cut to %d bytes: decodes", cut)
		}
	}
}

// sparsePage is page 0 of a vector over l in which the node knows only
// the endpoints in known (true: up).
func sparsePage(l *epList, known map[int]bool) []byte {
	count := min(pageSize, len(l.ids))
	p := &vectorPage{observer: "node-a", region: "eu", version: 1, list: l.hash, n: uint32(len(l.ids)), count: uint16(count)}
	p.up, p.known = make([]byte, (count+7)/8), make([]byte, (count+7)/8)
	for i, up := range known {
		p.known[i/8] |= 1 << (i % 8)
		if up {
			p.up[i/8] |= 1 << (i % 8)
		}
	}
	return encodeVector(p, testKey("node-a"))
}

// TestVectorPageForms: a node that knows a share of the endpoints (one
// prober per region among many nodes) sends its entries alone, in far
// fewer bytes than two bitmaps, and they decode to the same states; a
// node that knows most sends the bitmaps.
func TestVectorPageForms(t *testing.T) {
	l := newList(testIDs(1000))
	known := map[int]bool{}
	for i := 3; i < 1000; i += 17 { // about what each of 17 probers of a region knows
		known[i] = i%2 == 0
	}
	known[999] = true
	sparse := sparsePage(l, known)
	dense := testPage("node-a", "eu", 1, l, 0, map[int]bool{4: true})
	if len(sparse) > len(dense)/2 {
		t.Errorf("a page knowing %d of 1000 endpoints is %d bytes; one knowing all is %d; want at most half", len(known), len(sparse), len(dense))
	}
	for _, raw := range [][]byte{sparse, dense} {
		p, err := decodeVector(raw)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			wantKnown, wantUp := true, i != 4
			if len(raw) == len(sparse) {
				wantUp, wantKnown = known[i]
			}
			if p.bit(p.known, i) != wantKnown || p.bit(p.up, i) != wantUp {
				t.Fatalf("%d-byte page: endpoint %d known %v up %v; want %v, %v", len(raw), i, p.bit(p.known, i), p.bit(p.up, i), wantKnown, wantUp)
			}
		}
	}
	if raw := sparsePage(l, nil); len(raw) > 150 {
		t.Errorf("a page knowing nothing is %d bytes", len(raw))
	}
	// Entries past the page's end, or more than it holds, are refused.
	for _, bad := range [][]byte{{formEntries, 1, 0xd0, 0x0f}, {formEntries, 2, 0xce, 0x0f, 0}, {formEntries, 0xe9, 0x07}, {7}} {
		r := reader{b: bad}
		if r.states(1000); !r.bad {
			t.Errorf("entries %v: accepted", bad)
		}
	}
}

// TestListPages: a list travels in pages that rebuild it.
func TestListPages(t *testing.T) {
	l := newList(testIDs(250))
	var ids []string
	for _, raw := range listPages(l) {
		if len(raw) > maxMsg {
			t.Errorf("list page of %d bytes; want at most %d", len(raw), maxMsg)
		}
		p, err := decodeList(raw)
		if err != nil {
			t.Fatal(err)
		}
		if p.list != l.hash || p.n != 250 {
			t.Errorf("page %+v", p)
		}
		ids = append(ids, p.ids...)
	}
	if hashIDs(ids) != l.hash {
		t.Error("the pages do not rebuild the list")
	}
	empty := listPages(newList(nil))
	if len(empty) != 1 {
		t.Fatalf("empty list: %d pages", len(empty))
	}
	if _, err := decodeList(empty[0]); err != nil {
		t.Errorf("empty list page: %v", err)
	}
}

// FuzzVectorPage: decoding never panics, stays within its bounds, and
// what decodes is exactly the signed bytes and the signature.
func FuzzVectorPage(f *testing.F) {
	l := newList(testIDs(100))
	f.Add(testPage("n2", "us", 3, l, 0, map[int]bool{1: true}))
	f.Add(sparsePage(l, map[int]bool{3: true, 50: false, 99: true}))
	f.Add(listPages(l)[0])
	f.Add([]byte("V\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeVector(b)
		if err != nil {
			return
		}
		if len(p.observer) == 0 || len(p.observer) > maxNameLen || p.n > maxEndpoints || int(p.count) > pageSize {
			t.Fatalf("%q: decodes out of bounds: %+v", b, p)
		}
		if !bytes.Equal(append(bytes.Clone(p.signed), p.sig...), b) {
			t.Fatalf("%q: signed bytes and signature are not the message", b)
		}
	})
}

// FuzzListPage: decoding never panics, and what decodes encodes back to
// the same bytes.
func FuzzListPage(f *testing.F) {
	for _, raw := range listPages(newList(testIDs(200))) {
		f.Add(raw)
	}
	f.Add([]byte("L\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeList(b)
		if err != nil {
			return
		}
		if again := encodeList(p); !bytes.Equal(again, b) {
			t.Fatalf("%q: encodes back as %q", b, again)
		}
	})
}

// FuzzState: a push/pull state splits into items or fails whole.
func FuzzState(f *testing.F) {
	f.Add(encodeItems([][]byte{[]byte("a"), nil, []byte("ccc")}))
	f.Add([]byte("S\x00\x00\x00\x05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := decodeItems(b)
		if err != nil {
			return
		}
		if again := encodeItems(items); !bytes.Equal(again, b) {
			t.Fatalf("%q: encodes back as %q", b, again)
		}
	})
}

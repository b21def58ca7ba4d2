package geo

import (
	"net/netip"
	"testing"

	"github.com/meridiandns/meridian/internal/geotest"
)

// TestCacheWays: networks that hash to the same set are all kept, up to
// the set's ways; the next one replaces one of them and is kept itself.
func TestCacheWays(t *testing.T) {
	path := geotest.WriteT(t, []geotest.Entry{{Network: "10.0.0.0/8", Country: "US", Continent: "NA"}})
	r, err := Open([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Collect cacheWays+1 /24s of 10/8 that share a set.
	var same []netip.Addr
	want := -1
	for i := 0; len(same) <= cacheWays; i++ {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		k, _ := cacheKey(ip)
		if want < 0 {
			want = cacheSet(k)
		}
		if cacheSet(k) == want {
			same = append(same, ip)
		}
	}
	c := new(Cache)
	cached := func(ip netip.Addr) bool {
		k, _ := cacheKey(ip)
		for _, e := range c.entries[want : want+cacheWays] {
			if e.key == k {
				return true
			}
		}
		return false
	}
	for _, ip := range same[:cacheWays] {
		r.LookupCached(ip, c)
	}
	for _, ip := range same[:cacheWays] {
		if !cached(ip) {
			t.Errorf("%s: evicted by a network of the same set before the set was full", ip)
		}
	}
	last := same[cacheWays]
	if loc := r.LookupCached(last, c); loc.Country != "US" {
		t.Fatalf("%s: %+v", last, loc)
	}
	if !cached(last) {
		t.Errorf("%s: not cached in a full set", last)
	}
	kept := 0
	for _, ip := range same[:cacheWays] {
		if cached(ip) {
			kept++
		}
	}
	if kept != cacheWays-1 {
		t.Errorf("%d of the first %d kept; want %d", kept, cacheWays, cacheWays-1)
	}
}

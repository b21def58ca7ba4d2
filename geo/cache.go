package geo

import (
	"encoding/binary"
	"net/netip"
)

// A Cache remembers recent lookups of one goroutine (a UDP socket's
// worker), so that a client network seen again is located without walking
// the database tree and decoding its record, which is most of what a geo
// answer costs. It is keyed by the client's /24 (IPv4) or /56 (IPv6), the
// networks ECS clients arrive as, and holds a result only when the
// database network around the address covers that whole key network, so a
// cached answer is always the one Lookup would give. It is emptied when
// the Reader's databases change, and when it has seen more distinct
// locations than it keeps.
//
// Entries are 16 bytes, an index into the distinct locations seen, so the
// table of 32,768 networks takes 512 KiB; the locations up to 300 KiB. The
// table is 4-way set associative with a set per 64-byte cache line: a
// probe reads one line, and networks that hash alike do not evict each
// other (direct mapped, a few thousand client networks missed one lookup
// in eight, each a database walk and decode). Filling it allocates; a
// Cache in steady state does not.
//
// A Cache is not safe for concurrent use; its zero value is ready.
type Cache struct {
	set     *dbSet                 // the databases the entries came from
	entries *[cacheSize]cacheEntry // allocated on first use: page aligned, so no set straddles two lines
	next    uint8                  // the way the next insert into a full set replaces
	locs    []Location             // distinct locations, Prefix unset
	index   map[Location]uint32
}

const (
	cacheSize    = 1 << 15
	cacheWays    = 4  // 64-byte line / 16-byte entry
	cacheSetBits = 13 // log2(cacheSize / cacheWays)
	cacheLocsMax = 4096
)

type cacheEntry struct {
	key  [8]byte // the /24 or /56 network, and its family in the last byte; zero: empty
	bits uint8   // the database network's length
	loc  uint32  // index in locs
}

// cacheKey is ip's key network (never the zero key) and its length.
func cacheKey(ip netip.Addr) ([8]byte, int) {
	var k [8]byte
	if ip.Is4() {
		a := ip.As4()
		copy(k[:3], a[:3])
		k[7] = 4
		return k, 24
	}
	a := ip.As16()
	copy(k[:7], a[:7])
	k[7] = 6
	return k, 56
}

// cacheSet is the first entry of the set where key k may live.
func cacheSet(k [8]byte) int {
	h := binary.LittleEndian.Uint64(k[:]) * 0x9E3779B97F4A7C15 // Fibonacci hashing
	return int(h>>(64-cacheSetBits)) * cacheWays
}

// LookupCached is Lookup through c, which may be nil (no caching).
func (r *Reader) LookupCached(ip netip.Addr, c *Cache) Location {
	if c == nil || r == nil || !ip.IsValid() {
		return r.Lookup(ip)
	}
	s := r.cur.Load()
	if s == nil || len(s.dbs) == 0 {
		return Location{}
	}
	if c.set != s {
		c.reset()
		c.set = s
	}
	ip = ip.Unmap().WithZone("")
	k, bits := cacheKey(ip)
	set := c.entries[cacheSet(k):][:cacheWays]
	for i := range set {
		if e := &set[i]; e.key == k {
			loc := c.locs[e.loc]
			loc.Prefix, _ = ip.Prefix(int(e.bits))
			return loc
		}
	}
	loc := s.lookup(ip)
	if !loc.Prefix.IsValid() || loc.Prefix.Bits() > bits {
		return loc
	}
	l := loc
	l.Prefix = netip.Prefix{}
	i, ok := c.index[l]
	if !ok {
		if len(c.locs) == cacheLocsMax {
			c.reset()
		}
		if c.index == nil {
			c.index = make(map[Location]uint32)
		}
		i = uint32(len(c.locs))
		c.locs = append(c.locs, l)
		c.index[l] = i
	}
	way := -1
	for j := range set {
		if set[j].key == ([8]byte{}) {
			way = j
			break
		}
	}
	if way < 0 {
		way = int(c.next % cacheWays)
		c.next++
	}
	set[way] = cacheEntry{key: k, bits: uint8(loc.Prefix.Bits()), loc: i}
	return loc
}

// reset empties c, keeping its memory (allocating the table the first
// time).
func (c *Cache) reset() {
	if c.entries == nil {
		c.entries = new([cacheSize]cacheEntry)
	} else {
		clear(c.entries[:])
	}
	c.locs = c.locs[:0]
	clear(c.index)
}

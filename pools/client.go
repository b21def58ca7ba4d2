package pools

import (
	"net/netip"

	"github.com/meridiandns/meridian/geo"
	"github.com/miekg/dns"
)

// Client is who a decision is made for. The location is looked up at most
// once, and only when a rule or nearest selection needs it.
type Client struct {
	Addr netip.Addr  // the ECS address when the query had one, else the packet source
	Geo  *geo.Reader // may be nil: no databases, no geo matches

	// Scratch is room a caller lends Select for an answer of several
	// values (answers > 1): when it has the capacity, Decision.Answer is
	// assembled in it instead of a new slice, and is then only valid until
	// the caller reuses Scratch. Nil: Select allocates.
	Scratch []dns.RR
	// WireScratch is the same for the answer's wire form
	// (Decision.Wire): with too little capacity, Select leaves Wire nil.
	WireScratch []byte

	// GeoCache, when not nil, remembers locations across the caller's
	// queries (see geo.Cache); it must be the caller's alone.
	GeoCache *geo.Cache

	loc    geo.Location
	key    uint64 // loc packed (geo.Location.Key), when keyed
	keyed  bool
	looked bool
	mapped bool // asked as an IPv4-mapped IPv6 address (see NewClient)
}

// NewClient returns a client for addr located with g. An IPv4-mapped IPv6
// address (::ffff:a.b.c.d) is the IPv4 client it stands for, and its
// decisions give their scope in IPv6 bits: a scope is read in the family
// the address was asked in, so /24 of the IPv4 address is /120 of the
// mapped one.
func NewClient(addr netip.Addr, g *geo.Reader) Client {
	return Client{Addr: addr.Unmap(), Geo: g, mapped: addr.Is4In6()}
}

// scopeBits turns a scope in the bits of Addr into the family the client
// was asked in.
func (c *Client) scopeBits(bits int) int {
	if c.mapped {
		return 96 + bits
	}
	return bits
}

// Location returns the client's location, looking it up on first use.
func (c *Client) Location() geo.Location {
	return *c.location()
}

// location is Location without the copy.
func (c *Client) location() *geo.Location {
	if !c.looked {
		c.loc = c.Geo.LookupCached(c.Addr, c.GeoCache)
		c.key, c.keyed = c.loc.Key()
		c.looked = true
	}
	return &c.loc
}

// locationBits is the prefix length within which the location (and so any
// geo decision) is the same: the database network's length.
func (c *Client) locationBits() int {
	l := c.location()
	if !l.Prefix.IsValid() {
		return 0
	}
	return l.Prefix.Bits()
}

// inAny reports whether the client's location lies inside any of ru's
// geos: by packed key when both sides pack, else code by code.
func (c *Client) inAny(ru *Rule) bool {
	loc := c.location()
	if c.keyed && len(ru.keys) == len(ru.Geos) {
		for _, k := range ru.keys {
			if c.key&k.mask == k.key {
				return true
			}
		}
		return false
	}
	for _, g := range ru.Geos {
		if g.Matches(*loc) {
			return true
		}
	}
	return false
}

// stickyKey is the client's /24 (IPv4) or /56 (IPv6): the unit sticky
// selection keeps on one value.
func (c *Client) stickyKey() (netip.Prefix, int) {
	bits := 56
	if c.Addr.Is4() {
		bits = 24
	}
	p, _ := c.Addr.Prefix(bits)
	return p, bits
}

// commonBits is the length of the common prefix of a and b (same family).
func commonBits(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	n := 0
	for i := range x {
		d := x[i] ^ y[i]
		if d == 0 {
			n += 8
			continue
		}
		for d&0x80 == 0 {
			n++
			d <<= 1
		}
		break
	}
	if a.Is4() {
		n -= 96
	}
	return n
}

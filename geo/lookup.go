package geo

import (
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// Lookup locates ip. The first database, in the order given to Open, whose
// record for ip names a country wins. IPv4-mapped IPv6 addresses are looked
// up as IPv4. An unknown address gets Location{Prefix: p} where p is the
// network the databases report as empty around it (the full-length prefix if
// they cannot say).
//
// A nil or closed Reader, or one with no databases, returns Location{}.
// Lookup is safe for concurrent use, takes no locks and does not allocate.
func (r *Reader) Lookup(ip netip.Addr) Location {
	if r == nil || !ip.IsValid() {
		return Location{}
	}
	s := r.cur.Load()
	if s == nil || len(s.dbs) == 0 {
		return Location{}
	}
	return s.lookup(ip.Unmap().WithZone(""))
}

// lookup is Lookup in the databases of s, for an unmapped address.
func (s *dbSet) lookup(ip netip.Addr) Location {
	rec := recordPool.Get().(*record)
	defer recordPool.Put(rec)
	var loc Location
	for _, d := range s.dbs {
		*rec = record{}
		p, found := d.lookup(ip, rec)
		// Every address in the narrower of two nested prefixes sees the
		// same outcome from both databases.
		if !loc.Prefix.IsValid() || p.Bits() > loc.Prefix.Bits() {
			loc.Prefix = p
		}
		if !found || rec.country == "" {
			continue
		}
		loc.Country = rec.country
		loc.Continent, _ = ContinentOf(rec.country)
		loc.Subdivision = rec.subdivision
		if rec.hasLat && rec.hasLon {
			loc.Lat, loc.Lon, loc.HasCoords = rec.lat, rec.lon, true
		}
		loc.Found = true
		break
	}
	return loc
}

// lookup returns the database's network for ip and whether it holds a
// record, decoded into rec.
func (d *db) lookup(ip netip.Addr, rec *record) (netip.Prefix, bool) {
	full := netip.PrefixFrom(ip, ip.BitLen())
	if ip.Is6() && d.ipv4Only {
		// The whole IPv6 space is a miss in an IPv4-only database.
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0), false
	}
	res := d.mm.Lookup(ip)
	if res.Err() != nil {
		return full, false
	}
	p := res.Prefix()
	if ip.Is4() && !p.Addr().Is4() {
		// The record (or hole) sits above the IPv4 subtree of an IPv6
		// database, so it covers all of IPv4.
		p = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	if !p.IsValid() {
		p = full
	}
	if !res.Found() {
		return p, false
	}
	if err := res.Decode(rec); err != nil {
		*rec = record{}
		return full, false
	}
	return p, true
}

// record is the part of a GeoIP2 City/Country record Meridian uses. It
// decodes itself from the raw cursor so a lookup never builds the full
// geoip2.City (localized names, postal, traits), which would allocate.
type record struct {
	country     string
	subdivision string
	lat, lon    float64
	hasLat      bool
	hasLon      bool
}

// recordPool recycles decode targets: Result.Decode takes an interface, so a
// stack record would escape and cost an allocation per query.
var recordPool = sync.Pool{New: func() any { return new(record) }}

// maxISOSize bounds iso_code strings; real ones are 1–3 bytes.
const maxISOSize = 16

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (r *record) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	return eachKey(c, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		switch string(key) {
		case "country":
			return readISO(v, &r.country)
		case "subdivisions":
			return r.readSubdivisions(v)
		case "location":
			return r.readLocation(v)
		}
		return v.Skip()
	})
}

func (r *record) readSubdivisions(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	s, err := c.SliceMaxSize(32)
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[[]record](err)
	}
	var next mmdbdata.Cursor
	for {
		i, el, ok := s.Next(next)
		if !ok {
			break
		}
		if i == 0 {
			next, err = readISO(el, &r.subdivision)
		} else {
			next, err = el.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return s.End()
}

func (r *record) readLocation(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	return eachKey(c, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		var err error
		switch string(key) {
		case "latitude":
			r.lat, v, err = v.ReadFloat()
			r.hasLat = err == nil
			return v, err
		case "longitude":
			r.lon, v, err = v.ReadFloat()
			r.hasLon = err == nil
			return v, err
		}
		return v.Skip()
	})
}

// readISO reads the iso_code member of a country or subdivision map.
func readISO(c mmdbdata.Cursor, dst *string) (mmdbdata.Cursor, error) {
	return eachKey(c, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		if string(key) != "iso_code" {
			return v.Skip()
		}
		var err error
		*dst, v, err = v.ReadStringMaxSize(maxISOSize)
		return v, err
	})
}

// eachKey walks a map, handing each value's cursor to f, which must consume
// the value and return its successor.
func eachKey(c mmdbdata.Cursor, f func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error)) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	next := m.First()
	for range m.Len() {
		key, v, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		if next, err = f(key, v); err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End(next)
}

package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"

	"github.com/miekg/dns"
)

// Class is the kind of name a query asks for.
type Class uint8

// The query classes of the mix.
const (
	ClassGeo      Class = iota // a geo-dynamic record
	ClassWeighted              // a weighted record
	ClassFailover              // a failover record
	ClassStatic                // a static A, AAAA, MX or TXT RRset
	ClassNX                    // a name that does not exist
	numClasses
)

func (c Class) String() string {
	return [...]string{"geo", "weighted", "failover", "static", "nxdomain"}[c]
}

// Mix is the share of each class in the query file, in percent.
var Mix = [numClasses]int{ClassGeo: 50, ClassWeighted: 10, ClassFailover: 10, ClassStatic: 20, ClassNX: 10}

// UDPSize is the EDNS buffer size every generated query advertises.
const UDPSize = 1232

// Query is one distinct query of the file.
type Query struct {
	Class Class
	Name  string       // fully qualified
	Type  uint16       // dns.TypeA, ...
	ECS   netip.Prefix // EDNS Client Subnet source; the zero Prefix sends no ECS option
	// Allowed holds, for weighted queries, every value the answer may be
	// drawn from.
	Allowed []netip.Addr
}

func (q Query) String() string {
	ecs := "-"
	if q.ECS.IsValid() {
		ecs = q.ECS.String()
	}
	return fmt.Sprintf("%s %s %s ecs=%s", q.Class, q.Name, dns.TypeToString[q.Type], ecs)
}

// Msg returns the query as a resolver would send it to an authoritative
// server: RD clear, EDNS0 with a 1232-byte buffer, and the ECS option when
// q has one. The ID is 0; dnsperf overwrites it.
func (q Query) Msg() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(q.Name, q.Type)
	m.RecursionDesired = false
	m.Id = 0
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(UDPSize)
	if q.ECS.IsValid() {
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(q.ECS.Bits()),
			Address: q.ECS.Addr().AsSlice()}
		e.Family = 1
		if q.ECS.Addr().Is6() {
			e.Family = 2
		}
		o.Option = append(o.Option, e)
	}
	m.Extra = append(m.Extra, o)
	return m
}

// makeQueries draws s.Spec.Queries distinct queries in the proportions of
// Mix, shuffled.
func makeQueries(s *Scenario, r *rand.Rand) []Query {
	total := s.Spec.Queries
	want := [numClasses]int{}
	sum := 0
	for c := Class(1); c < numClasses; c++ {
		want[c] = total * Mix[c] / 100
		sum += want[c]
	}
	want[ClassGeo] = total - sum
	seen := map[string]bool{}
	var qs []Query
	for c := range numClasses {
		if !s.hasClass(c) {
			want[c] = 0
		}
		got := 0
		for tries := 0; got < want[c] && tries < 50*want[c]; tries++ {
			q := s.randomQuery(c, r)
			if k := q.String(); !seen[k] {
				seen[k] = true
				qs = append(qs, q)
				got++
			}
		}
	}
	r.Shuffle(len(qs), func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
	return qs
}

func (s *Scenario) hasClass(c Class) bool {
	z := s.Zones[0]
	switch c {
	case ClassGeo:
		return len(z.Geo) > 0
	case ClassWeighted:
		return len(z.Weighted) > 0
	case ClassFailover:
		return len(z.Failover) > 0
	case ClassStatic:
		return len(z.Static) > 0
	}
	return true
}

func (s *Scenario) randomQuery(c Class, r *rand.Rand) Query {
	z := s.Zones[r.IntN(len(s.Zones))]
	q := Query{Class: c, Type: dns.TypeA}
	ecsShare := 0.6 // resolvers that send ECS send it with every query
	switch c {
	case ClassGeo:
		q.Name = z.Geo[r.IntN(len(z.Geo))].Name
		ecsShare = 0.85
	case ClassWeighted:
		w := z.Weighted[r.IntN(len(z.Weighted))]
		q.Name, q.Allowed = w.Name, w.Values
	case ClassFailover:
		q.Name = z.Failover[r.IntN(len(z.Failover))].Name
	case ClassStatic:
		n := z.Static[r.IntN(len(z.Static))]
		q.Name = n.Name
		switch x := r.IntN(100); {
		case x < 20 && len(n.AAAA) > 0:
			q.Type = dns.TypeAAAA
		case x >= 70 && x < 85 && n.MX != "":
			q.Type = dns.TypeMX
		case x >= 85 && n.TXT != "":
			q.Type = dns.TypeTXT
		}
	case ClassNX:
		q.Name = "nx-" + randomLabel(r, 10)
		if r.IntN(5) == 0 {
			q.Name = randomLabel(r, 3) + "." + q.Name
		}
	}
	q.Name += "." + z.Origin
	if r.Float64() < ecsShare {
		q.ECS = s.randomECS(r)
	}
	return q
}

func randomLabel(r *rand.Rand, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

// randomECS draws a client subnet: mostly a /24 inside a located network,
// some in database holes and unlocated ranges, some in the world policy's
// subnet rule, some IPv6 /56s.
func (s *Scenario) randomECS(r *rand.Rand) netip.Prefix {
	switch x := r.IntN(100); {
	case x < 70: // located (or a v4 hole: any /24 of dbV4)
		return randomSubnet(r, dbV4, 24)
	case x < 78:
		return randomSubnet(r, missV4, 24)
	case x < 84:
		return randomSubnet(r, corpSubnet, 24)
	default:
		n := 1 + r.IntN(dbV6Count)
		return randomSubnet(r, netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", n)), 56)
	}
}

// randomSubnet returns a random /bits subnet inside p.
func randomSubnet(r *rand.Rand, p netip.Prefix, bits int) netip.Prefix {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < bits; i++ {
		if r.IntN(2) == 1 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, bits)
}

// WriteQueryFile writes qs in dnsperf's -B format: each query as a 2-byte
// big-endian length followed by the DNS message, as on a TCP stream
// (RFC 1035 4.2.2).
func WriteQueryFile(path string, qs []Query) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, q := range qs {
		if err := writeFramed(w, q.Msg()); err != nil {
			f.Close()
			return fmt.Errorf("bench: %s: %w", q, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return nil
}

func writeFramed(w io.Writer, m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	if len(b) > 0xffff {
		return errors.New("message too long")
	}
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(len(b)))
	if _, err := w.Write(l[:]); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ReadQueryFile parses a dnsperf -B file back into messages.
func ReadQueryFile(path string) ([]*dns.Msg, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var ms []*dns.Msg
	for off := 0; ; {
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err == io.EOF {
			return ms, nil
		} else if err != nil {
			return nil, fmt.Errorf("bench: %s: offset %d: truncated length: %w", path, off, err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("bench: %s: offset %d: truncated message: %w", path, off, err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return nil, fmt.Errorf("bench: %s: offset %d: %w", path, off, err)
		}
		ms = append(ms, m)
		off += 2 + len(b)
	}
}

// WriteQueryList writes one line per query (class, name, type, ECS), for
// people reading a run's files.
func WriteQueryList(path string, qs []Query) error {
	var b strings.Builder
	for _, q := range qs {
		b.WriteString(q.String())
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

package bench

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// classOf tells a query's class from its name, as the generator names
// records.
func classOf(name string) Class {
	first := strings.SplitN(name, ".", 2)[0]
	switch {
	case strings.HasPrefix(first, "geo-"):
		return ClassGeo
	case strings.HasPrefix(first, "w-"):
		return ClassWeighted
	case strings.HasPrefix(first, "fo-"):
		return ClassFailover
	case strings.HasPrefix(first, "host-"):
		return ClassStatic
	}
	return ClassNX
}

func TestQueryFileMix(t *testing.T) {
	s := NewScenario(DefaultSpec())
	path := filepath.Join(t.TempDir(), "q.bin")
	if err := WriteQueryFile(path, s.Queries); err != nil {
		t.Fatal(err)
	}
	ms, err := ReadQueryFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ms), DefaultSpec().Queries; got != want {
		t.Fatalf("got %d queries, want %d", got, want)
	}
	var count [numClasses]int
	types := map[uint16]int{}
	ecs4, ecs6, plain := 0, 0, 0
	seen := map[string]bool{}
	for i, m := range ms {
		if len(m.Question) != 1 || m.Response || m.RecursionDesired || m.Opcode != dns.OpcodeQuery {
			t.Fatalf("query %d is not a plain authoritative query: %v", i, m)
		}
		q := m.Question[0]
		c := classOf(q.Name)
		if c != s.Queries[i].Class {
			t.Errorf("query %d %s: class %v, generator says %v", i, q.Name, c, s.Queries[i].Class)
		}
		count[c]++
		types[q.Qtype]++
		o := m.IsEdns0()
		if o == nil || o.UDPSize() != UDPSize {
			t.Fatalf("query %d: want EDNS0 with a %d-byte buffer, got %v", i, UDPSize, o)
		}
		var ecs *dns.EDNS0_SUBNET
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
				ecs = e
			}
		}
		switch {
		case ecs == nil:
			plain++
		case ecs.Family == 1 && ecs.SourceNetmask == 24:
			ecs4++
		case ecs.Family == 2 && ecs.SourceNetmask == 56:
			ecs6++
		default:
			t.Errorf("query %d: unexpected ECS %v", i, ecs)
		}
		if ecs != nil {
			a, _ := netip.AddrFromSlice(ecs.Address)
			a = a.Unmap()
			if p := netip.PrefixFrom(a, int(ecs.SourceNetmask)); p.Masked() != p {
				t.Errorf("query %d: ECS %s has bits beyond its prefix", i, p)
			}
		}
		key := m.String()
		if seen[key] {
			t.Errorf("query %d is a duplicate: %s", i, key)
		}
		seen[key] = true
	}
	for c := range numClasses {
		want := DefaultSpec().Queries * Mix[c] / 100
		if got := count[c]; got != want {
			t.Errorf("%v: got %d queries, want %d", c, got, want)
		}
	}
	for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT} {
		if types[typ] == 0 {
			t.Errorf("no %s queries", dns.TypeToString[typ])
		}
	}
	// Varied ECS: both families, and queries without it.
	if ecs4 < len(ms)/4 || ecs6 < len(ms)/20 || plain < len(ms)/10 {
		t.Errorf("ECS mix: %d IPv4, %d IPv6, %d without", ecs4, ecs6, plain)
	}
	clients := map[string]bool{}
	for _, q := range s.Queries {
		if q.ECS.IsValid() {
			clients[q.ECS.String()] = true
		}
	}
	if len(clients) < 1000 {
		t.Errorf("only %d distinct ECS subnets", len(clients))
	}
}

func TestQueryFileFraming(t *testing.T) {
	qs := []Query{
		{Class: ClassStatic, Name: "host-1.bench-0.test.", Type: dns.TypeA},
		{Class: ClassGeo, Name: "geo-1.bench-0.test.", Type: dns.TypeA, ECS: netip.MustParsePrefix("100.64.1.0/24")},
	}
	path := filepath.Join(t.TempDir(), "q.bin")
	if err := WriteQueryFile(path, qs); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Each query is a 2-byte big-endian length and then exactly the
	// packed message, back to back (dnsperf -B, RFC 1035 4.2.2).
	var want bytes.Buffer
	for _, q := range qs {
		b, err := q.Msg().Pack()
		if err != nil {
			t.Fatal(err)
		}
		binary.Write(&want, binary.BigEndian, uint16(len(b)))
		want.Write(b)
	}
	if !bytes.Equal(raw, want.Bytes()) {
		t.Fatalf("file bytes:\n%x\nwant:\n%x", raw, want.Bytes())
	}
	if id := binary.BigEndian.Uint16(raw[2:]); id != 0 {
		t.Errorf("first message ID %d, want 0 (dnsperf overwrites it)", id)
	}
	if err := os.WriteFile(path, raw[:len(raw)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadQueryFile(path); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file: got %v, want a truncation error", err)
	}
}

package pools

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/meridiandns/meridian/internal/packed"
	"github.com/miekg/dns"
)

// TestPreparedAnswers: every value's prebuilt answers, laid out in the
// record's shared arrays, are its own: the right owner, type, TTL (full
// and degraded) and data, with wire forms equal to packing them one by
// one, and the fail-open answer is the record's values in order.
func TestPreparedAnswers(t *testing.T) {
	cases := []struct {
		typ    uint16
		values []string
		dyn    string
		want   func(v *Value) string // the RR's data as text
	}{
		{dns.TypeA, []string{"192.0.2.1", "198.51.100.1"}, geoRecord, func(v *Value) string { return v.Addr.String() }},
		{dns.TypeAAAA, []string{"2001:db8::1", "::ffff:192.0.2.9"}, `
pools:
  one: {values: [{value: "2001:db8::10"}, {value: "::ffff:198.51.100.7"}]}
  two: {fallback: one, values: [{value: "2001:db8::20"}]}
rules:
  - {geos: [EU], pool: two}
  - {pool: one}
`, func(v *Value) string { return v.Addr.String() }},
		{dns.TypeCNAME, []string{"origin.example.net."}, `
pools:
  one: {values: [{value: a.example.net.}, {value: b.example.net.}]}
rules:
  - {pool: one}
`, func(v *Value) string { return v.Value }},
	}
	for _, c := range cases {
		r := mustRecord(t, c.typ, c.values, c.dyn, "")
		ttls := [2]uint32{60, 10}
		check := func(where string, v *Value) {
			t.Helper()
			for i, ttl := range ttls {
				if len(v.rrs[i]) != 1 {
					t.Fatalf("%s %s: %d RRs", where, v.Value, len(v.rrs[i]))
				}
				rr := v.rrs[i][0]
				h := rr.Header()
				if h.Name != r.Name || h.Rrtype != c.typ || h.Ttl != ttl {
					t.Errorf("%s %s form %d: header %v", where, v.Value, i, h)
				}
				var data string
				switch x := rr.(type) {
				case *dns.A:
					data = x.A.String()
				case *dns.AAAA:
					a, _ := netip.AddrFromSlice(x.AAAA)
					data = a.String()
					if len(x.AAAA) != 16 {
						t.Errorf("%s %s: AAAA data of %d bytes", where, v.Value, len(x.AAAA))
					}
				case *dns.CNAME:
					data = x.Target
				}
				if want := c.want(v); data != want {
					t.Errorf("%s %s form %d: data %s; want %s", where, v.Value, i, data, want)
				}
				if want := packed.Of(v.rrs[i]); !bytes.Equal(v.wire[i], want) || len(v.wire[i]) != cap(v.wire[i]) {
					t.Errorf("%s %s form %d: wire %x (cap %d); want %x", where, v.Value, i, v.wire[i], cap(v.wire[i]), want)
				}
			}
		}
		for _, p := range r.Pools {
			for _, v := range p.Values {
				check("pool "+p.ID, v)
			}
		}
		for _, v := range r.Values {
			check("values", v)
		}
		for i := range ttls {
			if len(r.valueRRs[i]) != len(r.Values) {
				t.Fatalf("%s: fail-open answer of %d RRs", dns.TypeToString[c.typ], len(r.valueRRs[i]))
			}
			for j, v := range r.Values {
				if r.valueRRs[i][j] != v.rrs[i][0] {
					t.Errorf("%s: fail-open RR %d is not value %s's", dns.TypeToString[c.typ], j, v.Value)
				}
			}
			if want := packed.Of(r.valueRRs[i]); !bytes.Equal(r.valueWire[i], want) {
				t.Errorf("%s: fail-open wire %x; want %x", dns.TypeToString[c.typ], r.valueWire[i], want)
			}
		}
	}
}

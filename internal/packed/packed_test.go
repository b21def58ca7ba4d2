package packed

import (
	"testing"

	"github.com/miekg/dns"
)

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// message wraps sections written by Write into a response to qname so
// that miekg/dns can read them back.
func message(t *testing.T, qname string, sec []byte) (*dns.Msg, int) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(qname, dns.TypeA)
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out, n, ok := Write(b, sec, b[12:len(b)-4])
	if !ok {
		t.Fatalf("Write(%x) not ok", sec)
	}
	out[7] = byte(n) // ANCOUNT
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatalf("unpack %x: %v", out, err)
	}
	return m, len(out) - len(b)
}

func TestRoundTrip(t *testing.T) {
	rrs := []dns.RR{
		mustRR(t, "www.example.com. 30 IN A 192.0.2.1"),
		mustRR(t, "www.example.com. 30 IN A 192.0.2.2"),
		mustRR(t, "other.example.com. 60 IN AAAA 2001:db8::1"),
		mustRR(t, `www.example.com. 300 IN TXT "a b" "c\\d"`),
		mustRR(t, "www.example.com. 300 IN MX 10 mail.example.com."),
		mustRR(t, `weird\.label.example.com. 300 IN CNAME a\032b.example.com.`),
	}
	sec := Of(rrs)
	if sec == nil {
		t.Fatal("Of: nil")
	}
	m, _ := message(t, "www.example.com.", sec)
	if len(m.Answer) != len(rrs) {
		t.Fatalf("got %d RRs; want %d", len(m.Answer), len(rrs))
	}
	for i, rr := range m.Answer {
		if rr.String() != rrs[i].String() {
			t.Errorf("RR %d: got %s; want %s", i, rr, rrs[i])
		}
	}
}

// An owner equal to the question, byte for byte, is a pointer to it; one
// that differs in case is written whole, keeping the zone's case.
func TestWriteCompressesOwner(t *testing.T) {
	sec := Of([]dns.RR{mustRR(t, "www.example.com. 30 IN A 192.0.2.1")})
	whole := len(sec)
	m, n := message(t, "www.example.com.", sec)
	if want := whole - len("\x03www\x07example\x03com\x00") + 2; n != want {
		t.Errorf("same name: wrote %d bytes; want %d (a pointer)", n, want)
	}
	if got := m.Answer[0].Header().Name; got != "www.example.com." {
		t.Errorf("owner %q", got)
	}
	m, n = message(t, "WWW.example.com.", sec)
	if n != whole {
		t.Errorf("other case: wrote %d bytes; want %d (the name whole)", n, whole)
	}
	if got := m.Answer[0].Header().Name; got != "www.example.com." {
		t.Errorf("owner %q; want the zone's case", got)
	}
}

func TestWriteRejectsMalformed(t *testing.T) {
	good := Of([]dns.RR{mustRR(t, "a.example. 30 IN A 192.0.2.1")})
	for name, sec := range map[string][]byte{
		"short rdata":      good[:len(good)-1],
		"no type":          good[:len("\x01a\x07example\x00")+3],
		"unterminated":     []byte("\x01a\x07exam"),
		"pointer in owner": append([]byte{0xC0, 12}, good[len("\x01a\x07example\x00"):]...),
	} {
		if _, _, ok := Write(nil, sec, nil); ok {
			t.Errorf("%s: Write ok", name)
		}
	}
	if out, n, ok := Write([]byte("x"), nil, nil); !ok || n != 0 || string(out) != "x" {
		t.Errorf("empty section: %q %d %v", out, n, ok)
	}
}

func TestOfUnpackable(t *testing.T) {
	if b := Of(nil); b != nil {
		t.Errorf("Of(nil) = %x", b)
	}
	bad := &dns.A{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeA, Class: dns.ClassINET}}
	bad.Hdr.Name = "a..example." // empty label: does not pack
	if b := Of([]dns.RR{mustRR(t, "b.example. 30 IN A 192.0.2.1"), bad}); b != nil {
		t.Errorf("Of with an unpackable RR = %x; want nil", b)
	}
}

func TestEach(t *testing.T) {
	rrs := []dns.RR{
		mustRR(t, "a.example. 30 IN A 192.0.2.1"),
		mustRR(t, `a.example. 30 IN TXT "x"`),
		mustRR(t, "b.example. 60 IN MX 10 mx.example."),
	}
	var got [][]byte
	Each(Of(rrs), func(rr []byte) { got = append(got, rr) })
	if len(got) != len(rrs) {
		t.Fatalf("got %d RRs; want %d", len(got), len(rrs))
	}
	for i, rr := range rrs {
		if want := Of([]dns.RR{rr}); string(got[i]) != string(want) {
			t.Errorf("RR %d: got %x; want %x", i, got[i], want)
		}
	}
	n := 0
	Each(Of(rrs)[:5], func([]byte) { n++ })
	if n != 0 {
		t.Errorf("truncated section: %d RRs", n)
	}
}

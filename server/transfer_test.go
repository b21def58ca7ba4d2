package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

const (
	xfrKeyName = "xfr-key."
	xfrSecret  = "c2VjcmV0LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OWFiY2RlZg=="
)

// xfrZone is testZone with enough distinct records to need several
// transfer messages.
func xfrZone() string {
	var b strings.Builder
	b.WriteString(testZone)
	for i := range 200 {
		fmt.Fprintf(&b, "t%03d TXT \"%s\"\n", i, strings.Repeat("x", 200))
	}
	return b.String()
}

// newTransferServer starts a server on loopback serving xfrZone.
func newTransferServer(t *testing.T) (*Server, string) {
	t.Helper()
	l, _ := testLoader(t, zones.Options{}, map[string]string{"example.org.zone": xfrZone()})
	o := DefaultOptions()
	o.Listen = []string{"127.0.0.1:0"}
	o.UDPSockets = 1
	s := New(o, l, slog.New(slog.DiscardHandler))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s, s.Addrs()[0].String()
}

func testKey() TSIGKey {
	sec, _ := base64.StdEncoding.DecodeString(xfrSecret)
	return TSIGKey{Name: xfrKeyName, Algorithm: dns.HmacSHA256, Secret: sec}
}

// xfrResult is what a transfer request got back.
type xfrResult struct {
	msgs []*dns.Msg
	rrs  []dns.RR
	err  error // a TSIG that did not verify, or the connection failing
}

// transfer sends req over TCP, signed with secret when name is set, and
// reads messages until the closing SOA or an error rcode. It checks every
// TSIG itself (RFC 8945 5.3.1: the first over the request MAC, the next
// over the previous MAC and the timers only).
func transfer(t *testing.T, addr string, req *dns.Msg, name, alg, secret string) xfrResult {
	t.Helper()
	co, err := dns.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	co.SetDeadline(time.Now().Add(5 * time.Second))
	var mac string
	if name != "" {
		req.SetTsig(name, alg, 300, time.Now().Unix())
		co.TsigSecret = map[string]string{name: secret}
		buf, m, err := dns.TsigGenerate(req, secret, "", false)
		if err != nil {
			t.Fatal(err)
		}
		mac = m
		if _, err := co.Write(buf); err != nil {
			t.Fatal(err)
		}
	} else if err := co.WriteMsg(req); err != nil {
		t.Fatal(err)
	}
	var res xfrResult
	soas := 0
	for range 1000 {
		buf := make([]byte, dns.MaxMsgSize)
		n, err := co.Read(buf)
		if err != nil {
			res.err = err
			return res
		}
		raw := buf[:n]
		m := new(dns.Msg)
		if err := m.Unpack(raw); err != nil {
			t.Fatal(err)
		}
		res.msgs = append(res.msgs, m)
		if ts := m.IsTsig(); ts != nil && ts.MAC != "" {
			if err := dns.TsigVerify(raw, secret, mac, len(res.msgs) > 1); err != nil {
				res.err = fmt.Errorf("message %d: %w", len(res.msgs), err)
				return res
			}
			mac = ts.MAC
		}
		for _, rr := range m.Answer {
			res.rrs = append(res.rrs, rr)
			if rr.Header().Rrtype == dns.TypeSOA {
				soas++
			}
		}
		if m.Rcode != dns.RcodeSuccess || soas == 2 || (req.Question[0].Qtype == dns.TypeIXFR && soas == 1 && len(m.Answer) == 1) {
			return res
		}
	}
	t.Fatal("no end to the transfer")
	return res
}

func ixfr(zone string, serial uint32) *dns.Msg {
	m := query(zone, dns.TypeIXFR)
	m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET},
		Ns: zone, Mbox: zone, Serial: serial}}
	return m
}

func TestTransferTCP(t *testing.T) {
	s, addr := newTransferServer(t)
	z := s.zones.Current().Zone("example.org.")
	zoneRRs := len(z.TransferRRs())
	allowLocal := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	wrongSecret := base64.StdEncoding.EncodeToString([]byte("not the key"))

	checkZone := func(t *testing.T, r xfrResult, signed bool) {
		t.Helper()
		if r.err != nil {
			t.Fatalf("transfer: %v", r.err)
		}
		if len(r.rrs) != zoneRRs+1 {
			t.Fatalf("got %d RRs; want %d (the zone and the closing SOA)\n%v", len(r.rrs), zoneRRs+1, r.msgs)
		}
		if len(r.msgs) < 3 {
			t.Errorf("got %d messages; want the zone split over several", len(r.msgs))
		}
		first, last := r.rrs[0], r.rrs[len(r.rrs)-1]
		if first.Header().Rrtype != dns.TypeSOA || last.Header().Rrtype != dns.TypeSOA {
			t.Errorf("first %v, last %v; want the SOA at both ends", first, last)
		}
		for i, m := range r.msgs {
			if !m.Authoritative || m.Rcode != dns.RcodeSuccess {
				t.Errorf("message %d: aa=%v rcode %d", i, m.Authoritative, m.Rcode)
			}
			if (m.IsTsig() != nil) != signed {
				t.Errorf("message %d: signed %v; want %v", i, m.IsTsig() != nil, signed)
			}
			if n := m.Len(); n > dns.MaxMsgSize {
				t.Errorf("message %d: %d bytes", i, n)
			}
		}
	}
	tsigError := func(rcode, tsigErr int) func(*testing.T, xfrResult) {
		return func(t *testing.T, r xfrResult) {
			t.Helper()
			if len(r.msgs) != 1 {
				t.Fatalf("got %d messages (%v); want one error", len(r.msgs), r.err)
			}
			m := r.msgs[0]
			if m.Rcode != rcode || len(m.Answer) != 0 {
				t.Errorf("rcode %s with %d answers; want %s", dns.RcodeToString[m.Rcode], len(m.Answer), dns.RcodeToString[rcode])
			}
			ts := m.IsTsig()
			switch {
			case tsigErr < 0 && ts != nil:
				t.Errorf("TSIG %v; want none", ts)
			case tsigErr >= 0 && (ts == nil || int(ts.Error) != tsigErr):
				t.Errorf("TSIG %v; want error %s", ts, dns.RcodeToString[tsigErr])
			}
		}
	}

	for _, tt := range []struct {
		name             string
		opts             TransferOptions
		req              *dns.Msg
		key, alg, secret string
		timeShift        time.Duration
		check            func(*testing.T, xfrResult)
	}{
		{name: "off by default", req: query("example.org.", dns.TypeAXFR),
			check: tsigError(dns.RcodeRefused, -1)},
		{name: "allowed, no key", opts: TransferOptions{Allow: allowLocal}, req: query("example.org.", dns.TypeAXFR),
			check: func(t *testing.T, r xfrResult) { checkZone(t, r, false) }},
		{name: "upper-case zone name", opts: TransferOptions{Allow: allowLocal}, req: query("EXAMPLE.org.", dns.TypeAXFR),
			check: func(t *testing.T, r xfrResult) { checkZone(t, r, false) }},
		{name: "outside allow", opts: TransferOptions{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}},
			req: query("example.org.", dns.TypeAXFR), check: tsigError(dns.RcodeRefused, -1)},
		{name: "not a zone apex", opts: TransferOptions{Allow: allowLocal}, req: query("www.example.org.", dns.TypeAXFR),
			check: tsigError(dns.RcodeNotAuth, -1)},
		{name: "key required, unsigned", opts: TransferOptions{Allow: allowLocal, Key: testKey()},
			req: query("example.org.", dns.TypeAXFR), check: tsigError(dns.RcodeRefused, -1)},
		{name: "signed", opts: TransferOptions{Allow: allowLocal, Key: testKey()}, req: query("example.org.", dns.TypeAXFR),
			key: xfrKeyName, alg: dns.HmacSHA256, secret: xfrSecret,
			check: func(t *testing.T, r xfrResult) { checkZone(t, r, true) }},
		{name: "signed, outside allow", opts: TransferOptions{Allow: []netip.Prefix{netip.MustParsePrefix("::1/128")}, Key: testKey()},
			req: query("example.org.", dns.TypeAXFR), key: xfrKeyName, alg: dns.HmacSHA256, secret: xfrSecret,
			check: func(t *testing.T, r xfrResult) {
				tsigError(dns.RcodeRefused, dns.RcodeSuccess)(t, r) // refused, and signed: the key was good
				if r.err != nil {
					t.Errorf("signature of the refusal: %v", r.err)
				}
			}},
		{name: "wrong secret", opts: TransferOptions{Allow: allowLocal, Key: testKey()}, req: query("example.org.", dns.TypeAXFR),
			key: xfrKeyName, alg: dns.HmacSHA256, secret: wrongSecret, check: tsigError(dns.RcodeNotAuth, dns.RcodeBadSig)},
		{name: "unknown key", opts: TransferOptions{Allow: allowLocal, Key: testKey()}, req: query("example.org.", dns.TypeAXFR),
			key: "other-key.", alg: dns.HmacSHA256, secret: xfrSecret, check: tsigError(dns.RcodeNotAuth, dns.RcodeBadKey)},
		{name: "wrong algorithm", opts: TransferOptions{Allow: allowLocal, Key: testKey()}, req: query("example.org.", dns.TypeAXFR),
			key: xfrKeyName, alg: dns.HmacSHA512, secret: xfrSecret, check: tsigError(dns.RcodeNotAuth, dns.RcodeBadKey)},
		{name: "signed but no key configured", opts: TransferOptions{Allow: allowLocal}, req: query("example.org.", dns.TypeAXFR),
			key: xfrKeyName, alg: dns.HmacSHA256, secret: xfrSecret, check: tsigError(dns.RcodeNotAuth, dns.RcodeBadKey)},
		{name: "clock skew", opts: TransferOptions{Allow: allowLocal, Key: testKey()}, req: query("example.org.", dns.TypeAXFR),
			key: xfrKeyName, alg: dns.HmacSHA256, secret: xfrSecret, timeShift: -time.Hour,
			check: func(t *testing.T, r xfrResult) {
				tsigError(dns.RcodeNotAuth, dns.RcodeBadTime)(t, r)
				if ts := r.msgs[0].IsTsig(); ts == nil || ts.OtherLen != 6 || ts.MAC == "" {
					t.Errorf("BADTIME TSIG %v; want it signed, with our time in other data", ts)
				}
			}},
		{name: "IXFR from an old serial: the whole zone", opts: TransferOptions{Allow: allowLocal}, req: ixfr("example.org.", 0),
			check: func(t *testing.T, r xfrResult) { checkZone(t, r, false) }},
		{name: "IXFR up to date: the SOA alone", opts: TransferOptions{Allow: allowLocal}, req: ixfr("example.org.", z.SOA.Serial),
			check: func(t *testing.T, r xfrResult) {
				if r.err != nil || len(r.msgs) != 1 || len(r.rrs) != 1 || r.rrs[0].Header().Rrtype != dns.TypeSOA {
					t.Errorf("got %d messages, RRs %v (%v); want the SOA alone", len(r.msgs), r.rrs, r.err)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s.SetTransfer(tt.opts)
			req := tt.req.Copy()
			if tt.timeShift != 0 {
				r := transferAt(t, addr, req, tt.key, tt.alg, tt.secret, time.Now().Add(tt.timeShift))
				tt.check(t, r)
				return
			}
			tt.check(t, transfer(t, addr, req, tt.key, tt.alg, tt.secret))
		})
	}
	// The server counts a transfer after its last write, which may be
	// after the client read it.
	want := TransferStats{OK: 5, Refused: 10}
	st := s.TransferStats()
	for i := 0; i < 100 && st != want; i++ {
		time.Sleep(10 * time.Millisecond)
		st = s.TransferStats()
	}
	if st != want {
		t.Errorf("stats %+v; want 5 ok, 10 refused, 0 failed", st)
	}
}

// transferAt is transfer with the request signed at a given time.
func transferAt(t *testing.T, addr string, req *dns.Msg, name, alg, secret string, at time.Time) xfrResult {
	t.Helper()
	req.SetTsig(name, alg, 300, at.Unix())
	co, err := dns.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	co.SetDeadline(time.Now().Add(5 * time.Second))
	buf, _, err := dns.TsigGenerate(req, secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.Write(buf); err != nil {
		t.Fatal(err)
	}
	in := make([]byte, dns.MaxMsgSize)
	n, err := co.Read(in)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(in[:n]); err != nil {
		t.Fatal(err)
	}
	return xfrResult{msgs: []*dns.Msg{m}}
}

// TestTransferUDP: over UDP an AXFR is FORMERR and an IXFR gets the SOA
// alone (so the secondary comes back over TCP), from allowed clients only.
func TestTransferUDP(t *testing.T) {
	s, _ := newTransferServer(t)
	allowed := netip.MustParseAddr("192.0.2.1")
	s.SetTransfer(TransferOptions{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Key: testKey()})
	soa := s.zones.Current().Zone("example.org.").SOA
	for _, tt := range []struct {
		name   string
		req    *dns.Msg
		client netip.Addr
		rcode  int
		answer []dns.RR
	}{
		{"AXFR", query("example.org.", dns.TypeAXFR), allowed, dns.RcodeFormatError, nil},
		{"IXFR", ixfr("example.org.", 1), allowed, dns.RcodeSuccess, []dns.RR{soa}},
		{"IXFR outside allow", ixfr("example.org.", 1), netip.MustParseAddr("198.51.100.1"), dns.RcodeRefused, nil},
		{"IXFR of a name that is no zone", ixfr("www.example.org.", 1), allowed, dns.RcodeNotAuth, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Respond(tt.req, tt.client, false)
			if r.Rcode != tt.rcode || fmt.Sprint(r.Answer) != fmt.Sprint(tt.answer) {
				t.Errorf("got %s %v; want %s %v", dns.RcodeToString[r.Rcode], r.Answer, dns.RcodeToString[tt.rcode], tt.answer)
			}
			if tt.rcode == dns.RcodeSuccess && !r.Authoritative {
				t.Error("aa not set")
			}
		})
	}
}

// TestSignedQueryTCP: a secondary's signed SOA check over TCP gets a
// signed answer; one signed with a key we do not have gets BADKEY.
func TestSignedQueryTCP(t *testing.T) {
	s, addr := newTransferServer(t)
	s.SetTransfer(TransferOptions{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Key: testKey()})
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, TsigSecret: map[string]string{xfrKeyName: xfrSecret, "other.": xfrSecret}}

	m := query("example.org.", dns.TypeSOA)
	m.SetTsig(xfrKeyName, dns.HmacSHA256, 300, time.Now().Unix())
	r, _, err := c.Exchange(m, addr) // verifies the answer's TSIG
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.IsTsig() == nil {
		t.Errorf("got %v; want the SOA, signed", r)
	}

	m = query("example.org.", dns.TypeSOA)
	m.SetTsig("other.", dns.HmacSHA256, 300, time.Now().Unix())
	r, _, _ = c.Exchange(m, addr)
	if r == nil || r.Rcode != dns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != dns.RcodeBadKey {
		t.Errorf("got %v; want NOTAUTH with BADKEY", r)
	}
}

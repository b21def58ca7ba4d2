package server

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// signedQuery packs m signed with key name (hmac-sha256, secret) at time
// at, and returns the packet and its MAC.
func signedQuery(t testing.TB, m *dns.Msg, name, secret string, at time.Time) ([]byte, string) {
	t.Helper()
	m.SetTsig(name, dns.HmacSHA256, 300, at.Unix())
	pkt, mac, err := dns.TsigGenerate(m, secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return pkt, mac
}

// TestSignedQueryUDP: over UDP, as over TCP (TestSignedQueryTCP), a signed
// query's TSIG is checked and the answer signed: the real listener, with a
// miekg/dns client that verifies the answer's TSIG.
func TestSignedQueryUDP(t *testing.T) {
	s, addr := newTransferServer(t)
	s.SetTransfer(TransferOptions{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Key: testKey()})
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second, TsigSecret: map[string]string{xfrKeyName: xfrSecret, "other.": xfrSecret}}

	for _, tt := range []struct {
		name string
		m    *dns.Msg
	}{
		{"SOA", query("example.org.", dns.TypeSOA)},
		{"IXFR", ixfr("example.org.", 1)},
		{"with EDNS", query("www.example.org.", dns.TypeA, withEDNS(1232))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.m.SetTsig(xfrKeyName, dns.HmacSHA256, 300, time.Now().Unix())
			r, _, err := c.Exchange(tt.m, addr) // verifies the answer's TSIG
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.IsTsig() == nil {
				t.Errorf("got %v; want the answer, signed", r)
			}
		})
	}

	m := query("example.org.", dns.TypeSOA)
	m.SetTsig("other.", dns.HmacSHA256, 300, time.Now().Unix())
	r, _, _ := c.Exchange(m, addr)
	if r == nil || r.Rcode != dns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != dns.RcodeBadKey || len(r.Answer) != 0 {
		t.Errorf("unknown key: got %v; want NOTAUTH with BADKEY", r)
	}
}

// TestSignedGeneralPath checks the general UDP path's TSIG answers one by
// one: the TSIG errors of RFC 8945 5.2, and a signed answer that fits the
// client's buffer with the TSIG record in it.
func TestSignedGeneralPath(t *testing.T) {
	fit := "fit TXT \"" + strings.Repeat("a", 250) + "\" \"" + strings.Repeat("b", 203) + "\"\n"
	l, _ := testLoader(t, zones.Options{}, map[string]string{"example.org.zone": testZone + fit})
	s := New(Options{UDPSize: 1232}, l, slog.New(slog.DiscardHandler))
	s.SetTransfer(TransferOptions{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Key: testKey()})
	w := newWorker(s)
	src := netip.MustParseAddr("192.0.2.33")
	const wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="

	// Unsigned, the answer just fits in 512 bytes; with the TSIG record
	// it would not.
	plain := w.general(pack(t, query("fit.example.org.", dns.TypeTXT)), src)
	if n := len(plain); n > dns.MinMsgSize || n+80 <= dns.MinMsgSize {
		t.Fatalf("the unsigned answer is %d bytes; want just under %d", n, dns.MinMsgSize)
	}

	for _, tt := range []struct {
		name     string
		m        *dns.Msg
		key, sec string
		at       time.Time
		rcode    int
		tsigErr  uint16
		signed   bool // the answer carries a MAC, which verifies
		answers  int
		tc       bool
	}{
		{"verified", query("www.example.org.", dns.TypeA), xfrKeyName, xfrSecret, time.Now(), dns.RcodeSuccess, 0, true, 1, false},
		{"unknown key", query("www.example.org.", dns.TypeA), "other.", xfrSecret, time.Now(), dns.RcodeNotAuth, dns.RcodeBadKey, false, 0, false},
		{"wrong secret", query("www.example.org.", dns.TypeA), xfrKeyName, wrong, time.Now(), dns.RcodeNotAuth, dns.RcodeBadSig, false, 0, false},
		{"clock skew", query("www.example.org.", dns.TypeA), xfrKeyName, xfrSecret, time.Now().Add(-time.Hour), dns.RcodeNotAuth, dns.RcodeBadTime, true, 0, false},
		{"too big with the TSIG", query("fit.example.org.", dns.TypeTXT), xfrKeyName, xfrSecret, time.Now(), dns.RcodeSuccess, 0, true, 0, true},
		{"AXFR over UDP", query("example.org.", dns.TypeAXFR), xfrKeyName, xfrSecret, time.Now(), dns.RcodeFormatError, 0, true, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkt, mac := signedQuery(t, tt.m, tt.key, tt.sec, tt.at)
			out := w.general(pkt, src)
			r := new(dns.Msg)
			if err := r.Unpack(out); err != nil {
				t.Fatalf("%x: %v", out, err)
			}
			ts := r.IsTsig()
			if r.Rcode != tt.rcode || ts == nil || ts.Error != tt.tsigErr || len(r.Answer) != tt.answers || r.Truncated != tt.tc {
				t.Fatalf("got\n%v\nwant %s, TSIG error %s, %d answers, tc %v", r,
					dns.RcodeToString[tt.rcode], dns.RcodeToString[int(tt.tsigErr)], tt.answers, tt.tc)
			}
			if len(out) > dns.MinMsgSize {
				t.Errorf("answer of %d bytes to a client without EDNS", len(out))
			}
			if !tt.signed {
				if ts.MAC != "" {
					t.Errorf("MAC %s; want none with %s", ts.MAC, dns.RcodeToString[int(ts.Error)])
				}
				return
			}
			if tt.tsigErr == dns.RcodeBadTime {
				// miekg/dns refuses to check the TSIG of a NOTAUTH answer.
				if ts.MAC == "" || ts.OtherLen != 6 {
					t.Errorf("BADTIME TSIG %v; want it signed, with our time in other data", ts)
				}
				return
			}
			if err := dns.TsigVerify(out, xfrSecret, mac, false); err != nil {
				t.Errorf("the answer's TSIG does not verify: %v", err)
			}
		})
	}
}

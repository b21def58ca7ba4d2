package main

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestAnswersOnTheWire runs the answer rules through the real binary over
// UDP and TCP; zones/ and server/ hold the exhaustive table tests.
func TestAnswersOnTheWire(t *testing.T) {
	n := testbinStartFull(t)
	type want struct {
		rcode        int
		aa           bool
		answer, auth int
		extra        int // not counting OPT
		contains     string
	}
	tests := []struct {
		name string
		msg  *dns.Msg
		want want
	}{
		{"DNAME with synthesised CNAME", q("www.old.example.net.", dns.TypeA),
			want{dns.RcodeSuccess, true, 4, 0, 0, "www.old.example.net.\t3600\tIN\tCNAME\twww.example.org."}},
		{"DS at a cut from the parent", q("deleg.example.org.", dns.TypeDS),
			want{dns.RcodeSuccess, true, 1, 0, 0, "IN\tDS\t12345 13 2"}},
		{"MX with in-zone additional", q("example.org.", dns.TypeMX),
			want{dns.RcodeSuccess, true, 1, 0, 1, "mail.example.org.\t120\tIN\tA\t192.0.2.25"}},
		{"apex ALIAS answered as the target's A", q("example.net.", dns.TypeA),
			want{dns.RcodeSuccess, true, 1, 0, 0, "example.net.\t300\tIN\tA\t203.0.113.80"}},
		{"class ANY refused", withClass(q("www.example.org.", dns.TypeA), dns.ClassANY),
			want{dns.RcodeRefused, false, 0, 0, 0, ""}},
		{"class HS refused", withClass(q("www.example.org.", dns.TypeA), dns.ClassHESIOD),
			want{dns.RcodeRefused, false, 0, 0, 0, ""}},
		{"NOTIFY not implemented", withOpcode(q("example.org.", dns.TypeSOA), dns.OpcodeNotify),
			want{dns.RcodeNotImplemented, false, 0, 0, 0, ""}},
		{"unknown EDNS option ignored", withOption(q("web.example.org.", dns.TypeA), &dns.EDNS0_LOCAL{Code: 65001, Data: []byte("x")}),
			want{dns.RcodeSuccess, true, 1, 0, 0, "192.0.2.80"}},
		{"AXFR refused", q("example.org.", dns.TypeAXFR),
			want{dns.RcodeRefused, false, 0, 0, 0, ""}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				if tt.msg.Question[0].Qtype == dns.TypeAXFR && network == "udp" {
					t.Skip("AXFR is a TCP question")
				}
				r := exchange(t, n.Addr, network, tt.msg.Copy())
				extra := 0
				for _, rr := range r.Extra {
					if rr.Header().Rrtype != dns.TypeOPT {
						extra++
					}
				}
				got := want{r.Rcode, r.Authoritative, len(r.Answer), len(r.Ns), extra, tt.want.contains}
				if got != tt.want {
					t.Errorf("got %+v; want %+v\n%v", got, tt.want, r)
				}
				if tt.want.contains != "" && !strings.Contains(r.String(), tt.want.contains) {
					t.Errorf("reply does not contain %q:\n%v", tt.want.contains, r)
				}
			})
		}
	}
}

func withClass(m *dns.Msg, c uint16) *dns.Msg { m.Question[0].Qclass = c; return m }
func withOpcode(m *dns.Msg, op int) *dns.Msg  { m.Opcode = op; return m }
func withOption(m *dns.Msg, o dns.EDNS0) *dns.Msg {
	m.SetEdns0(1232, false)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, o)
	return m
}

package main

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

const orgYAML = `'':
  - type: NS
    values: [ns1.example.org., ns2.example.org.]
  - type: A
    value: 192.0.2.1
  - type: MX
    value: {preference: 10, exchange: mail.example.org.}
ns1: {type: A, value: 192.0.2.53}
ns2: {type: A, value: 192.0.2.54}
mail: {type: A, ttl: 120, value: 192.0.2.25}
www: {type: CNAME, value: web.example.org.}
web: {type: A, ttl: 60, value: 192.0.2.80}
'*.wild': {type: A, value: 192.0.2.77}
a.b: {type: TXT, value: deep}
deleg:
  type: NS
  values: [ns.deleg.example.org.]
ns.deleg: {type: A, value: 192.0.2.200}
big:
  type: TXT
  values:
    - aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    - bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    - cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
    - dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd
    - eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
    - ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
`

const netZone = `$ORIGIN example.net.
$TTL 300
@ IN SOA ns1.example.org. hostmaster.example.net. 2026010101 7200 1800 1209600 60
@ NS ns1.example.org.
@ A 203.0.113.10
alias CNAME www.example.org.
`

const baseConfig = `node: {name: test-1, region: test}
dns: {listen: ["127.0.0.1:0"], nsid: test-1, version: "meridian test"}
zones: {dir: zones, debounce: 50ms}
soa: {rname: hostmaster, ttl: 3600, minimum: 60}
`

// fullNetYAML has an apex ALIAS and a DNAME; testbinStartFull also adds a DS at
// the delegation in example.org.
const fullNetYAML = `'':
  - {type: NS, values: [ns1.example.org.]}
  - {type: ALIAS, ttl: 300, value: lb.example.net.}
lb: {type: A, value: 203.0.113.80}
old: {type: DNAME, value: example.org.}
`

func testbinStartFull(t *testing.T) *testbin.Node {
	org := strings.Replace(orgYAML, "deleg:\n  type: NS\n  values: [ns.deleg.example.org.]\n",
		"deleg:\n  - {type: NS, values: [ns.deleg.example.org.]}\n  - type: DS\n    value: {key_tag: 12345, algorithm: 13, digest_type: 2, digest: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}\n", 1)
	return testbin.Start(t, baseConfig, map[string]string{
		"zones/example.org.yaml": org,
		"zones/example.net.yaml": fullNetYAML,
	})
}

func startNode(t *testing.T) *testbin.Node {
	return testbin.Start(t, baseConfig, map[string]string{
		"zones/example.org.yaml": orgYAML,
		"zones/example.net.zone": netZone,
	})
}

// exchange sends one query over net ("udp" or "tcp") and returns the reply.
func exchange(t *testing.T, addr, network string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %v: %v", network, m.Question, err)
	}
	return r
}

func q(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	return m
}

func answers(r *dns.Msg) []string {
	out := make([]string, len(r.Answer))
	for i, rr := range r.Answer {
		out[i] = strings.Join(strings.Fields(rr.String()), " ")
	}
	return out
}

func TestServeMiekgClient(t *testing.T) {
	n := startNode(t)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			r := exchange(t, n.Addr, network, q("www.Example.org.", dns.TypeA))
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || r.RecursionAvailable {
				t.Errorf("header: got %v", r.MsgHdr)
			}
			if got, want := strings.Join(answers(r), "|"), "www.example.org. 3600 IN CNAME web.example.org.|web.example.org. 60 IN A 192.0.2.80"; got != want {
				t.Errorf("answer: got %q; want %q", got, want)
			}
			if r.Question[0].Name != "www.Example.org." {
				t.Errorf("question: got %q; want the name as asked", r.Question[0].Name)
			}
			r = exchange(t, n.Addr, network, q("nope.example.org.", dns.TypeA))
			if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Ttl != 60 {
				t.Errorf("NXDOMAIN: got rcode %d ns %v", r.Rcode, r.Ns)
			}
			r = exchange(t, n.Addr, network, q("www.example.com.", dns.TypeA))
			if r.Rcode != dns.RcodeRefused || len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 {
				t.Errorf("outside zones: got %v", r)
			}
			r = exchange(t, n.Addr, network, q("alias.example.net.", dns.TypeA))
			if got := len(r.Answer); got != 3 {
				t.Errorf("CNAME across zones: got %d answers %v; want 3", got, r.Answer)
			}
			r = exchange(t, n.Addr, network, q("x.deleg.example.org.", dns.TypeA))
			if r.Authoritative || len(r.Ns) != 1 || len(r.Extra) != 1 {
				t.Errorf("referral: got %v", r)
			}
		})
	}
	// Several queries on one TCP connection.
	conn, err := dns.Dial("tcp", n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 5 {
		m := q("web.example.org.", dns.TypeA)
		if err := conn.WriteMsg(m); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		r, err := conn.ReadMsg()
		if err != nil || r.Id != m.Id || len(r.Answer) != 1 {
			t.Fatalf("query %d on one connection: got %v, %v", i, r, err)
		}
	}
}

func TestServeTruncationAndTCP(t *testing.T) {
	n := startNode(t)
	r := exchange(t, n.Addr, "udp", q("big.example.org.", dns.TypeTXT))
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP without EDNS: got tc=%v with %d answers; want TC and none", r.Truncated, len(r.Answer))
	}
	r = exchange(t, n.Addr, "tcp", q("big.example.org.", dns.TypeTXT))
	if r.Truncated || len(r.Answer) != 6 {
		t.Errorf("TCP: got tc=%v with %d answers; want 6", r.Truncated, len(r.Answer))
	}
	m := q("big.example.org.", dns.TypeTXT)
	m.SetEdns0(1232, false)
	r = exchange(t, n.Addr, "udp", m)
	if r.Truncated || len(r.Answer) != 6 {
		t.Errorf("UDP with EDNS 1232: got tc=%v with %d answers; want 6", r.Truncated, len(r.Answer))
	}
}

func TestServeMalformed(t *testing.T) {
	n := startNode(t)
	conn, err := net.Dial("udp", n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(b []byte) []byte {
		t.Helper()
		conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		k, err := conn.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:k]
	}
	// A header that is cut short is dropped.
	if got := send([]byte{0x12, 0x34, 0x01}); got != nil {
		t.Errorf("short header: got a %d-byte reply; want none", len(got))
	}
	// A response (QR=1) is dropped.
	resp := q("www.example.org.", dns.TypeA)
	resp.Response = true
	b, _ := resp.Pack()
	if got := send(b); got != nil {
		t.Errorf("QR=1: got a reply; want none")
	}
	// QDCOUNT 2 is FORMERR.
	two := q("www.example.org.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	b, _ = two.Pack()
	if got := send(b); got == nil || got[3]&0xF != dns.RcodeFormatError {
		t.Errorf("QDCOUNT 2: got %x; want FORMERR", got)
	}
	// A question cut short is FORMERR.
	b, _ = q("www.example.org.", dns.TypeA).Pack()
	if got := send(b[:len(b)-3]); got == nil || got[3]&0xF != dns.RcodeFormatError {
		t.Errorf("truncated question: got %x; want FORMERR", got)
	}
	// Opcode UPDATE is NOTIMP.
	up := q("example.org.", dns.TypeSOA)
	up.Opcode = dns.OpcodeUpdate
	b, _ = up.Pack()
	if got := send(b); got == nil || got[3]&0xF != dns.RcodeNotImplemented {
		t.Errorf("UPDATE: got %x; want NOTIMP", got)
	}
	// The server still answers normally afterwards.
	if r := exchange(t, n.Addr, "udp", q("web.example.org.", dns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("after malformed input: got %v", r)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	n := startNode(t)
	exchange(t, n.Addr, "udp", q("web.example.org.", dns.TypeA))
	n.Signal(syscall.SIGTERM)
	if err := n.Stop(); err != nil {
		t.Fatalf("exit after SIGTERM: got %v; want status 0\n%s", err, n.Logs())
	}
	if !strings.Contains(n.Logs(), "msg=stopped") {
		t.Errorf("logs: got %s; want a stopped line", n.Logs())
	}
	c := &dns.Client{Net: "tcp", Timeout: 500 * time.Millisecond}
	if _, _, err := c.Exchange(q("web.example.org.", dns.TypeA), n.Addr); err == nil {
		t.Error("TCP after shutdown: got an answer; want the listener closed")
	}
}

func parseIP(s string) net.IP { return net.ParseIP(s) }

func replyECSOf(r *dns.Msg) *dns.EDNS0_SUBNET {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				return e
			}
		}
	}
	return nil
}

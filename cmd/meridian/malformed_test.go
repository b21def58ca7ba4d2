package main

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestMalformedQueries: an OPT whose owner is not the root is FORMERR
// (RFC 6891), over UDP and TCP; a UDP query longer than 4096 bytes gets
// FORMERR with its header alone, while the same query over TCP, where
// length is no concern, is answered.
func TestMalformedQueries(t *testing.T) {
	n := startNode(t)
	badOPT := q("web.example.org.", dns.TypeA)
	badOPT.SetEdns0(1232, false)
	badOPT.IsEdns0().Hdr.Name = "example.org."
	for _, network := range []string{"udp", "tcp"} {
		if r := exchange(t, n.Addr, network, badOPT.Copy()); r.Rcode != dns.RcodeFormatError || len(r.Answer) != 0 {
			t.Errorf("%s, OPT owned by example.org.: got\n%v\nwant FORMERR", network, r)
		}
	}

	big := withOption(q("web.example.org.", dns.TypeA), &dns.EDNS0_PADDING{Padding: make([]byte, 4500)})
	pkt, err := big.Pack()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	k, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no answer to a %d-byte UDP query: %v", len(pkt), err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:k]); err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeFormatError || r.Id != big.Id || k != 12 {
		t.Errorf("%d-byte UDP query: got %d bytes\n%v\nwant FORMERR, the header alone", len(pkt), k, r)
	}
	if r := exchange(t, n.Addr, "tcp", big); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("the same over TCP: got\n%v\nwant the answer", r)
	}
}

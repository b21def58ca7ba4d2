package main

import (
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// startGeoNode serves geoZone with a database that puts 198.51.100.0/24 in
// Germany (the eu pool) and 2001:db8:2::/48 there too.
func startGeoNode(t *testing.T) *testbin.Node {
	t.Helper()
	return testbin.Start(t, baseConfig+"geoip: {databases: [geo.mmdb]}\n", map[string]string{
		"zones/example.com.yaml": geoZone,
		"geo.mmdb":               geoDB(t, "DE"),
	})
}

// TestECSMappedOnTheWire: dig and kdig asking with an IPv4-mapped IPv6
// client subnet get the IPv4 client's answer, echoed in family 2 with the
// scope in IPv6 bits (96 + the IPv4 /24), never a scope that would let a
// cache serve the answer to native IPv6 clients.
func TestECSMappedOnTheWire(t *testing.T) {
	n := startGeoNode(t)
	for _, name := range []string{"dig", "kdig"} {
		t.Run(name, func(t *testing.T) {
			tool := lookTool(t, name)
			o := runTool(t, tool, n.Addr, "+norec", "+subnet=::ffff:198.51.100.0/120", "app.example.com", "A")
			if len(o.answer) != 1 || !strings.HasSuffix(o.answer[0], "198.51.100.100") {
				t.Errorf("answer: got %q; want the eu pool\n%s", o.answer, o.raw)
			}
			if !strings.Contains(o.raw, "::ffff:198.51.100.0/120/120") {
				t.Errorf("echo: want source /120 scope /120, got\n%s", o.raw)
			}
			// Every IPv4 client at once: the scope covers the mapped
			// addresses (/96 or longer), not ::/2.
			o = runTool(t, tool, n.Addr, "+norec", "+subnet=::ffff:0.0.0.0/96", "app.example.com", "A")
			scope := ecsScope(o.raw)
			if scope < 96 {
				t.Errorf("::ffff:0.0.0.0/96: got scope /%d; want /96 or longer\n%s", scope, o.raw)
			}
		})
	}
}

// ecsScope is the scope of the CLIENT-SUBNET dig or kdig printed
// ("address/source/scope"), -1 when there is none.
func ecsScope(out string) int {
	i := strings.Index(out, "CLIENT-SUBNET: ")
	if i < 0 {
		return -1
	}
	f := strings.Fields(out[i+len("CLIENT-SUBNET: "):])
	if len(f) == 0 {
		return -1
	}
	parts := strings.Split(f[0], "/")
	n := 0
	for _, c := range parts[len(parts)-1] {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestECSOctetsOnTheWire: an ECS address in more or fewer octets than its
// source prefix needs is FORMERR from the binary over UDP and TCP. Neither
// dig nor kdig sends one, so the option goes out as raw bytes.
func TestECSOctetsOnTheWire(t *testing.T) {
	n := startGeoNode(t)
	for _, tt := range []struct {
		name string
		data []byte
		want int
	}{
		{"/24 in three octets", []byte{0, 1, 24, 0, 198, 51, 100}, dns.RcodeSuccess},
		{"/24 in four octets", []byte{0, 1, 24, 0, 198, 51, 100, 0}, dns.RcodeFormatError},
		{"/24 in two octets", []byte{0, 1, 24, 0, 198, 51}, dns.RcodeFormatError},
		{"/48 in sixteen octets", []byte{0, 2, 48, 0, 0x20, 1, 0xd, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, dns.RcodeFormatError},
	} {
		for _, network := range []string{"udp", "tcp"} {
			m := q("app.example.com.", dns.TypeA)
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: tt.data})
			if r := exchange(t, n.Addr, network, m); r.Rcode != tt.want {
				t.Errorf("%s over %s: got rcode %s; want %s", tt.name, network, dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.want])
			}
		}
	}
}

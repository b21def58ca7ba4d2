package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/geotest"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

func geoDB(t *testing.T, country string) string {
	t.Helper()
	db, err := geotest.Build([]geotest.Entry{
		{Network: "198.51.100.0/24", Country: country, Lat: 50.1, Lon: 8.7},
		{Network: "2001:db8:2::/48", Country: "DE", Lat: 50.1, Lon: 8.7},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(db)
}

// ecsQuery asks name/qtype for a client subnet.
func ecsQuery(name string, qtype uint16, family uint16, addr string, bits uint8) *dns.Msg {
	m := q(name, qtype)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: bits, Address: parseIP(addr),
	})
	return m
}

func TestDynamicAnswersAndECS(t *testing.T) {
	n := testbin.Start(t, baseConfig+"geoip: {databases: [geo.mmdb]}\n", map[string]string{
		"zones/example.com.yaml": geoZone,
		"geo.mmdb":               geoDB(t, "DE"),
	})
	r := exchange(t, n.Addr, "udp", ecsQuery("app.example.com.", dns.TypeA, 1, "198.51.100.0", 24))
	if got := answers(r); len(got) != 1 || !strings.HasSuffix(got[0], "198.51.100.100") || !strings.Contains(got[0], " 30 IN A ") {
		t.Errorf("EU client: got %q; want the eu pool with dynamic_ttl 30", got)
	}
	if e := replyECSOf(r); e == nil || e.SourceScope != 24 || e.SourceNetmask != 24 {
		t.Errorf("ECS echo: got %v; want source /24 scope /24", e)
	}
	// The packet source (127.0.0.1, unknown location) gets the catch-all.
	r = exchange(t, n.Addr, "udp", q("app.example.com.", dns.TypeA))
	if got := answers(r); len(got) != 1 || !strings.HasSuffix(got[0], "192.0.2.100") {
		t.Errorf("loopback client: got %q; want the us pool", got)
	}
	// Malformed ECS is FORMERR on the wire.
	// miekg/dns masks ECS addresses when packing, so send raw option
	// bytes: family 1, source /20, address 198.51.100 (bits past /20 set).
	bad := q("app.example.com.", dns.TypeA)
	bad.SetEdns0(1232, false)
	bad.IsEdns0().Option = append(bad.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 20, 0, 198, 51, 100}})
	if r := exchange(t, n.Addr, "udp", bad); r.Rcode != dns.RcodeFormatError {
		t.Errorf("address bits beyond the prefix: got rcode %d; want FORMERR", r.Rcode)
	}

	dig := lookTool(t, "dig")
	o := runTool(t, dig, n.Addr, "+norec", "+subnet=198.51.100.0/24", "app.example.com", "A")
	if !strings.Contains(o.raw, "CLIENT-SUBNET: 198.51.100.0/24/24") || len(o.answer) != 1 || !strings.HasSuffix(o.answer[0], "198.51.100.100") {
		t.Errorf("dig +subnet: got\n%s", o.raw)
	}
	o = runTool(t, dig, n.Addr, "+norec", "+subnet=198.51.100.0/24", "ns1.example.com", "A")
	if !strings.Contains(o.raw, "CLIENT-SUBNET: 198.51.100.0/24/0") {
		t.Errorf("dig +subnet on a static name: got\n%s\nwant scope 0", o.raw)
	}
}

func TestGeoDatabaseReload(t *testing.T) {
	n := testbin.Start(t, baseConfig+"geoip: {databases: [geo/geo.mmdb]}\n", map[string]string{
		"zones/example.com.yaml": geoZone,
		"geo/geo.mmdb":           geoDB(t, "DE"),
	})
	ask := func() string {
		r := exchange(t, n.Addr, "udp", ecsQuery("app.example.com.", dns.TypeA, 1, "198.51.100.0", 24))
		if len(r.Answer) == 0 {
			return ""
		}
		return r.Answer[0].(*dns.A).A.String()
	}
	if got := ask(); got != "198.51.100.100" {
		t.Fatalf("before: got %s", got)
	}
	// The network moves to Japan in a new database: the answer follows.
	testbin.WriteFile(t, filepath.Join(n.Dir, "geo", "geo.mmdb"), geoDB(t, "JP"))
	testbin.Eventually(t, 5*time.Second, func() bool { return ask() == "203.0.113.100" }, "the new database\n%s", n.Logs)
	// A corrupt replacement is rejected and the last good one keeps serving.
	testbin.WriteFile(t, filepath.Join(n.Dir, "geo", "geo.mmdb"), "not a database")
	n.WaitLog("geoip reload failed", 5*time.Second)
	if got := ask(); got != "203.0.113.100" {
		t.Errorf("after a corrupt database: got %s; want the last good answer", got)
	}
}

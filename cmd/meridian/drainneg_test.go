package main

import (
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// TestDrainedEverythingNoData drains every value of a dynamic record on
// the binary: dig and kdig get NODATA whose SOA TTL is degraded_ttl (10 s)
// rather than the zone's negative TTL (soa.minimum, 60 s), so resolvers
// ask again soon after the drain is undone; other negative answers keep
// the zone's.
func TestDrainedEverythingNoData(t *testing.T) {
	n := testbin.Start(t, testbin.Config(baseConfig), map[string]string{"zones/example.com.yaml": drainZone})
	for _, target := range []string{"2001:db8::12", "2001:db8::13"} {
		if code, data := apiCall(t, n, "POST", "/api/v1/drains", `{"target":"`+target+`"}`); code != 201 {
			t.Fatalf("drain %s: got %d %s", target, code, data)
		}
	}
	for _, name := range []string{"dig", "kdig"} {
		t.Run(name, func(t *testing.T) {
			tool := lookTool(t, name)
			var o toolOutput
			testbin.Eventually(t, 5*time.Second, func() bool {
				o = runTool(t, tool, n.Addr, "+norec", "app6.example.com", "AAAA")
				return len(o.answer) == 0
			}, "app6 still answered after every value was drained")
			if o.status != "NOERROR" || len(o.auth) != 1 || !strings.Contains(o.auth[0], " 10 IN SOA ") {
				t.Errorf("all drained: got %s, authority %q; want NOERROR and the SOA with TTL 10\n%s", o.status, o.auth, o.raw)
			}
			o = runTool(t, tool, n.Addr, "+norec", "app6.example.com", "TXT")
			if len(o.auth) != 1 || !strings.Contains(o.auth[0], " 60 IN SOA ") {
				t.Errorf("a type the name has not: got authority %q; want the SOA with TTL 60", o.auth)
			}
		})
	}
	if code, data := apiCall(t, n, "DELETE", "/api/v1/drains/2001:db8::13", ""); code != 204 {
		t.Fatalf("undo: got %d %s", code, data)
	}
	testbin.Eventually(t, 5*time.Second, func() bool {
		return len(exchange(t, n.Addr, "udp", q("app6.example.com.", dns.TypeAAAA)).Answer) == 1
	}, "app6 not answered after the drain was undone")
}

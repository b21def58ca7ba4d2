package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// drRegions are the example fleet's nodes, in the order of their loopback
// addresses (127.0.0.1-3), with the ECS subnet the demo GeoIP database
// places in that region and the loopback network its origins move to.
var drRegions = []struct {
	name, client, origins string
}{
	{"us-east", "192.0.2.0", "127.0.1."},
	{"eu-west", "198.51.100.0", "127.0.2."},
	{"ap-south", "203.0.113.0", "127.0.3."},
}

// drZone is examples/dr's zone with each origin moved to loopback (the
// documentation address a.b.c.10 of region i becomes 127.0.i+1.10) and the
// health port to port.
func drZone(t *testing.T, port string) string {
	t.Helper()
	data, err := os.ReadFile("../../examples/dr/zones/gslb.example.com.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for i, prefix := range []string{"192.0.2.", "198.51.100.", "203.0.113."} {
		for _, host := range []string{"10", "11"} {
			pairs = append(pairs, prefix+host, drRegions[i].origins+host)
		}
	}
	pairs = append(pairs, "port: 8080", "port: "+port)
	zone := strings.NewReplacer(pairs...).Replace(string(data))
	if !strings.Contains(zone, "port: "+port) || !strings.Contains(zone, "127.0.2.11") {
		t.Fatal("examples/dr zone no longer has the origins or health port this test rewrites")
	}
	return zone
}

// drConfig is examples/dr/<region>.yaml with only addresses and paths
// changed: DNS, API and gossip on 127.0.0.(i+1), peers on the others'
// gossip ports, state and key inside the node's directory, and the demo
// GeoIP database at its absolute path.
func drConfig(t *testing.T, i int, mesh []string) testbin.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../examples/dr", drRegions[i].name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("127.0.0.%d", i+1)
	geo, err := filepath.Abs("../../examples/geoip/demo-city.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	var join []any
	for j, a := range mesh {
		if j != i {
			join = append(join, a)
		}
	}
	set := func(section, key string, v any) {
		m, ok := c[section].(map[string]any)
		if !ok {
			t.Fatalf("examples/dr/%s.yaml: no %s section", drRegions[i].name, section)
		}
		if _, ok := m[key]; !ok {
			t.Fatalf("examples/dr/%s.yaml: no %s.%s", drRegions[i].name, section, key)
		}
		m[key] = v
	}
	set("dns", "listen", []any{host + ":0"})
	set("api", "listen", host+":0")
	set("geoip", "databases", []any{geo})
	set("mesh", "bind", mesh[i])
	set("mesh", "join", join)
	set("mesh", "keyfile", "mesh.key")
	set("mesh", "state_dir", "state/mesh")
	c["state_dir"] = "state"
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return testbin.Config(out)
}

// drAnswer is what the node at addr answers for app.gslb.example.com to a
// client in client/24 (sent as ECS): the sorted addresses and their TTL.
func drAnswer(addr, client string) (string, uint32) {
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	r, _, err := c.Exchange(ecsQuery("app.gslb.example.com.", dns.TypeA, 1, client, 24), addr)
	if err != nil {
		return "error: " + err.Error(), 0
	}
	as, ttl := addressesOf(r)
	slices.Sort(as)
	return strings.Join(as, " "), ttl
}

// TestDRExample runs the three-region example of docs/dr.md (examples/dr)
// as three real processes with real origins, and measures what the doc
// quotes: how long after an origin, a whole region, or a drain changes
// every node's answers to the region's clients change, and how long they
// take to come back.
func TestDRExample(t *testing.T) {
	// Two origins per region, all on one port.
	var origins [3][2]*testorigin.HTTP
	port := ""
	for i, r := range drRegions {
		for j, host := range []string{"10", "11"} {
			addr := r.origins + host + ":" + port
			if port == "" {
				addr = r.origins + host + ":0"
			}
			origins[i][j] = testorigin.NewHTTP(t, addr, "ok\n")
			_, port, _ = net.SplitHostPort(origins[i][j].Addr)
		}
	}
	zone := drZone(t, port)
	bin := testbin.Build(t)
	key, err := exec.Command(bin, "keygen").Output()
	if err != nil {
		t.Fatalf("meridian keygen: %v", err)
	}
	f := &fleet{}
	for i := range drRegions {
		host := fmt.Sprintf("127.0.0.%d", i+1)
		f.mesh = append(f.mesh, net.JoinHostPort(host, strconv.Itoa(testbin.FreePort(t, host))))
	}
	for i := range drRegions {
		f.nodes = append(f.nodes, testbin.Start(t, drConfig(t, i, f.mesh), map[string]string{
			"zones/gslb.example.com.yaml": zone, "mesh.key": string(key)}))
	}
	f.waitMembers(t, 3)

	pool := func(region int, hosts ...string) string {
		var as []string
		for _, h := range hosts {
			as = append(as, drRegions[region].origins+h)
		}
		return strings.Join(as, " ")
	}
	// everywhere waits until every node answers clients of region want
	// with ttl, and logs how long that took under the name what.
	everywhere := func(what string, region int, want string, ttl uint32, limit time.Duration) {
		t.Helper()
		start := time.Now()
		for i, n := range f.nodes {
			testbin.Eventually(t, limit-time.Since(start), func() bool {
				got, gotTTL := drAnswer(n.Addr, drRegions[region].client)
				return got == want && gotTTL == ttl
			}, "%q: node %s to answer %s clients %q with TTL %d (answers %q)", what, drRegions[i].name,
				drRegions[region].name, want, ttl, func() string {
					a, ttl := drAnswer(n.Addr, drRegions[region].client)
					return fmt.Sprint(a, " ttl ", ttl)
				})
		}
		if what != "" {
			t.Logf("dr timing: %-16s %6.2fs", what, time.Since(start).Seconds())
		}
	}
	const eu = 1
	// Normal state: each region's clients get both origins of their pool
	// with the record's TTL.
	for i := range drRegions {
		everywhere("", i, pool(i, "10", "11"), 60, 10*time.Second)
	}

	// One origin down: the pool keeps serving the other.
	origins[eu][0].Stop()
	everywhere("origin-down", eu, pool(eu, "11"), 60, 10*time.Second)
	origins[eu][0].Start()
	everywhere("origin-back", eu, pool(eu, "10", "11"), 60, 10*time.Second)

	// Region failure: eu-west's clients go to its fallback, us-east, with
	// degraded_ttl; nobody else moves.
	origins[eu][0].Stop()
	origins[eu][1].Stop()
	everywhere("region-failure", eu, pool(0, "10", "11"), 10, 10*time.Second)
	if got, _ := drAnswer(f.nodes[2].Addr, drRegions[2].client); got != pool(2, "10", "11") {
		t.Errorf("ap-south clients during the eu-west failure: got %q; want their own pool", got)
	}
	origins[eu][0].Start()
	origins[eu][1].Start()
	everywhere("region-recovery", eu, pool(eu, "10", "11"), 60, 10*time.Second)

	// Planned failover: drain the pool on one node; every node stops
	// handing it out. Undo on another.
	out, err := exec.Command(bin, "drain", "pool:eu-west", "--for", "2h", "--reason", "planned failover",
		"--api", "http://"+f.nodes[0].API).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "drained pool:eu-west until ") {
		t.Fatalf("meridian drain: %v\n%s", err, out)
	}
	everywhere("drain", eu, pool(0, "10", "11"), 10, 3*time.Second)
	out, err = exec.Command(bin, "drain", "--undo", "pool:eu-west", "--api", "http://"+f.nodes[1].API).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian drain --undo: %v\n%s", err, out)
	}
	everywhere("undrain", eu, pool(eu, "10", "11"), 60, 3*time.Second)
}

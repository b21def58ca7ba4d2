package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/miekg/dns"
)

// TestMeshNetns runs the fleet tests that need a network between nodes:
// node 3 lives in its own network namespace behind a veth pair, so that an
// origin can be unreachable from it alone and the mesh can be cut and
// healed. Everything happens inside namespaces this test creates: it
// re-runs itself under `unshare --net` (a private loopback and veth, no
// change to the host's network) and skips where that is not permitted.
func TestMeshNetns(t *testing.T) {
	if os.Getenv("MERIDIAN_IN_NETNS") == "" {
		reexecInNetns(t)
		return
	}
	ns := fmt.Sprintf("mtest%d", rand.IntN(1_000_000))
	setupNetns(t, ns)

	// Origins on the hub side, reachable from node 3 over the veth.
	a := testorigin.NewHTTP(t, "10.250.0.10:0", "ok")
	_, port, _ := net.SplitHostPort(a.Addr)
	testorigin.NewHTTP(t, "10.250.0.11:"+port, "ok")
	zone := meshZone("10.250.0.10", "10.250.0.11", port)

	meshAddrs := []string{
		net.JoinHostPort("10.250.0.1", strconv.Itoa(testbin.FreePort(t, "10.250.0.1"))),
		net.JoinHostPort("10.250.0.1", strconv.Itoa(testbin.FreePort(t, "10.250.0.1"))),
		"10.250.0.2:7946",
	}
	f := &fleet{}
	for i := range 3 {
		cfg := strings.Replace(string(meshConfig(i, meshAddrs)), fmt.Sprintf("127.0.0.%d:0", i+1), dnsHost(i)+":0", 1)
		cfg += fmt.Sprintf("api: {listen: %q}\n", dnsHost(i)+":0")
		nsName := ""
		if i == 2 {
			nsName = ns
		}
		f.nodes = append(f.nodes, testbin.StartIn(t, nsName, testbin.Config(cfg), map[string]string{
			"zones/example.com.yaml": zone, "mesh.key": meshKey + "\n"}))
	}
	f.waitMembers(t, 3)
	ask := func(i int) string { return answerFrom(t, f.nodes[i].Addr) }
	waitAll := func(want string, limit time.Duration) time.Duration {
		start := time.Now()
		for i := range f.nodes {
			testbin.Eventually(t, limit, func() bool { return ask(i) == want }, "node %d to answer %s", i+1, want)
		}
		return time.Since(start)
	}
	waitAll("10.250.0.10", 5*time.Second)

	// The origin is unreachable from node 3's region only: one region of
	// three votes down, so every node keeps answering it.
	netnsRun(t, ns, "ip", "route", "add", "prohibit", "10.250.0.10/32")
	testbin.Eventually(t, 10*time.Second, func() bool {
		return strings.Contains(f.nodes[2].Logs(), `probe verdict changed`)
	}, "node 3 to see the origin down itself\n%s", f.nodes[2].Logs)
	time.Sleep(2 * time.Second) // several probe rounds
	for i := range f.nodes {
		if got := ask(i); got != "10.250.0.10" {
			t.Errorf("origin blocked for ap-south only: node %d answers %q; want it still served", i+1, got)
		}
	}
	netnsRun(t, ns, "ip", "route", "del", "prohibit", "10.250.0.10/32")

	// Node 3 is cut off from the mesh: it keeps serving on its own
	// observations (it alone sees the origin die), and converges after
	// the partition heals.
	netnsRun(t, ns, "ip", "route", "add", "prohibit", "10.250.0.1/32")
	testbin.Eventually(t, 15*time.Second, func() bool { return aliveMembers(status(t, f.nodes[0])) == 2 },
		"the hub to see node 3 gone")
	a.Stop()
	took := waitAll("10.250.0.11", 5*time.Second)
	t.Logf("partitioned: every node, node 3 on its own, failed over in %v", took.Round(time.Millisecond))
	a.Start()
	waitAll("10.250.0.10", 5*time.Second)
	netnsRun(t, ns, "ip", "route", "del", "prohibit", "10.250.0.1/32")
	healed := time.Now()
	f.waitMembers(t, 3)
	t.Logf("partition healed: three members again after %v", time.Since(healed).Round(time.Millisecond))
	// Converged: node 3 holds the other nodes' observations again.
	testbin.Eventually(t, 5*time.Second, func() bool {
		eps, _ := status(t, f.nodes[2])["endpoints"].([]any)
		for _, e := range eps {
			obs, _ := e.(map[string]any)["observations"].([]any)
			fresh := 0
			for _, o := range obs {
				if age, _ := o.(map[string]any)["age"].(float64); age < 3e9 {
					fresh++
				}
			}
			if fresh != 3 {
				return false
			}
		}
		return true
	}, "node 3 to hold fresh observations from all three nodes")
	t.Logf("observations converged %v after the heal", time.Since(healed).Round(time.Millisecond))
}

func dnsHost(i int) string {
	if i == 2 {
		return "10.250.0.2"
	}
	return fmt.Sprintf("127.0.0.%d", i+1)
}

// answerFrom asks addr for app.example.com from 10.250.0.3, an address
// node 3's partition does not block.
func answerFrom(t *testing.T, addr string) string {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	if strings.HasPrefix(addr, "10.250.") {
		c.Dialer = &net.Dialer{Timeout: 500 * time.Millisecond, LocalAddr: &net.UDPAddr{IP: net.ParseIP("10.250.0.3")}}
	}
	r, _, err := c.Exchange(q("app.example.com.", dns.TypeA), addr)
	if err != nil || len(r.Answer) == 0 {
		return ""
	}
	return r.Answer[0].(*dns.A).A.String()
}

// reexecInNetns runs this test again in a private network namespace.
func reexecInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root; skipping")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed; skipping", tool)
		}
	}
	if out, err := exec.Command("unshare", "--net", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here (%v: %s); skipping", err, out)
	}
	cmd := exec.Command("unshare", "--net", "--", "sh", "-c",
		`ip link set lo up && exec "$0" -test.run '^TestMeshNetns$' -test.v -test.count=1`, os.Args[0])
	cmd.Env = append(os.Environ(), "MERIDIAN_IN_NETNS=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a private network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("netns run failed: %v", err)
	}
}

// setupNetns creates namespace ns for node 3 and a veth pair to it:
// 10.250.0.1 (mesh of nodes 1 and 2), .3 (test client), .10 and .11
// (origins) on this side; 10.250.0.2 in ns.
func setupNetns(t *testing.T, ns string) {
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "link", "add", "hub0", "type", "veth", "peer", "name", "n3", "netns", ns)
	for _, a := range []string{"10.250.0.1/24", "10.250.0.3/24", "10.250.0.10/24", "10.250.0.11/24"} {
		run("ip", "addr", "add", a, "dev", "hub0")
	}
	run("ip", "link", "set", "hub0", "up")
	netnsRun(t, ns, "ip", "link", "set", "lo", "up")
	netnsRun(t, ns, "ip", "addr", "add", "10.250.0.2/24", "dev", "n3")
	netnsRun(t, ns, "ip", "link", "set", "n3", "up")
}

func netnsRun(t *testing.T, ns string, args ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip netns exec %s %v: %v\n%s", ns, args, err, out)
	}
}

package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
)

var regions = []string{"us-east", "eu-west", "ap-south"}

const meshKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes

// meshZone: a catch-all pool on originA falling back to originB.
func meshZone(a, b, port string) string {
	return fmt.Sprintf(`'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  ttl: 30
  values: [%[1]s, %[2]s]
  dynamic:
    pools:
      primary: {fallback: secondary, values: [{value: %[1]s}]}
      secondary: {values: [{value: %[2]s}]}
    rules:
      - {pool: primary}
  octodns:
    healthcheck: {protocol: HTTP, port: %[3]s, path: /health}
    meridian:
      healthcheck: {interval: 1s, timeout: 500ms, rise: 2, fall: 2}
`, a, b, port)
}

type fleet struct {
	nodes []*testbin.Node
	mesh  []string // mesh addresses
}

// meshConfig is node i's config: DNS on 127.0.0.(i+1), gossip on the same
// address, joining the others, with a shared key and its own state dir.
func meshConfig(i int, mesh []string) testbin.Config {
	var join []string
	for j, a := range mesh {
		if j != i {
			join = append(join, strconv.Quote(a))
		}
	}
	return testbin.Config(fmt.Sprintf(`node: {name: node%d, region: %s}
dns: {listen: ["127.0.0.%d:0"]}
mesh:
  bind: %q
  join: [%s]
  keyfile: mesh.key
  state_dir: state
  gossip_interval: 100ms
  probe_interval: 500ms
  push_pull_interval: 2s
`, i+1, regions[i], i+1, mesh[i], strings.Join(join, ", ")))
}

// startFleet starts three nodes in three regions serving zone.
func startFleet(t *testing.T, zone string) *fleet {
	t.Helper()
	f := &fleet{}
	for i := range 3 {
		host := fmt.Sprintf("127.0.0.%d", i+1)
		f.mesh = append(f.mesh, net.JoinHostPort(host, strconv.Itoa(testbin.FreePort(t, host))))
	}
	for i := range 3 {
		f.nodes = append(f.nodes, testbin.Start(t, meshConfig(i, f.mesh), map[string]string{
			"zones/example.com.yaml": zone,
			"mesh.key":               meshKey + "\n",
		}))
	}
	f.waitMembers(t, 3)
	return f
}

// status fetches a node's /api/v1/status.
func status(t *testing.T, n *testbin.Node) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + n.API + "/api/v1/status")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st map[string]any
	json.NewDecoder(resp.Body).Decode(&st)
	return st
}

func aliveMembers(st map[string]any) int {
	c := 0
	ms, _ := st["members"].([]any)
	for _, m := range ms {
		if mm, ok := m.(map[string]any); ok && mm["state"] == "alive" {
			c++
		}
	}
	return c
}

func (f *fleet) waitMembers(t *testing.T, want int) {
	t.Helper()
	testbin.Eventually(t, 15*time.Second, func() bool {
		for _, n := range f.nodes {
			if aliveMembers(status(t, n)) != want {
				return false
			}
		}
		return true
	}, "every node to see %d members", want)
}

// answersEverywhere waits until every node answers want for app.example.com.
func (f *fleet) answersEverywhere(t *testing.T, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for _, n := range f.nodes {
		waitAnswer(t, n.Addr, "app.example.com.", want, limit-time.Since(start))
	}
	return time.Since(start)
}

func TestMeshThreeNodes(t *testing.T) {
	a := testorigin.NewHTTP(t, "127.0.0.20:0", "ok")
	_, port, _ := net.SplitHostPort(a.Addr)
	b := testorigin.NewHTTP(t, "127.0.0.21:"+port, "ok")
	_ = b
	f := startFleet(t, meshZone("127.0.0.20", "127.0.0.21", port))
	f.answersEverywhere(t, "127.0.0.20", 5*time.Second)

	// Every node's observation reaches every other node.
	testbin.Eventually(t, 10*time.Second, func() bool {
		for _, n := range f.nodes {
			eps, _ := status(t, n)["endpoints"].([]any)
			for _, e := range eps {
				if obs, _ := e.(map[string]any)["observations"].([]any); len(obs) != 3 {
					return false
				}
			}
		}
		return true
	}, "three observations of each endpoint on every node")

	// The origin dies: every node stops answering it within 3 s.
	a.Stop()
	took := f.answersEverywhere(t, "127.0.0.21", 3*time.Second)
	t.Logf("origin killed: all three nodes fail over within %v", took.Round(time.Millisecond))
	a.Start()
	f.answersEverywhere(t, "127.0.0.20", 5*time.Second)

	// A node stopped and restarted rejoins and agrees.
	if err := f.nodes[2].Stop(); err != nil {
		t.Fatalf("stop node 3: %v", err)
	}
	testbin.Eventually(t, 10*time.Second, func() bool {
		return aliveMembers(status(t, f.nodes[0])) == 2
	}, "node 1 to see node 3 leave")
	if !strings.Contains(f.nodes[0].Logs(), "mesh member left or failed") {
		t.Errorf("node 1 logs: want node 3's leave\n%s", f.nodes[0].Logs())
	}
	f.nodes[2].Restart()
	f.waitMembers(t, 3)
	a.Stop()
	f.answersEverywhere(t, "127.0.0.21", 5*time.Second)
	a.Start()
	f.answersEverywhere(t, "127.0.0.20", 5*time.Second)
}

func TestMeshDrains(t *testing.T) {
	a := testorigin.NewHTTP(t, "127.0.0.20:0", "ok")
	_, port, _ := net.SplitHostPort(a.Addr)
	testorigin.NewHTTP(t, "127.0.0.21:"+port, "ok")
	f := startFleet(t, meshZone("127.0.0.20", "127.0.0.21", port))
	f.answersEverywhere(t, "127.0.0.20", 5*time.Second)
	bin := testbin.Build(t)

	// Drain on node 1 with the CLI: every node stops answering it within 2 s.
	out, err := exec.Command(bin, "drain", "127.0.0.20", "--for", "10m", "--reason", "maintenance",
		"--api", "http://"+f.nodes[0].API).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian drain: %v\n%s", err, out)
	}
	took := f.answersEverywhere(t, "127.0.0.21", 2*time.Second)
	t.Logf("drain replicated to all three nodes in %v", took.Round(time.Millisecond))

	// Node 3 restarts while node 1 is down: it keeps the drain from its
	// state dir, and node 2 still has it.
	f.nodes[0].Stop()
	f.nodes[2].Stop()
	f.nodes[2].Restart()
	waitAnswer(t, f.nodes[2].Addr, "app.example.com.", "127.0.0.21", 2*time.Second)
	if st := status(t, f.nodes[2]); !strings.Contains(fmt.Sprint(st["drains"]), "maintenance") {
		t.Errorf("node 3 status after restart: drains %v; want the drain", st["drains"])
	}

	// Undo (on node 2): everyone answers the primary again.
	out, err = exec.Command(bin, "drain", "--undo", "127.0.0.20", "--api", "http://"+f.nodes[1].API).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian drain --undo: %v\n%s", err, out)
	}
	waitAnswer(t, f.nodes[1].Addr, "app.example.com.", "127.0.0.20", 2*time.Second)
	waitAnswer(t, f.nodes[2].Addr, "app.example.com.", "127.0.0.20", 2*time.Second)

	// A pool drain takes the region out everywhere, even from fail-open.
	out, err = exec.Command(bin, "drain", "pool:primary", "--api", "http://"+f.nodes[1].API).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian drain pool:primary: %v\n%s", err, out)
	}
	waitAnswer(t, f.nodes[2].Addr, "app.example.com.", "127.0.0.21", 2*time.Second)
}

func TestMeshWrongKeyStaysOut(t *testing.T) {
	a := testorigin.NewHTTP(t, "127.0.0.20:0", "ok")
	_, port, _ := net.SplitHostPort(a.Addr)
	zone := meshZone("127.0.0.20", "127.0.0.21", port)
	var mesh []string
	for i := range 3 {
		host := fmt.Sprintf("127.0.0.%d", i+1)
		mesh = append(mesh, net.JoinHostPort(host, strconv.Itoa(testbin.FreePort(t, host))))
	}
	other := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	var nodes []*testbin.Node
	for i := range 3 {
		key := meshKey
		if i == 2 {
			key = other
		}
		nodes = append(nodes, testbin.Start(t, meshConfig(i, mesh), map[string]string{
			"zones/example.com.yaml": zone, "mesh.key": key + "\n"}))
	}
	f := &fleet{nodes: nodes[:2]}
	f.waitMembers(t, 2)
	time.Sleep(3 * time.Second) // give the odd node every chance to get in
	for i, n := range nodes {
		want := 2
		if i == 2 {
			want = 1
		}
		if got := aliveMembers(status(t, n)); got != want {
			t.Errorf("node %d sees %d members; want %d", i+1, got, want)
		}
	}
}

package healthmesh

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/origin"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/pools"
)

type testNode struct {
	*Node
	addr   string
	closed bool // closed by the test
}

// startNodes starts n in-process nodes on 127.0.0.1 in the given regions
// (round robin), all joining the first, with short memberlist timers.
// Each node's options go through tune, when given.
func startNodes(t testing.TB, n int, regions []string, key []byte, stateDir func(i int) string, tune ...func(i int, o *MeshOptions)) []*testNode {
	t.Helper()
	var nodes []*testNode
	var first string
	for i := range n {
		addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
		if i == 0 {
			first = addr
		}
		o := &MeshOptions{Bind: addr, Key: key, Insecure: key == nil,
			ProbeInterval: 200 * time.Millisecond, PushPullInterval: 2 * time.Second, DriftGrace: 300 * time.Millisecond}
		if i > 0 {
			o.Join = []string{first}
		}
		for _, f := range tune {
			f(i, o)
		}
		sd := ""
		if stateDir != nil {
			sd = stateDir(i)
		}
		log := slog.New(slog.DiscardHandler)
		if os.Getenv("MERIDIAN_TEST_LOG") != "" {
			log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", i)
		}
		node, err := NewNode(NodeOptions{Name: fmt.Sprintf("n%02d", i), Region: regions[i%len(regions)], StateDir: sd, Mesh: o, Log: log},
			NewChecker(Options{AssumeUp: true, Concurrency: 4}, &Prober{}, log))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Close)
		nodes = append(nodes, &testNode{Node: node, addr: addr})
	}
	return nodes
}

func waitAll(t testing.TB, limit time.Duration, what string, nodes []*testNode, cond func(*testNode) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok := true
		for _, n := range nodes {
			if !cond(n) {
				ok = false
				break
			}
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func members(n *testNode) int {
	c := 0
	for _, m := range n.mesh.members() {
		if m.State == "alive" {
			c++
		}
	}
	return c
}

// TestMeshScale runs 30 nodes in three regions, all probing one origin,
// and reports how long a drain and a verdict change take to reach all.
func TestMeshScale(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("scale test: run without -race (make test does)")
	}
	const N = 30
	nodes := startNodes(t, N, []string{"us-east", "eu-west", "ap-south"}, []byte("0123456789abcdef0123456789abcdef"), nil)
	took := waitAll(t, 20*time.Second, "all nodes to see each other", nodes, func(n *testNode) bool { return members(n) == N })
	t.Logf("%d nodes joined in %v", N, took.Round(time.Millisecond))

	o := origin.NewHTTP(t, "127.0.0.2:0", "ok")
	_, port, _ := net.SplitHostPort(o.Addr)
	p, _ := strconv.Atoi(port)
	ep := Endpoint{Address: "127.0.0.2", Check: Check{Protocol: "HTTP", Path: "/", Port: p, Interval: time.Second,
		Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2, Expect: []StatusRange{{Lo: 200, Hi: 399}}}}
	for _, n := range nodes {
		n.Reconcile([]Endpoint{ep})
	}
	v := &pools.Value{Value: "127.0.0.2", Endpoint: ep.ID()}
	waitAll(t, 10*time.Second, "observations from every node", nodes, func(n *testNode) bool {
		return len(n.Status().Endpoints[0].Observations) == N
	})

	// Steady-state gossip load: observation refreshes and relays.
	var in0, out0 int64
	for _, n := range nodes {
		in0 += n.mesh.bytesIn.Load()
		out0 += n.mesh.bytesOut.Load()
	}
	time.Sleep(5 * time.Second)
	var in1, out1 int64
	for _, n := range nodes {
		in1 += n.mesh.bytesIn.Load()
		out1 += n.mesh.bytesOut.Load()
	}
	t.Logf("steady state, 1 endpoint, 1s interval: %.0f B/s gossip sent and %.0f B/s received per node (user messages, without memberlist's own probes)",
		float64(out1-out0)/5/N, float64(in1-in0)/5/N)

	nodes[0].SetDrain("127.0.0.2", 0, "scale test", "test", false)
	drainTook := waitAll(t, 10*time.Second, "the drain everywhere", nodes, func(n *testNode) bool { return n.Drained(nil, nil, v) })
	t.Logf("drain set on one node reached all %d in %v", N, drainTook.Round(time.Millisecond))
	if drainTook > 2*time.Second {
		t.Errorf("drain replication %v; want within 2s", drainTook)
	}

	o.Stop()
	stopped := time.Now()
	verdictTook := waitAll(t, 15*time.Second, "every node to see the origin down", nodes, func(n *testNode) bool {
		return n.State(nil, v) == pools.Unhealthy
	})
	var firsts []time.Duration
	for _, n := range nodes {
		for _, e := range n.Status().Endpoints {
			firsts = append(firsts, e.Since.Sub(stopped))
		}
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	t.Logf("origin stopped: first node down after %v, median %v, last %v; all %d seen down after %v (probe interval 1s, fall 2)",
		firsts[0].Round(time.Millisecond), firsts[N/2].Round(time.Millisecond), firsts[N-1].Round(time.Millisecond), N, verdictTook.Round(time.Millisecond))
	if verdictTook > 3*time.Second {
		t.Errorf("verdict convergence %v; want within 3s", verdictTook)
	}
}

// TestMeshWrongKey: a node with another key never merges.
func TestMeshWrongKey(t *testing.T) {
	nodes := startNodes(t, 2, []string{"a"}, []byte("0123456789abcdef0123456789abcdef"), nil)
	waitAll(t, 10*time.Second, "the pair to form", nodes, func(n *testNode) bool { return members(n) == 2 })
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	odd, err := NewNode(NodeOptions{Name: "odd", Region: "a", Log: slog.New(slog.DiscardHandler),
		Mesh: &MeshOptions{Bind: addr, Join: []string{nodes[0].addr}, Key: []byte("fedcba9876543210fedcba9876543210"),
			GossipInterval: 50 * time.Millisecond, ProbeInterval: 200 * time.Millisecond}},
		NewChecker(Options{AssumeUp: true}, &Prober{}, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer odd.Close()
	time.Sleep(2 * time.Second)
	for i, n := range nodes {
		if got := members(n); got != 2 {
			t.Errorf("node %d sees %d members; want 2 (the odd key kept out)", i, got)
		}
	}
	if got := len(odd.mesh.members()); got != 1 {
		t.Errorf("odd node sees %d members; want only itself", got)
	}
}

func TestMeshRefusesUnencryptedJoin(t *testing.T) {
	_, err := NewNode(NodeOptions{Name: "x", Region: "a", Log: slog.New(slog.DiscardHandler),
		Mesh: &MeshOptions{Bind: "127.0.0.1:0", Join: []string{"127.0.0.1:1"}}},
		NewChecker(Options{}, &Prober{}, slog.New(slog.DiscardHandler)))
	if err == nil {
		t.Fatal("got no error; want a refusal to join without a key")
	}
}

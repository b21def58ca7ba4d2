package healthmesh

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
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

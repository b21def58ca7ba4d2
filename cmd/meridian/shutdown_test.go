package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
)

// memberState is the state node n reports for member name ("" when absent).
func memberState(t *testing.T, n *testbin.Node, name string) string {
	ms, _ := status(t, n)["members"].([]any)
	for _, m := range ms {
		if mm, ok := m.(map[string]any); ok && mm["name"] == name {
			s, _ := mm["state"].(string)
			return s
		}
	}
	return ""
}

// TestShutdownLeavesMesh checks what docs/operations.md promises of
// SIGTERM: the node exits 0 and its peers record a polite leave ("left"),
// never a failure, while a node that dies without leaving (SIGKILL) is
// declared "dead" by memberlist's failure detector. Both times are logged,
// with memberlist's default (LAN) intervals, as a production node has.
func TestShutdownLeavesMesh(t *testing.T) {
	var mesh []string
	for i := range 3 {
		host := fmt.Sprintf("127.0.0.%d", i+1)
		mesh = append(mesh, net.JoinHostPort(host, strconv.Itoa(testbin.FreePort(t, host))))
	}
	zone := "'':\n  - {type: NS, values: [ns1.example.com.]}\nns1: {type: A, value: 192.0.2.53}\n"
	var nodes []*testbin.Node
	for i := range 3 {
		var join []string
		for j, a := range mesh {
			if j != i {
				join = append(join, strconv.Quote(a))
			}
		}
		cfg := fmt.Sprintf("node: {name: node%d, region: %s}\ndns: {listen: [\"127.0.0.%d:0\"]}\n"+
			"mesh: {bind: %q, join: [%s], keyfile: mesh.key}\n", i+1, regions[i], i+1, mesh[i], strings.Join(join, ", "))
		nodes = append(nodes, testbin.Start(t, testbin.Config(cfg), map[string]string{
			"zones/example.com.yaml": zone, "mesh.key": meshKey + "\n"}))
	}
	f := &fleet{nodes: nodes}
	f.waitMembers(t, 3)

	// SIGTERM: exit 0, and the others see "left" without passing through
	// "dead".
	start := time.Now()
	nodes[2].Signal(syscall.SIGTERM)
	seen := map[string]bool{}
	testbin.Eventually(t, 10*time.Second, func() bool {
		left := true
		for _, n := range nodes[:2] {
			s := memberState(t, n, "node3")
			seen[s] = true
			left = left && s == "left"
		}
		return left
	}, "nodes 1 and 2 to list node3 as left (states seen %v)", seen)
	t.Logf("SIGTERM: peers list the node as left after %v", time.Since(start).Round(time.Millisecond))
	if seen["dead"] || seen["suspect"] {
		t.Errorf("after SIGTERM peers reported node3 as %v; want only alive then left", seen)
	}
	if err := nodes[2].Stop(); err != nil {
		t.Errorf("exit after SIGTERM: %v; want status 0\n%s", err, nodes[2].Logs())
	}
	if logs := nodes[0].Logs(); !strings.Contains(logs, "mesh member left or failed") {
		t.Errorf("node1 logs: want the leave logged\n%s", logs)
	}

	// SIGKILL: no leave message; the failure detector declares it dead.
	start = time.Now()
	nodes[1].Signal(syscall.SIGKILL)
	testbin.Eventually(t, 20*time.Second, func() bool { return memberState(t, nodes[0], "node2") == "dead" },
		"node1 to list node2 as dead")
	t.Logf("SIGKILL: the peer lists the node as dead after %v", time.Since(start).Round(time.Millisecond))
}

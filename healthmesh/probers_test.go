package healthmesh

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/meridiandns/meridian/pools"
)

// TestProbersPerRegion: with probers_per_region 1, one node of each
// region probes an endpoint and every node still has its verdict; when
// that prober leaves, another of its region takes over within about an
// interval, and a failure is still seen everywhere.
func TestProbersPerRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("mesh test: not in -short mode")
	}
	regions := []string{"us", "eu"}
	nodes := startNodes(t, 6, regions, nil, nil, func(_ int, o *MeshOptions) { o.ProbersPerRegion = 1 })
	waitAll(t, 10*time.Second, "all members", nodes, func(n *testNode) bool { return members(n) == 6 })
	o := testorigin.NewHTTP(t, "127.0.0.2:0", "ok")
	_, port, _ := net.SplitHostPort(o.Addr)
	p, _ := strconv.Atoi(port)
	ep := Endpoint{Address: "127.0.0.2", Check: Check{Protocol: "HTTP", Path: "/", Port: p, Interval: 300 * time.Millisecond,
		Timeout: 200 * time.Millisecond, Rise: 1, Fall: 1, Expect: []StatusRange{{Lo: 200, Hi: 399}}}}
	for _, n := range nodes {
		n.Reconcile([]Endpoint{ep})
	}
	probers := func() map[string]int { // region → nodes probing
		out := map[string]int{}
		for _, n := range nodes {
			if n.closed {
				continue
			}
			for _, s := range n.checker.Status() {
				if s.Endpoint.ID() == ep.ID() {
					out[n.region]++
				}
			}
		}
		return out
	}
	waitAll(t, 10*time.Second, "one prober per region", nodes, func(*testNode) bool {
		pr := probers()
		return pr["us"] == 1 && pr["eu"] == 1
	})
	// The us prober goes; another us node takes over.
	var gone *testNode
	for _, n := range nodes {
		for _, s := range n.checker.Status() {
			if s.Endpoint.ID() == ep.ID() && n.region == "us" {
				gone = n
			}
		}
	}
	gone.Close()
	gone.closed = true
	live := []*testNode{}
	for _, n := range nodes {
		if !n.closed {
			live = append(live, n)
		}
	}
	took := waitAll(t, 10*time.Second, "another us prober", live, func(*testNode) bool { return probers()["us"] == 1 })
	t.Logf("a new us prober took over %v after the last one closed (memberlist sees the leave first)", took.Round(time.Millisecond))
	v := &pools.Value{Value: "127.0.0.2", Endpoint: ep.ID()}
	o.Stop()
	waitAll(t, 10*time.Second, "the failure seen by every live node", live, func(n *testNode) bool {
		return n.State(nil, v) == pools.Unhealthy
	})
}

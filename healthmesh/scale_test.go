package healthmesh

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/pools"
)

// scaleEnv set to "full" makes TestMeshScale run the full measurement
// (3, 20 and 50 nodes, 1000 endpoints; make bench-mesh) instead of the
// short one make test runs.
const scaleEnv = "MERIDIAN_MESH_SCALE"

// scaleRun is one measurement of the mesh at scale.
type scaleRun struct {
	nodes     int
	endpoints int           // paths of one origin, each its own endpoint
	probers   int           // MeshOptions.ProbersPerRegion
	interval  time.Duration // of every check
	pushPull  time.Duration // memberlist's push/pull interval; 0 = its LAN default (30 s)
	strict    bool          // assert the targets, not only clear regressions
}

// Targets of the mesh at scale (on a 2-core machine, every node in one
// process).
const (
	targetSteady     = 10 << 10 // bytes a second a node sends (and, on average, receives)
	targetHeap       = 60 << 20 // bytes of heap a node holds
	targetExtraDelay = 3 * time.Second
)

// TestMeshScale runs a mesh of in-process nodes on loopback with
// memberlist's LAN defaults, in three regions, probing one origin (in a
// child process) at many paths, and measures what the mesh costs: its
// traffic in steady state and through a mass failure (every endpoint
// down at once), how long the failure takes to reach every node, and CPU
// and heap per node. Traffic is counted at memberlist's transport, so it
// is all of it: failure detection, gossip, push/pull.
//
// The short run (make test) is 20 nodes and 200 endpoints and fails only
// on clear regressions; MERIDIAN_MESH_SCALE=full (make bench-mesh) runs
// 3, 20 and 50 nodes with 1000 endpoints and asserts the targets, and
// MERIDIAN_MESH_SCALE=N one size alone.
func TestMeshScale(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("scale test: run without -race (make test does)")
	}
	// One prober per (region, endpoint): three probes per endpoint and
	// interval in all, whatever the number of nodes, which is what two
	// shared cores can run next to the mesh.
	// The short run checks every 2 s and has push/pull every 3 s rather
	// than 30 s, so that it is over in about half a minute and its steady
	// state, measured over 12 s, holds some push/pulls: a pessimistic
	// figure.
	runs := []scaleRun{{nodes: 20, endpoints: 200, probers: 1, interval: 2 * time.Second, pushPull: 3 * time.Second}}
	if n, err := strconv.Atoi(os.Getenv(scaleEnv)); err == nil && n > 0 {
		// One size alone: MERIDIAN_MESH_SCALE=50.
		runs = []scaleRun{{nodes: n, endpoints: 1000, probers: 1, interval: 5 * time.Second, strict: true}}
	}
	if os.Getenv(scaleEnv) == "full" {
		runs = []scaleRun{
			{nodes: 3, endpoints: 1000, probers: 1, interval: 5 * time.Second, strict: true},
			{nodes: 20, endpoints: 1000, probers: 1, interval: 5 * time.Second, strict: true},
			{nodes: 50, endpoints: 1000, probers: 1, interval: 5 * time.Second, strict: true},
		}
	}
	for _, r := range runs {
		t.Run(fmt.Sprintf("%dnodes-%dendpoints", r.nodes, r.endpoints), func(t *testing.T) { r.run(t) })
	}
}

func (r scaleRun) run(t *testing.T) {
	o := startOrigin(t, "127.0.0.2:0")
	ip, port := splitAddr(t, o.Addr)
	eps := make([]Endpoint, r.endpoints)
	for i := range eps {
		eps[i] = Endpoint{Address: ip, Check: Check{Protocol: "HTTP", Path: fmt.Sprintf("/e%d", i), Port: port,
			Interval: r.interval, Timeout: 2 * time.Second, Rise: 2, Fall: 2}}
	}

	start := time.Now()
	nodes, traffic := startScaleNodes(t, r.nodes, r.probers, r.pushPull)
	took := waitAll(t, 30*time.Second, "all nodes to see each other", nodes, func(n *testNode) bool { return members(n) == r.nodes })
	t.Logf("%d nodes joined in %v", r.nodes, took.Round(time.Millisecond))
	for _, n := range nodes {
		n.Reconcile(eps)
	}
	// Gossip alone does not always bring every vector everywhere at
	// start; push/pull does, within its interval.
	pp := r.pushPull
	if pp == 0 {
		pp = memberlist.DefaultLANConfig().PushPullInterval
	}
	took = waitAll(t, 2*r.interval+2*pushPullPeriod(pp, r.nodes)+10*time.Second, "every node to hold every node's vector", nodes, func(n *testNode) bool {
		return observers(n) == r.nodes
	})
	t.Logf("every node held every node's vector %v after the endpoints were set", took.Round(time.Millisecond))
	// Steady state, measured over two push/pull periods once every node
	// has begun its push/pulls (memberlist starts each at a random point
	// of the first interval, one period after it): the first probes
	// and the vector changes they cause have settled by then too.
	period := pushPullPeriod(pp, r.nodes)
	window := 2 * period
	time.Sleep(time.Until(start.Add(pp + period + time.Second)))
	t0, c0 := traffic.sum(), processCPU()
	time.Sleep(window)
	t1, c1 := traffic.sum(), processCPU()
	steady := t1.sub(t0).perNode(r.nodes, window)
	t.Logf("steady state over %v: %d push/pulls (TCP streams) by %d nodes; push/pull every %v per node", window, t1.sub(t0).streams, r.nodes, period)
	cpu := float64(c1-c0) / float64(window) / float64(r.nodes)
	probes := float64(3*r.probers*r.endpoints) / r.interval.Seconds()
	t.Logf("steady state over %v: %.0f B/s and %.1f packets/s sent per node (all memberlist traffic, UDP and TCP payload; received is the same on average), of which %.0f B/s our gossip messages",
		window, steady.bytes, steady.packets, steady.user)
	if st := nodes[0].state.Load(); st != nil {
		t.Logf("push/pull state of a node: %d bytes before memberlist compresses it", len(*st))
	}
	t.Logf("CPU: %.2f%% of a core per node (process CPU / %d nodes, probing %.0f probes/s in all included; the origin runs apart)",
		100*cpu, r.nodes, probes)

	// A drain set on one node.
	v := &pools.Value{Value: ip, Endpoint: eps[0].ID()}
	nodes[0].SetDrain(ip, 0, "scale test", "test", false)
	drain := waitAll(t, 10*time.Second, "the drain everywhere", nodes, func(n *testNode) bool { return n.Drained(nil, nil, v) })
	t.Logf("a drain set on one node reached all %d in %v", r.nodes, drain.Round(time.Millisecond))
	nodes[0].SetDrain(ip, 0, "scale test", "test", true)
	time.Sleep(2 * time.Second)

	// Mass failure: every path answers 500 at once.
	limit := 2*r.interval + targetExtraDelay
	t2 := traffic.sum()
	// When the probers alone have seen everything down: what is left
	// after that is the mesh's.
	probed := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		waitAll(t, 2*limit+10*time.Second, "every prober to see its endpoints down", nodes, func(n *testNode) bool {
			vt := n.checker.verdicts.Load()
			return vt.down == len(vt.state)
		})
		probed <- time.Since(start)
	}()
	o.SetMode(t, "500")
	down := waitAll(t, 2*limit+10*time.Second, "every node to see every endpoint down", nodes, func(n *testNode) bool {
		return n.verdicts.Load().down == r.endpoints
	})
	t3 := traffic.sum()
	burst := t3.sub(t2)
	t.Logf("mass failure: every prober had seen its own endpoints down after %v", (<-probed).Round(time.Millisecond))
	t.Logf("mass failure (%d endpoints down at once): every node had every verdict down after %v (target %v: 2 intervals + 3 s); %.0f bytes sent per node meanwhile (%.0f B/s), %.0f of them our gossip",
		r.endpoints, down.Round(time.Millisecond), limit, float64(burst.bytes)/float64(r.nodes),
		float64(burst.bytes)/float64(r.nodes)/down.Seconds(), float64(burst.user)/float64(r.nodes))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := ms.HeapInuse / uint64(r.nodes)
	t.Logf("heap in use after GC: %.1f MB per node (%.0f MB / %d nodes); run took %v",
		float64(heap)/(1<<20), float64(ms.HeapInuse)/(1<<20), r.nodes, time.Since(start).Round(time.Second))

	// The short run fails only on clear regressions: twice the targets.
	slack := 2.0
	if r.strict {
		slack = 1
	}
	if steady.bytes > slack*targetSteady {
		t.Errorf("steady state %.0f B/s per node; want <= %.0f", steady.bytes, slack*targetSteady)
	}
	if float64(down) > slack*float64(limit) {
		t.Errorf("mass failure reached every node after %v; want <= %v", down.Round(time.Millisecond), time.Duration(slack*float64(limit)))
	}
	if float64(heap) > slack*targetHeap {
		t.Errorf("heap %.1f MB per node; want < %.0f MB", float64(heap)/(1<<20), slack*targetHeap/(1<<20))
	}
	if drain > time.Duration(slack*float64(2*time.Second)) {
		t.Errorf("drain replication %v; want within %v", drain, time.Duration(slack*float64(2*time.Second)))
	}
}

// startScaleNodes starts n nodes with memberlist's LAN defaults (as
// production runs), each on its own 127.0.0.x address, and counts what
// each sends.
func startScaleNodes(t *testing.T, n, probers int, pushPull time.Duration) ([]*testNode, meshTraffics) {
	t.Helper()
	regions := []string{"us-east", "eu-west", "ap-south"}
	traffic := make(meshTraffics, n)
	var nodes []*testNode
	var first string
	for i := range n {
		host := fmt.Sprintf("127.0.0.%d", 10+i)
		addr := net.JoinHostPort(host, fmt.Sprint(testbin.FreePort(t, host)))
		if i == 0 {
			first = addr
		}
		tr := &traffic[i]
		o := &MeshOptions{Bind: addr, Key: []byte("0123456789abcdef0123456789abcdef"), ProbersPerRegion: probers, PushPullInterval: pushPull,
			wrapTransport: func(nt memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
				return &countingTransport{NodeAwareTransport: nt, c: tr}
			}}
		if i > 0 {
			o.Join = []string{first}
		}
		log := slog.New(slog.DiscardHandler)
		if os.Getenv("MERIDIAN_TEST_LOG") != "" {
			log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", i)
		}
		node, err := NewNode(NodeOptions{Name: fmt.Sprintf("n%02d", i), Region: regions[i%len(regions)], Mesh: o, Log: log},
			NewChecker(Options{AssumeUp: true}, &Prober{}, log))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &testNode{Node: node, addr: addr})
		tr.user = &node.mesh.bytesOut
	}
	t.Cleanup(func() {
		// Each leave waits for its broadcast: all at once, not in turn.
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.Close()
			}()
		}
		wg.Wait()
	})
	return nodes, traffic
}

// pushPullPeriod is how often a member of an n-member mesh pushes and
// pulls state with another, as memberlist scales interval with n: once
// more per doubling past 32 members.
func pushPullPeriod(interval time.Duration, n int) time.Duration {
	if n <= 32 {
		return interval
	}
	return time.Duration(math.Ceil(math.Log2(float64(n))-5)+1) * interval
}

// observers is how many live members' vectors n holds (its own included).
func observers(n *testNode) int {
	c := 0
	n.call(func(v *view) {
		for _, o := range v.observers {
			if o.alive && o.known != nil {
				c++
			}
		}
	})
	return c
}

// meshTraffic counts what one member sends through memberlist's
// transport: UDP packets, and both directions of the TCP streams it
// opens (push/pull, and messages too large for a packet). Every stream
// is opened by one member, so over the mesh each byte is counted once.
type meshTraffic struct {
	packets, bytes atomic.Int64
	streams        atomic.Int64  // TCP streams opened
	user           *atomic.Int64 // the node's own gossip bytes, as the mesh counts them
}

type meshTraffics []meshTraffic

// trafficSum is a reading of every member's counters, summed.
type trafficSum struct{ packets, bytes, streams, user int64 }

func (ts meshTraffics) sum() trafficSum {
	var s trafficSum
	for i := range ts {
		s.packets += ts[i].packets.Load()
		s.bytes += ts[i].bytes.Load()
		s.streams += ts[i].streams.Load()
		if ts[i].user != nil {
			s.user += ts[i].user.Load()
		}
	}
	return s
}

func (s trafficSum) sub(o trafficSum) trafficSum {
	return trafficSum{s.packets - o.packets, s.bytes - o.bytes, s.streams - o.streams, s.user - o.user}
}

// perNode is a rate per node.
func (s trafficSum) perNode(n int, d time.Duration) struct{ bytes, packets, user float64 } {
	f := float64(n) * d.Seconds()
	return struct{ bytes, packets, user float64 }{float64(s.bytes) / f, float64(s.packets) / f, float64(s.user) / f}
}

// countingTransport counts what passes through a member's transport.
type countingTransport struct {
	memberlist.NodeAwareTransport
	c *meshTraffic
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.c.packets.Add(1)
	t.c.bytes.Add(int64(len(b)))
	return t.NodeAwareTransport.WriteTo(b, addr)
}

func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t.c.packets.Add(1)
	t.c.bytes.Add(int64(len(b)))
	return t.NodeAwareTransport.WriteToAddress(b, a)
}

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := t.NodeAwareTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	t.c.streams.Add(1)
	return &countingConn{Conn: c, c: t.c}, nil
}

func (t *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := t.NodeAwareTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	t.c.streams.Add(1)
	return &countingConn{Conn: c, c: t.c}, nil
}

// countingConn counts a stream's bytes both ways.
type countingConn struct {
	net.Conn
	c *meshTraffic
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.bytes.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.c.bytes.Add(int64(n))
	return n, err
}

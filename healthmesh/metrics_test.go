package healthmesh

import (
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/promtest"
	"github.com/meridiandns/meridian/internal/testorigin"
)

// gather returns every sample n's collector exports as
// `name{k="v",...}` → value (histograms: their _count).
func gather(t *testing.T, n *Node) map[string]float64 {
	t.Helper()
	mfs := promtest.Gather(t, n.Collector())
	promtest.Lint(t, mfs)
	return promtest.Samples(mfs)
}

func dump(m map[string]float64) string {
	var lines []string
	for k, v := range m {
		lines = append(lines, k+" "+strconv.FormatFloat(v, 'g', -1, 64))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestNodeMetrics probes a real origin: probe counts and latencies by
// result, the verdict gauge and its changes as the origin stops, drains,
// and the series leaving with the endpoint.
func TestNodeMetrics(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.2:0", "ok")
	_, port, _ := net.SplitHostPort(o.Addr)
	p, _ := strconv.Atoi(port)
	ep := Endpoint{Address: "127.0.0.2", Check: Check{Protocol: "HTTP", Path: "/health", Port: p, Interval: 100 * time.Millisecond,
		Timeout: 200 * time.Millisecond, Rise: 1, Fall: 2, Expect: []StatusRange{{Lo: 200, Hi: 299}}}}
	log := slog.New(slog.DiscardHandler)
	n, err := NewNode(NodeOptions{Name: "n1", Region: "eu", Log: log}, NewChecker(Options{AssumeUp: true}, &Prober{}, log))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.Reconcile([]Endpoint{ep})

	lbl := `endpoint="http://127.0.0.2:` + port + `/health",id="` + ep.ID() + `"`
	probes := func(result string) string {
		return `meridian_health_probes_total{` + lbl + `,result="` + result + `"}`
	}
	up := `meridian_health_endpoint_up{` + lbl + `}`
	toDown := `meridian_health_verdict_changes_total{` + lbl + `,to="down"}`
	toUp := `meridian_health_verdict_changes_total{` + lbl + `,to="up"}`
	latency := `meridian_health_probe_duration_seconds{` + lbl + `}`
	var m map[string]float64
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for m = gather(t, n); !cond(); m = gather(t, n) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; metrics:\n%s", what, dump(m))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	wait("two ok probes", func() bool { return m[probes("ok")] >= 2 })
	if m[up] != 1 || m[toDown] != 0 || m[probes("fail")] != 0 || m[latency] != m[probes("ok")] {
		t.Errorf("origin up: got up %v, changes to down %v, failed probes %v, latency samples %v (ok probes %v); want 1, 0, 0, one per probe",
			m[up], m[toDown], m[probes("fail")], m[latency], m[probes("ok")])
	}
	for _, s := range []string{`meridian_mesh_members{region="eu",state="alive"}`} {
		if m[s] != 1 {
			t.Errorf("%s: got %v; want 1 (a node alone is its own member)", s, m[s])
		}
	}

	o.Stop()
	wait("the verdict to go down", func() bool { return m[up] == 0 })
	if m[toDown] != 1 || m[toUp] != 0 || m[probes("fail")] < 2 {
		t.Errorf("origin down: got changes to down %v, to up %v, failed probes %v; want 1, 0, at least fall=2", m[toDown], m[toUp], m[probes("fail")])
	}
	o.Start()
	wait("the verdict to come back", func() bool { return m[up] == 1 })
	if m[toDown] != 1 || m[toUp] != 1 {
		t.Errorf("origin back: got changes to down %v, to up %v; want 1, 1", m[toDown], m[toUp])
	}

	n.SetDrain("127.0.0.9", 0, "test", "test", false)
	n.SetDrain("pool:eu", time.Hour, "test", "test", false)
	n.SetDrain("127.0.0.9", 0, "", "test", true)
	if m = gather(t, n); m["meridian_drains_active{}"] != 1 {
		t.Errorf("drains active: got %v; want 1 (two set, one removed)", m["meridian_drains_active{}"])
	}

	// The checker stops probing apart from the node's loop: its series go
	// once it has.
	n.Reconcile(nil)
	gone := func() bool {
		for k := range m {
			if strings.Contains(k, ep.ID()) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(5 * time.Second)
	for m = gather(t, n); !gone() && time.Now().Before(deadline); m = gather(t, n) {
		time.Sleep(10 * time.Millisecond)
	}
	for k := range m {
		if strings.Contains(k, ep.ID()) {
			t.Errorf("after the endpoint was removed: got %s; want its series gone", k)
		}
	}
}

// TestMeshMetrics: two gossiping nodes count each other as members and
// count the messages a drain sends.
func TestMeshMetrics(t *testing.T) {
	nodes := startNodes(t, 2, []string{"eu", "us"}, []byte("0123456789abcdef0123456789abcdef"), nil)
	waitAll(t, 10*time.Second, "the pair to form", nodes, func(n *testNode) bool { return members(n) == 2 })
	nodes[0].SetDrain("pool:eu", 0, "test", "test", false)
	waitAll(t, 10*time.Second, "the drain on both", nodes, func(n *testNode) bool { return len(n.Drains()) == 1 })
	m0, m1 := gather(t, nodes[0].Node), gather(t, nodes[1].Node)
	for _, tt := range []struct {
		name string
		m    map[string]float64
		key  string
		min  float64
	}{
		{"sender: eu alive", m0, `meridian_mesh_members{region="eu",state="alive"}`, 1},
		{"sender: us alive", m0, `meridian_mesh_members{region="us",state="alive"}`, 1},
		{"receiver: eu alive", m1, `meridian_mesh_members{region="eu",state="alive"}`, 1},
		{"sender: messages sent", m0, `meridian_mesh_messages_total{direction="sent"}`, 1},
		{"sender: bytes sent", m0, `meridian_mesh_bytes_total{direction="sent"}`, 50},
		{"receiver: messages received", m1, `meridian_mesh_messages_total{direction="received"}`, 1},
		{"receiver: bytes received", m1, `meridian_mesh_bytes_total{direction="received"}`, 50},
		{"receiver: drain active", m1, `meridian_drains_active{}`, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m[tt.key]; got < tt.min {
				t.Errorf("%s: got %v; want at least %v", tt.key, got, tt.min)
			}
		})
	}
	if got := m0[`meridian_mesh_members{region="eu",state="dead"}`]; got != 0 {
		t.Errorf("dead members in eu: got %v; want 0", got)
	}
	if _, ok := m0[`meridian_mesh_members{region="eu",state="dead"}`]; !ok {
		t.Errorf("members: got no dead series for eu; want every state reported, 0 included\n%s", dump(m0))
	}
}

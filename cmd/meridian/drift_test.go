package main

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/meridiandns/meridian/internal/testbin"
)

// driftZone is a static zone; www's address is what a deploy changes.
func driftZone(www string) string {
	return `'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
www: {type: A, value: ` + www + `}
`
}

// flaggedBy lists the members a node's status flags as drifting, "-" for
// none, or "unknown" while a live member's zone set is not known yet.
func flaggedBy(t *testing.T, n *testbin.Node) string {
	st := status(t, n)
	ms, _ := st["members"].([]any)
	if len(ms) != 3 {
		return "unknown"
	}
	var out []string
	for _, m := range ms {
		mm, _ := m.(map[string]any)
		zs, _ := mm["zone_set"].(map[string]any)
		if mm["state"] != "alive" || zs["digest"] == "" {
			return "unknown"
		}
		if zs["drifting"] == true {
			out = append(out, fmt.Sprint(mm["name"]))
		}
	}
	if len(out) == 0 {
		return "-"
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestMeshZoneDrift runs three real nodes in a mesh with a 1s
// mesh.drift_grace, the third serving another version of the zone file
// (a deploy that reached only it): every node flags the third within
// seconds, and neither of the others, in /api/v1/status, `meridian
// status`, /metrics and the status page. Once its file matches again,
// the flag clears everywhere.
func TestMeshZoneDrift(t *testing.T) {
	var mesh []string
	for i := range 3 {
		host := fmt.Sprintf("127.0.0.%d", i+1)
		mesh = append(mesh, net.JoinHostPort(host, strconv.Itoa(testbin.FreePort(t, host))))
	}
	f := &fleet{mesh: mesh}
	for i := range 3 {
		www := "192.0.2.80"
		if i == 2 {
			www = "192.0.2.81"
		}
		f.nodes = append(f.nodes, testbin.Start(t, meshConfig(i, mesh)+"  drift_grace: 1s\n", map[string]string{
			"zones/example.com.yaml": driftZone(www),
			"mesh.key":               meshKey + "\n",
		}))
	}
	f.waitMembers(t, 3)
	start := time.Now()
	flags := func() string {
		var out []string
		for _, n := range f.nodes {
			out = append(out, flaggedBy(t, n))
		}
		return strings.Join(out, " ")
	}
	testbin.Eventually(t, 10*time.Second, func() bool { return flags() == "node3 node3 node3" },
		"every node to flag node3 alone: %s", flags)
	t.Logf("every node flagged the odd one %v after all three saw each other (grace 1s)", time.Since(start).Round(time.Millisecond))

	// The JSON: digests, counts, this node's zones with their serials.
	st := status(t, f.nodes[0])
	zs, _ := st["zone_set"].(map[string]any)
	zones, _ := zs["zones"].([]any)
	if len(zones) != 1 || zs["count"] != 1.0 || zs["drifting"] != 1.0 || zs["majority"] != zs["digest"] || zs["drift_grace"] != 1e9 {
		t.Errorf("node1 zone_set: got %v; want its one zone, the majority's digest, 1 drifting, grace 1s", zs)
	}
	if z, _ := zones[0].(map[string]any); z["origin"] != "example.com." || z["serial"] == 0.0 || len(fmt.Sprint(z["hash"])) != 12 {
		t.Errorf("node1 zones: got %v; want example.com. with its serial and hash", zones)
	}
	byName := map[string]map[string]any{}
	for _, m := range st["members"].([]any) {
		mm := m.(map[string]any)
		byName[fmt.Sprint(mm["name"])] = mm["zone_set"].(map[string]any)
	}
	if a, b, c := byName["node1"], byName["node2"], byName["node3"]; a["digest"] != b["digest"] || a["digest"] == c["digest"] ||
		a["differs"] != false || c["differs"] != true || c["since"] == nil || c["count"] != 1.0 {
		t.Errorf("node1's members: got %v; want node1 and node2 alike, node3 differing with its since", byName)
	}

	// The CLI, on the odd node and on another.
	bin := testbin.Build(t)
	out, err := exec.Command(bin, "status", "--api", f.nodes[2].API).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "DRIFTING: differs from the majority's") {
		t.Errorf("meridian status on node3: %v\n%s\nwant it to say it drifts", err, out)
	}
	out, err = exec.Command(bin, "status", "--api", f.nodes[0].API).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "the same as the majority") || !strings.Contains(string(out), "drifting: 1 live member") {
		t.Errorf("meridian status on node1: %v\n%s\nwant it in the majority, one member drifting", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "node3") != strings.Contains(line, "DRIFTING") {
			t.Errorf("meridian status on node1: line %q; want DRIFTING on node3's line alone", line)
		}
	}

	// The metrics.
	for i, n := range f.nodes {
		m := scrapeMetrics(t, n)
		self := 0.0
		if i == 2 {
			self = 1
		}
		if got := m["meridian_mesh_zone_drift{}"]; got != 1 {
			t.Errorf("node%d: meridian_mesh_zone_drift: got %v; want 1", i+1, got)
		}
		if got := m["meridian_mesh_zone_drift_self{}"]; got != self {
			t.Errorf("node%d: meridian_mesh_zone_drift_self: got %v; want %v", i+1, got, self)
		}
	}

	t.Run("status page", func(t *testing.T) {
		ctx := browser(t)
		within(t, ctx, 10*time.Second, "see node3 drifting and node1 not",
			chromedp.Navigate("http://"+f.nodes[0].API+"/"),
			chromedp.WaitVisible(chromedp.CSS(`li[data-member="node3"][data-drifting="true"]`)),
			chromedp.WaitVisible(chromedp.CSS(`li[data-member="node1"][data-drifting="false"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#zone-set`)),
		)
		if got := pageText(t, ctx, `li[data-member="node3"] .zone-note`); !strings.Contains(got, "drifting") {
			t.Errorf("node3's note: got %q; want it drifting", got)
		}
	})

	// The deploy reaches node3: the flag clears everywhere.
	testbin.WriteFile(t, filepath.Join(f.nodes[2].Dir, "zones", "example.com.yaml"), driftZone("192.0.2.80"))
	fixed := time.Now()
	testbin.Eventually(t, 10*time.Second, func() bool { return flags() == "- - -" },
		"the flag to clear everywhere: %s", flags)
	t.Logf("fixed: the flag cleared everywhere within %v", time.Since(fixed).Round(time.Millisecond))
}

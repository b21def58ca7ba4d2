package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/meshtest"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
)

// startPrimaryFleet starts three nodes serving meshZone over a primary
// origin (127.0.0.20) and a secondary (127.0.0.21), both up, and waits
// until every node answers the primary. It returns the fleet, the
// primary, and the zone.
func startPrimaryFleet(t *testing.T) (*fleet, *testorigin.HTTP, string) {
	t.Helper()
	a := testorigin.NewHTTP(t, "127.0.0.20:0", "ok")
	_, port, _ := net.SplitHostPort(a.Addr)
	testorigin.NewHTTP(t, "127.0.0.21:"+port, "ok")
	zone := meshZone("127.0.0.20", "127.0.0.21", port)
	f := startFleet(t, zone)
	f.answersEverywhere(t, "127.0.0.20", 5*time.Second)
	return f, a, zone
}

// forgePage rewrites a vector page heard on the mesh as an attacker
// would: every endpoint down and the highest version there is. With
// resign, it is signed again with key (not its observer's); without, it
// keeps the observer's signature, which no longer matches.
func forgePage(b []byte, key ed25519.PrivateKey, resign bool) []byte {
	off := 2
	off += 1 + int(b[off]) // observer
	off += 1 + int(b[off]) // region
	version := off
	off += 8 + 8 + 4 + 4
	count := int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	out := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(out[version:], math.MaxUint64)
	for i := range (count + 7) / 8 {
		out[off+i] = 0 // up bits: none
	}
	if !resign {
		return out
	}
	body := out[:len(out)-ed25519.SignatureSize]
	return append(body, ed25519.Sign(key, body)...)
}

// pageObserver is the observer a vector page names.
func pageObserver(b []byte) string { return string(b[3 : 3+int(b[2])]) }

// endpointIDs are the endpoint IDs a node's status lists.
func endpointIDs(t *testing.T, n *testbin.Node) []string {
	var ids []string
	eps, _ := status(t, n)["endpoints"].([]any)
	for _, e := range eps {
		ids = append(ids, e.(map[string]any)["id"].(string))
	}
	return ids
}

func meshKeyBytes(t *testing.T) []byte {
	k, err := base64.StdEncoding.DecodeString(meshKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestMeshForgery: a member holding the mesh key speaks for the other
// nodes, in the current format (their pages, every endpoint down, the
// highest version, signed with its own key or with theirs left broken)
// and in the format of versions before state vectors (sequence 2^64-1),
// and drains the primary with a stamp from year 9999. Nothing it says
// changes a verdict or an answer; each node counts what it refused;
// once it leaves, a real failure is seen everywhere as fast as ever.
func TestMeshForgery(t *testing.T) {
	f, a, _ := startPrimaryFleet(t)

	_, key, _ := ed25519.GenerateKey(nil)
	meta := []byte("us-east\nkey=" + base64.RawURLEncoding.EncodeToString(key.Public().(ed25519.PublicKey)))
	bind := net.JoinHostPort("127.0.0.9", strconv.Itoa(testbin.FreePort(t, "127.0.0.9")))
	r := meshtest.Join(t, "intruder", bind, meta, meshKeyBytes(t), f.mesh)
	heard := map[string][]byte{}
	testbin.Eventually(t, 10*time.Second, func() bool {
		for _, p := range r.Received('V') {
			heard[pageObserver(p)] = p
		}
		return len(heard) == 3
	}, "the intruder to hear a page of every node")
	ids := endpointIDs(t, f.nodes[0])

	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		for name, p := range heard {
			r.Send(forgePage(p, key, true))
			r.Send(forgePage(p, key, false))
			for _, id := range ids {
				r.Send([]byte(fmt.Sprintf(`o{"n":%q,"r":"us-east","i":[{"e":%q,"u":false,"q":18446744073709551615}]}`, name, id)))
			}
		}
		// A drain of the primary that no undo could ever beat.
		r.Send([]byte(`d{"target":"127.0.0.20","set_at":"9999-12-31T23:59:59Z","by":"node1"}`))
		for _, n := range f.nodes {
			if got, _ := answerA(t, n.Addr, "app.example.com."); got != "127.0.0.20" {
				t.Fatalf("node %s answers %q under forged pages; want the primary, 127.0.0.20, which is up", n.Addr, got)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, n := range f.nodes {
		m := scrapeMetrics(t, n)
		if m[`meridian_mesh_drains_refused_total{reason="future"}`] == 0 {
			t.Errorf("node %d: the drain from year 9999 was not counted as refused", i+1)
		}
		if m[`meridian_mesh_refused_total{reason="signature"}`] == 0 || m["meridian_mesh_malformed_messages_total{}"] == 0 {
			t.Errorf("node %d: refused (signature) %v, malformed %v; want both counted", i+1,
				m[`meridian_mesh_refused_total{reason="signature"}`], m["meridian_mesh_malformed_messages_total{}"])
		}
	}

	r.Leave()
	a.Stop()
	took := f.answersEverywhere(t, "127.0.0.21", 5*time.Second)
	t.Logf("after the intruder left, a real failure reached all three nodes in %v (interval 1s, fall 2)", took.Round(time.Millisecond))
}

// TestMeshDuplicateName: a second process started with a name another
// member has (in another region) is refused at join: it stops with a
// clear error, the others count it, and the member with the name keeps
// its vote.
func TestMeshDuplicateName(t *testing.T) {
	f, a, zone := startPrimaryFleet(t)

	bind := net.JoinHostPort("127.0.0.4", strconv.Itoa(testbin.FreePort(t, "127.0.0.4")))
	cfg := strings.Replace(string(meshConfig(0, f.mesh)), "region: us-east", "region: ap-south", 1)
	cfg = strings.Replace(cfg, `127.0.0.1:0`, `127.0.0.4:0`, 1)
	cfg = strings.Replace(cfg, strconv.Quote(f.mesh[0]), strconv.Quote(bind), 1)
	cfg = strings.Replace(cfg, "join: [", "join: ["+strconv.Quote(f.mesh[0])+", ", 1)
	dup := testbin.Start(t, testbin.Config(cfg), map[string]string{"zones/example.com.yaml": zone, "mesh.key": meshKey + "\n"})
	dup.WaitLog(`node.name \"node1\" is already used by the member at`, 10*time.Second)
	if err := dup.Stop(); err == nil {
		t.Errorf("the newcomer exited 0; want an error exit\n%s", dup.Logs())
	}
	for i, n := range f.nodes[1:] {
		if m := scrapeMetrics(t, n); m[`meridian_mesh_refused_total{reason="name_conflict"}`] == 0 {
			t.Errorf("node %d: name conflicts not counted", i+2)
		}
	}
	// node1 still speaks for us-east: its observations are on node 2.
	testbin.Eventually(t, 5*time.Second, func() bool {
		eps, _ := status(t, f.nodes[1])["endpoints"].([]any)
		for _, e := range eps {
			for _, o := range e.(map[string]any)["observations"].([]any) {
				if ob := o.(map[string]any); ob["observer"] == "node1" && ob["region"] == "us-east" {
					return true
				}
			}
		}
		return false
	}, "node1's observations, from us-east, on node 2: %v\n%s", func() string { return fmt.Sprint(status(t, f.nodes[1])["endpoints"]) }, f.nodes[1].Logs)
	a.Stop()
	f.answersEverywhere(t, "127.0.0.21", 5*time.Second)
}

// TestMeshRestartedNewsWins: a restarted node counts its versions from 1
// again under a new key, and its news still replaces what its previous
// process said (no clock is compared, so a clock that ran ahead before a
// restart cannot silence a node either).
func TestMeshRestartedNewsWins(t *testing.T) {
	f, a, _ := startPrimaryFleet(t)
	seq := func(observer string) (float64, string) { // node 1's view of observer's opinion of the primary
		eps, _ := status(t, f.nodes[0])["endpoints"].([]any)
		for _, e := range eps {
			em := e.(map[string]any)
			if !strings.Contains(em["name"].(string), "127.0.0.20") {
				continue
			}
			for _, o := range em["observations"].([]any) {
				if ob := o.(map[string]any); ob["observer"] == observer {
					return ob["seq"].(float64), fmt.Sprint(ob["up"])
				}
			}
		}
		return 0, ""
	}
	// Flaps raise node 2's version.
	for range 3 {
		a.Stop()
		f.answersEverywhere(t, "127.0.0.21", 5*time.Second)
		a.Start()
		f.answersEverywhere(t, "127.0.0.20", 5*time.Second)
	}
	testbin.Eventually(t, 5*time.Second, func() bool { _, up := seq("node2"); return up == "true" },
		"node 1 to hold node 2's up")
	before, _ := seq("node2")

	if err := f.nodes[1].Stop(); err != nil {
		t.Fatal(err)
	}
	f.nodes[1].Restart()
	f.waitMembers(t, 3)
	a.Stop()
	f.answersEverywhere(t, "127.0.0.21", 5*time.Second)
	testbin.Eventually(t, 5*time.Second, func() bool { _, up := seq("node2"); return up == "false" },
		"node 1 to hold the restarted node 2's down")
	after, _ := seq("node2")
	if after >= before {
		t.Errorf("node 2's version after the restart: %v; want it counting again below %v (a new key, not a clock)", after, before)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/miekg/dns"
)

// kill9 kills n with SIGKILL, as a power cut or the OOM killer would, and
// waits until it is gone.
func kill9(n *testbin.Node) {
	n.Signal(syscall.SIGKILL)
	n.Stop() // only waits: the process is already dying
}

// faultZone is zone number i at version v: an apex TXT naming the version
// and hosts A records, enough that a set of them takes a while to load.
func faultZone(i, v, hosts int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "'':\n  - {type: NS, values: [ns1.z%d.test.]}\n  - {type: TXT, value: v%d}\nns1: {type: A, value: 192.0.2.53}\n", i, v)
	for h := range hosts {
		fmt.Fprintf(&b, "h%d: {type: A, value: 10.%d.%d.%d}\n", h, v%256, h/256, h%256)
	}
	return b.String()
}

// zoneVersion asks addr for the version TXT of zone z<i>.test: "v3", or
// the rcode ("REFUSED") when there is no answer, or "error: ...".
func zoneVersion(addr string, i int) string {
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(q(fmt.Sprintf("z%d.test.", i), dns.TypeTXT), addr)
	if err != nil {
		return "error: " + err.Error()
	}
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			return txt.Txt[0]
		}
	}
	return dns.RcodeToString[r.Rcode]
}

// reloadProblems is the problems of the last reload in n's status.
func reloadProblems(t *testing.T, n *testbin.Node) string {
	rl, _ := status(t, n)["reload"].(map[string]any)
	return fmt.Sprint(rl["problems"])
}

// TestKillDuringReload kills the server with SIGKILL at varied points of
// reloading a zone set that takes a noticeable time to load. Whatever the
// moment, the state dir holds complete files (each last good copy is the
// old or the new version byte for byte), the restart serves every zone, and
// a zone file found broken at the restart is served from its last good copy
// with the problem reported. A zone deleted while the server is down stays
// deleted.
func TestKillDuringReload(t *testing.T) {
	const zonesN, hosts, rounds = 16, 2000, 10
	texts := map[[2]int]string{}
	faultZone := func(i, v, hosts int) string { // the texts are big: make each once
		k := [2]int{i, v}
		if texts[k] == "" {
			texts[k] = faultZone(i, v, hosts)
		}
		return texts[k]
	}
	files := map[string]string{}
	for i := range zonesN {
		files[fmt.Sprintf("zones/z%d.test.yaml", i)] = faultZone(i, 0, hosts)
	}
	n := testbin.Start(t, testbin.Config(baseConfig+"state_dir: state\n"), files)
	zonePath := func(i int) string { return filepath.Join(n.Dir, "zones", fmt.Sprintf("z%d.test.yaml", i)) }
	copyPath := func(i int) string { return filepath.Join(n.Dir, "state", "last-good", fmt.Sprintf("z%d.test.yaml", i)) }
	writeVersion := func(v int) {
		for i := range zonesN {
			testbin.WriteFile(t, zonePath(i), faultZone(i, v, hosts))
		}
	}
	allAt := func(v int) bool {
		for i := range zonesN {
			if zoneVersion(n.Addr, i) != fmt.Sprintf("v%d", v) {
				return false
			}
		}
		return true
	}

	// How long a reload of this set takes, to spread the kills over it.
	writeVersion(1)
	start := time.Now()
	n.Signal(syscall.SIGHUP)
	testbin.Eventually(t, 20*time.Second, func() bool { return zoneVersion(n.Addr, zonesN-1) == "v1" }, "version 1\n%s", n.Logs)
	took := time.Since(start)
	t.Logf("a reload of %d zones × %d records takes about %v", zonesN, hosts, took.Round(time.Millisecond))

	last := fmt.Sprintf("z%d.test.", zonesN-1) // never broken below
	prevSerial := serial(t, n.Addr, last)
	for round := range rounds {
		v := round + 2
		writeVersion(v)
		n.Signal(syscall.SIGHUP)
		delay := took * time.Duration(round) / time.Duration(rounds-2) // 0 up to past the end
		time.Sleep(delay)
		kill9(n)

		// Every state file is whole: a copy is the old or the new version.
		saved := map[int]int{} // zone → version of its copy
		for i := range zonesN {
			data, err := os.ReadFile(copyPath(i))
			if err != nil {
				t.Fatalf("round %d: last good copy of z%d: %v", round, i, err)
			}
			old, cur := faultZone(i, v-1, hosts), faultZone(i, v, hosts)
			switch string(data) {
			case old:
				saved[i] = v - 1
			case cur:
				saved[i] = v
			default:
				t.Fatalf("round %d (killed after %v): copy of z%d is neither version (%d bytes)", round, delay, i, len(data))
			}
		}
		atNew := 0
		for _, sv := range saved {
			if sv == v {
				atNew++
			}
		}
		t.Logf("round %d: killed %v after SIGHUP: %d of %d last good copies at the new version", round,
			delay.Round(time.Millisecond), atNew, zonesN)
		if data, err := os.ReadFile(filepath.Join(n.Dir, "state", "zone-serials.json")); err != nil || !json.Valid(data) {
			t.Fatalf("round %d: zone-serials.json: %v, valid JSON %v", round, err, json.Valid(data))
		}

		// One zone file is broken when the server comes back.
		broken := round % zonesN
		testbin.WriteFile(t, zonePath(broken), "'': {type: A, value: not-an-address}\n")
		n.Restart()
		for i := range zonesN {
			want := fmt.Sprintf("v%d", v)
			if i == broken {
				want = fmt.Sprintf("v%d", saved[i])
			}
			if got := zoneVersion(n.Addr, i); got != want {
				t.Errorf("round %d (killed after %v): z%d answers %s; want %s", round, delay, i, got, want)
			}
		}
		if p := reloadProblems(t, n); !strings.Contains(p, fmt.Sprintf("z%d.test.yaml:1:", broken)) ||
			!strings.Contains(p, "serving the last good copy saved at") {
			t.Errorf("round %d: reload problems %s; want the broken file's line and the copy served", round, p)
		}
		if s := serial(t, n.Addr, last); s <= prevSerial {
			t.Errorf("round %d: serial of %s %d after restart with new content; want more than %d", round, last, s, prevSerial)
		} else {
			prevSerial = s
		}
		testbin.WriteFile(t, zonePath(broken), faultZone(broken, v, hosts))
		testbin.Eventually(t, 10*time.Second, func() bool { return allAt(v) }, "every zone at v%d after the fix\n%s", v, n.Logs)
		if t.Failed() {
			return
		}
	}

	// A zone deleted while the server is down is not brought back.
	kill9(n)
	if err := os.Remove(zonePath(3)); err != nil {
		t.Fatal(err)
	}
	n.Restart()
	if got := zoneVersion(n.Addr, 3); got != "REFUSED" {
		t.Errorf("deleted zone after restart: got %s; want REFUSED", got)
	}
	if _, err := os.Stat(copyPath(3)); !os.IsNotExist(err) {
		t.Errorf("copy of the deleted zone: %v; want it removed", err)
	}
}

// drainOp is one drain change made through the API.
type drainOp struct {
	target string
	undo   bool
}

// apply returns the drains after op.
func (op drainOp) apply(set map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range set {
		out[k] = true
	}
	if op.undo {
		delete(out, op.target)
	} else {
		out[op.target] = true
	}
	return out
}

// sendDrain makes op through n's API; false when the call did not succeed
// (the server was killed).
func sendDrain(api string, op drainOp) bool {
	c := &http.Client{Timeout: 2 * time.Second}
	var req *http.Request
	if op.undo {
		req, _ = http.NewRequest("DELETE", "http://"+api+"/api/v1/drains/"+op.target, nil)
	} else {
		req, _ = http.NewRequest("POST", "http://"+api+"/api/v1/drains",
			strings.NewReader(fmt.Sprintf(`{"target":%q,"reason":"fault test","force":true}`, op.target)))
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusOK
}

// drainFile reads the drains persisted in path as a set of active targets.
func drainFile(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]bool{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Target  string `json:"target"`
		Deleted bool   `json:"deleted"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatalf("drains.json does not parse: %v\n%s", err, data)
	}
	out := map[string]bool{}
	for _, d := range list {
		if !d.Deleted {
			out[d.Target] = true
		}
	}
	return out
}

// servedDrains is the set of drains n's API lists.
func servedDrains(t *testing.T, n *testbin.Node) map[string]bool {
	t.Helper()
	code, body := apiCall(t, n, "GET", "/api/v1/drains", "")
	var reply struct {
		Drains []struct {
			Target string `json:"target"`
		} `json:"drains"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &reply) != nil {
		t.Fatalf("GET /api/v1/drains: %d %s", code, body)
	}
	out := map[string]bool{}
	for _, d := range reply.Drains {
		out[d.Target] = true
	}
	return out
}

func setString(s map[string]bool) string {
	var ks []string
	for k := range s {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return "[" + strings.Join(ks, " ") + "]"
}

func sameSet(a, b map[string]bool) bool { return setString(a) == setString(b) }

// TestKillDuringDrainWrites kills the server with SIGKILL while drains and
// undrains stream through the API. After every kill drains.json parses and
// holds exactly the acknowledged changes, plus at most the one in flight
// when the server died; the restarted server serves that state. A
// corrupt drains.json at start is reported and moved aside.
func TestKillDuringDrainWrites(t *testing.T) {
	n := testbin.Start(t, testbin.Config(baseConfig+"mesh: {state_dir: state}\n"), map[string]string{
		"zones/example.org.yaml": orgYAML,
	})
	path := filepath.Join(n.Dir, "state", "drains.json")
	model := map[string]bool{} // the acknowledged state
	seq := 0
	for round := range 8 {
		type result struct {
			acked []drainOp
			sent  *drainOp // in flight when the server died
		}
		done := make(chan result, 1)
		stop := make(chan struct{})
		go func() {
			var r result
			drained := ""
			for i := 0; i < 500; i++ {
				select {
				case <-stop:
					done <- r
					return
				default:
				}
				seq++
				op := drainOp{target: fmt.Sprintf("198.51.100.%d", seq%200)}
				if seq%3 == 0 && drained != "" {
					op = drainOp{target: drained, undo: true}
				}
				if !sendDrain(n.API, op) {
					r.sent = &op
					done <- r
					return
				}
				r.acked = append(r.acked, op)
				drained = op.target
				if op.undo {
					drained = ""
				}
			}
			done <- r
		}()
		time.Sleep(time.Duration(20+37*round) * time.Millisecond)
		kill9(n)
		close(stop)
		r := <-done
		if len(r.acked) == 0 {
			t.Logf("round %d: no drain acknowledged before the kill", round)
		}
		for _, op := range r.acked {
			model = op.apply(model)
		}
		onDisk := drainFile(t, path)
		allowed := []map[string]bool{model}
		if r.sent != nil {
			allowed = append(allowed, r.sent.apply(model))
		}
		if !slices.ContainsFunc(allowed, func(s map[string]bool) bool { return sameSet(s, onDisk) }) {
			t.Fatalf("round %d: drains.json holds %s; want the acknowledged %s (or with the change in flight)",
				round, setString(onDisk), setString(model))
		}
		model = onDisk
		n.Restart()
		if got := servedDrains(t, n); !sameSet(got, model) {
			t.Fatalf("round %d: after restart the node serves drains %s; want %s", round, setString(got), setString(model))
		}
		// The start-up log says which drains are in force before serving.
		if want := fmt.Sprintf(`msg="drains in force from the state dir" count=%d `, len(model)); len(model) > 0 &&
			!strings.Contains(n.Logs(), want) {
			t.Errorf("round %d: start-up log lacks %s\n%s", round, want, n.Logs())
		}
		t.Logf("round %d: %d changes acknowledged before the kill, %d drains in force", round, len(r.acked), len(model))
	}

	// Garbage in drains.json: reported and kept aside, not emptied.
	kill9(n)
	garbage := []byte(`[{"target": "198.51.100.1", "set_at": ` + "\x00\x01 torn")
	if err := os.WriteFile(path, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	n.Restart()
	n.WaitLog("is corrupt (moved to", 5*time.Second)
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("moved aside: got %v; want one drains.json.corrupt-* file", aside)
	}
	if data, _ := os.ReadFile(aside[0]); !bytes.Equal(data, garbage) {
		t.Errorf("%s: got %q; want the corrupt content kept", aside[0], data)
	}
	if st := fmt.Sprint(status(t, n)["state"]); !strings.Contains(st, "is corrupt") {
		t.Errorf("status state: got %s; want the corrupt file reported", st)
	}
	// The node works on and writes a fresh file.
	if !sendDrain(n.API, drainOp{target: "192.0.2.1"}) {
		t.Fatal("drain after the corrupt file: refused")
	}
	if got := drainFile(t, path); !sameSet(got, map[string]bool{"192.0.2.1": true}) {
		t.Errorf("drains.json after a new drain: %s", setString(got))
	}
}

// skipOrFail skips the test where the machine cannot set it up, unless
// CI is set: there it must run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format+"; CI is set, so this test must run", args...)
	}
	t.Skipf(format+"; skipping", args...)
}

// tinyTmpfs mounts a tmpfs of size bytes on a new temp dir: a disk that
// really fills up, for root too (file permissions do not stop root).
func tinyTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "tmpfs", dir).CombinedOutput(); err != nil {
		skipOrFail(t, "cannot mount a tmpfs here (%v: %s)", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			exec.Command("umount", "-l", dir).Run()
			t.Logf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for range 1 << 16 { // bounded: 256 MiB at most
		if _, err := f.Write(buf); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("filling %s: %v", path, err)
			}
			return
		}
	}
	t.Fatalf("%s: the file system never filled", path)
}

// stateEntry is the named entry of n's status "state" list.
func stateEntry(t *testing.T, n *testbin.Node, name string) map[string]any {
	t.Helper()
	list, _ := status(t, n)["state"].([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

// TestDiskFullStateDir: node 1 keeps its state on a tiny tmpfs that is
// full. A drain through its API still applies to its answers and reaches
// node 2 over the mesh; status and metrics report the failed write; once
// space is freed the write is retried by itself and the error clears.
func TestDiskFullStateDir(t *testing.T) {
	stateDir := tinyTmpfs(t, 256<<10)
	a := testorigin.NewHTTP(t, "127.0.0.20:0", "ok")
	_, port, _ := net.SplitHostPort(a.Addr)
	testorigin.NewHTTP(t, "127.0.0.21:"+port, "ok")
	f := &fleet{}
	for i := range 2 {
		host := fmt.Sprintf("127.0.0.%d", i+1)
		f.mesh = append(f.mesh, net.JoinHostPort(host, fmt.Sprint(testbin.FreePort(t, host))))
	}
	for i := range 2 {
		cfg := string(meshConfig(i, f.mesh))
		if i == 0 {
			cfg = strings.Replace(cfg, "state_dir: state", fmt.Sprintf("state_dir: %q", filepath.Join(stateDir, "mesh")), 1)
			cfg += fmt.Sprintf("state_dir: %q\n", stateDir)
		}
		f.nodes = append(f.nodes, testbin.Start(t, testbin.Config(cfg), map[string]string{
			"zones/example.com.yaml": meshZone("127.0.0.20", "127.0.0.21", port),
			"mesh.key":               meshKey + "\n",
		}))
	}
	f.waitMembers(t, 2)
	f.answersEverywhere(t, "127.0.0.20", 5*time.Second)
	n := f.nodes[0]
	if e := stateEntry(t, n, "drains"); e == nil || e["ok"] != true {
		t.Fatalf("drains state before the disk fills: %v", e)
	}

	filler := filepath.Join(stateDir, "filler")
	fill(t, filler)
	code, body := apiCall(t, n, "POST", "/api/v1/drains", `{"target":"127.0.0.20","reason":"disk full test"}`)
	if code != http.StatusCreated {
		t.Fatalf("drain with the disk full: %d %s; want it accepted", code, body)
	}
	took := f.answersEverywhere(t, "127.0.0.21", 3*time.Second)
	t.Logf("drain with a full disk applied on both nodes in %v", took.Round(time.Millisecond))
	e := stateEntry(t, n, "drains")
	if e == nil || e["ok"] != false || !strings.Contains(fmt.Sprint(e["error"]), "no space left on device") {
		t.Errorf("drains state with the disk full: %v; want the write error", e)
	}
	m := scrapeMetrics(t, n)
	if m[mkey("meridian_state_write_failing", "state", "drains")] != 1 || m[mkey("meridian_state_write_errors_total", "state", "drains")] < 1 {
		t.Errorf("metrics with the disk full: %v; want drains failing", withPrefix(m, "meridian_state_write_failing"))
	}
	n.WaitLog("cannot persist drains", time.Second)

	// A zone change cannot save its last good copy either: reported, and
	// the zone is served.
	testbin.WriteFile(t, filepath.Join(n.Dir, "zones", "example.com.yaml"),
		meshZone("127.0.0.20", "127.0.0.21", port)+"www: {type: A, value: 192.0.2.80}\n")
	testbin.Eventually(t, 5*time.Second, func() bool { a, _ := firstA(t, n.Addr, "www.example.com."); return a == "192.0.2.80" },
		"the zone change to be served\n%s", n.Logs)
	testbin.Eventually(t, 5*time.Second, func() bool {
		e := stateEntry(t, n, "zone_last_good")
		return e != nil && e["ok"] == false
	}, "the last good copy reported failing: %v", func() string { return fmt.Sprint(status(t, n)["state"]) })

	// Space is back: the retry writes the drain and the error clears.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, 10*time.Second, func() bool {
		e := stateEntry(t, n, "drains")
		return e != nil && e["ok"] == true
	}, "the drains error to clear: %v", func() string { return fmt.Sprint(stateEntry(t, n, "drains")) })
	if got := drainFile(t, filepath.Join(stateDir, "mesh", "drains.json")); !got["127.0.0.20"] {
		t.Errorf("drains.json after space came back: %s; want the drain", setString(got))
	}
	m = scrapeMetrics(t, n)
	if m[mkey("meridian_state_write_failing", "state", "drains")] != 0 {
		t.Errorf("meridian_state_write_failing{state=drains} after the fix: %v; want 0", m[mkey("meridian_state_write_failing", "state", "drains")])
	}
	n.WaitLog("drains persisted again", time.Second)
	// The zone state catches up at the next reload.
	n.Signal(syscall.SIGHUP)
	testbin.Eventually(t, 5*time.Second, func() bool {
		e := stateEntry(t, n, "zone_last_good")
		return e != nil && e["ok"] == true
	}, "the last good copy to be written after the fix")
}

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// vanishConfig keeps last good copies, so that a start without the zones
// directory has something to serve.
const vanishConfig = baseConfig + "state_dir: state\n"

// vanishHosts is how many h<N> names each zone has; the guard asks for
// the last one, which a truncated file would lose first.
const vanishHosts = 60

// vanishZones is version v of the zone set: a YAML zone and a master
// file, each with a version TXT at the apex and hosts that every version
// has.
func vanishZones(v int) map[string]string {
	var y, m strings.Builder
	fmt.Fprintf(&y, "'':\n  - {type: NS, values: [ns1.a.test.]}\n  - {type: TXT, value: v%d}\nns1: {type: A, value: 192.0.2.53}\n", v)
	fmt.Fprintf(&m, "$ORIGIN b.test.\n$TTL 300\n@ SOA ns1.a.test. hostmaster.b.test. %d 7200 1800 1209600 60\n@ NS ns1.a.test.\n@ TXT v%d\n", 2026010100+v, v)
	for h := range vanishHosts {
		fmt.Fprintf(&y, "h%d: {type: A, value: 10.0.%d.%d}\n", h, v%256, h)
		fmt.Fprintf(&m, "h%d A 10.1.%d.%d\n", h, v%256, h)
	}
	return map[string]string{"a.test.yaml": y.String(), "b.test.zone": m.String()}
}

// writeZoneSet writes version v of the zone set into dir.
func writeZoneSet(t *testing.T, dir string, v int) {
	t.Helper()
	for name, body := range vanishZones(v) {
		testbin.WriteFile(t, filepath.Join(dir, name), body)
	}
}

func startVanishNode(t *testing.T, cfg string) *testbin.Node {
	t.Helper()
	files := map[string]string{}
	for name, body := range vanishZones(1) {
		files["zones/"+name] = body
	}
	return testbin.Start(t, testbin.Config(cfg), files)
}

// versions is what n serves as the version of both zones: "v2 v2", or
// an rcode where there is no answer.
func versions(addr string) string {
	return zoneTXT(addr, "a.test.") + " " + zoneTXT(addr, "b.test.")
}

func zoneTXT(addr, zone string) string {
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(q(zone, dns.TypeTXT), addr)
	if err != nil {
		return "error"
	}
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			return txt.Txt[0]
		}
	}
	return dns.RcodeToString[r.Rcode]
}

func waitVersions(t *testing.T, n *testbin.Node, want string) {
	t.Helper()
	testbin.Eventually(t, 10*time.Second, func() bool { return versions(n.Addr) == want },
		"both zones at %q (serving %q)\n%s", want, func() string { return versions(n.Addr) }, n.Logs)
}

// guard asks for names that every version of the zone set has, at a
// steady rate over UDP, until stopped: each answer must be NOERROR with
// an answer.
type guard struct {
	sent, bad, lost atomic.Int64
	mu              sync.Mutex
	firstBad        []string // the first few bad answers
	stop            chan struct{}
	wg              sync.WaitGroup
}

var guardNames = []string{"a.test.", fmt.Sprintf("h%d.a.test.", vanishHosts-1), "b.test.",
	fmt.Sprintf("h%d.b.test.", vanishHosts-1), "h0.a.test.", "ns1.a.test."}

// startGuard sends qps queries a second to addr, over workers sockets.
func startGuard(t *testing.T, addr string, qps int) *guard {
	g := &guard{stop: make(chan struct{})}
	workers := max(1, qps/500)
	for w := range workers {
		co, err := dns.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer co.Close()
			tick := time.NewTicker(time.Second * time.Duration(workers) / time.Duration(qps))
			defer tick.Stop()
			for i := w; ; i++ {
				select {
				case <-g.stop:
					return
				case <-tick.C:
				}
				g.ask(co, guardNames[i%len(guardNames)])
			}
		}()
	}
	t.Cleanup(func() { g.finish() })
	return g
}

func (g *guard) ask(co *dns.Conn, name string) {
	qtype := dns.TypeA
	if !strings.HasPrefix(name, "h") && !strings.HasPrefix(name, "ns1") {
		qtype = dns.TypeTXT
	}
	m := q(name, qtype)
	g.sent.Add(1)
	co.SetDeadline(time.Now().Add(time.Second))
	if err := co.WriteMsg(m); err != nil {
		g.lost.Add(1)
		return
	}
	for {
		r, err := co.ReadMsg()
		if err != nil {
			g.lost.Add(1)
			return
		}
		if r.Id != m.Id {
			continue // a late answer to an earlier query
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			g.bad.Add(1)
			g.mu.Lock()
			if len(g.firstBad) < 5 {
				g.firstBad = append(g.firstBad, fmt.Sprintf("%s %s: %s, %d answers at %s", name, dns.TypeToString[qtype],
					dns.RcodeToString[r.Rcode], len(r.Answer), time.Now().Format("15:04:05.000")))
			}
			g.mu.Unlock()
		}
		return
	}
}

func (g *guard) finish() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.wg.Wait()
}

// check stops the guard and fails the test for any bad answer, or for
// more than maxLost in a thousand queries lost.
func (g *guard) check(t *testing.T, maxLost int64) {
	t.Helper()
	g.finish()
	sent, bad, lost := g.sent.Load(), g.bad.Load(), g.lost.Load()
	t.Logf("guard: %d queries, %d bad, %d lost", sent, bad, lost)
	if sent == 0 {
		t.Fatal("guard: no query sent")
	}
	if bad > 0 {
		t.Errorf("guard: %d of %d answers were not answers (REFUSED, NXDOMAIN or empty): first %v", bad, sent, g.firstBad)
	}
	if lost*1000 > sent*maxLost {
		t.Errorf("guard: %d of %d queries lost; want at most %d in 1000", lost, sent, maxLost)
	}
}

// reloadState is the reload part of n's status.
func reloadState(t *testing.T, n *testbin.Node) map[string]any {
	rl, _ := status(t, n)["reload"].(map[string]any)
	return rl
}

func metricsText(t *testing.T, n *testbin.Node) string {
	resp, err := http.Get("http://" + n.API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestZonesDirRemovedAndRestored: `rm -rf zones; cp -r backup zones`
// while serving. Nothing stops being answered, the node says why, and
// the copied-in directory is served and watched without a signal.
func TestZonesDirRemovedAndRestored(t *testing.T) {
	n := startVanishNode(t, vanishConfig)
	zonesDir := filepath.Join(n.Dir, "zones")
	backup := filepath.Join(n.Dir, "backup")
	writeZoneSet(t, backup, 2)
	g := startGuard(t, n.Addr, 500)

	if err := os.RemoveAll(zonesDir); err != nil {
		t.Fatal(err)
	}
	testbin.Eventually(t, 10*time.Second, func() bool { return reloadState(t, n)["directory"] == "unreadable" },
		"the status to say the directory is unreadable\n%s", n.Logs)
	n.WaitLog("every zone loaded (2) keeps serving", 5*time.Second)
	if m := metricsText(t, n); !strings.Contains(m, "meridian_zone_directory_usable 0") || !strings.Contains(m, "meridian_zones_served 2") {
		t.Errorf("metrics while the directory is gone: want meridian_zone_directory_usable 0 and meridian_zones_served 2")
	}
	if v := versions(n.Addr); v != "v1 v1" {
		t.Errorf("while the directory is gone: got %q; want v1 v1 served", v)
	}

	if out, err := exec.Command("cp", "-r", backup, zonesDir).CombinedOutput(); err != nil {
		t.Fatalf("cp -r: %v\n%s", err, out)
	}
	waitVersions(t, n, "v2 v2")
	writeZoneSet(t, zonesDir, 3) // the new directory is watched
	waitVersions(t, n, "v3 v3")
	if d := reloadState(t, n)["directory"]; d != "ok" {
		t.Errorf("status directory after the restore: got %v; want ok", d)
	}
	g.check(t, 5)
	if strings.Contains(n.Logs(), "zone removed") {
		t.Errorf("logs: a zone was removed\n%s", n.Logs())
	}
}

// TestZonesDirReplacedByRename: the directory renamed away and another
// renamed in (a deploy's swap); the old one is no longer watched.
func TestZonesDirReplacedByRename(t *testing.T) {
	n := startVanishNode(t, vanishConfig)
	zonesDir := filepath.Join(n.Dir, "zones")
	g := startGuard(t, n.Addr, 500)
	for v := 2; v <= 4; v++ {
		next := filepath.Join(n.Dir, fmt.Sprintf("zones.v%d", v))
		writeZoneSet(t, next, v)
		old := filepath.Join(n.Dir, fmt.Sprintf("zones.old%d", v))
		if err := os.Rename(zonesDir, old); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(next, zonesDir); err != nil {
			t.Fatal(err)
		}
		waitVersions(t, n, fmt.Sprintf("v%d v%d", v, v))
		writeZoneSet(t, old, 99) // the directory moved away is no longer served
	}
	writeZoneSet(t, zonesDir, 5)
	waitVersions(t, n, "v5 v5")
	g.check(t, 5)
	if strings.Contains(n.Logs(), "v99") || versions(n.Addr) != "v5 v5" {
		t.Errorf("a directory renamed away was served")
	}
}

// TestZonesDirSymlinkSwap: zones.dir moved by a config reload to a
// symbolic link, which is then swapped from release to release as
// `ln -sfn` and Kubernetes volumes do; edits inside the release the link
// names are seen too.
func TestZonesDirSymlinkSwap(t *testing.T) {
	n := startVanishNode(t, vanishConfig)
	g := startGuard(t, n.Addr, 500)
	link := filepath.Join(n.Dir, "current")
	swap := func(v int) {
		rel := filepath.Join("releases", fmt.Sprintf("r%d", v))
		writeZoneSet(t, filepath.Join(n.Dir, rel), v)
		tmp := link + ".tmp"
		os.Remove(tmp)
		if err := os.Symlink(rel, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, link); err != nil {
			t.Fatal(err)
		}
	}
	swap(2)
	testbin.WriteFile(t, n.Config, strings.Replace(vanishConfig, "zones: {dir: zones,", "zones: {dir: current,", 1))
	n.Signal(syscall.SIGHUP)
	waitVersions(t, n, "v2 v2")
	for v := 3; v <= 5; v++ {
		swap(v)
		waitVersions(t, n, fmt.Sprintf("v%d v%d", v, v))
	}
	writeZoneSet(t, filepath.Join(n.Dir, "releases", "r5"), 6)
	waitVersions(t, n, "v6 v6")
	g.check(t, 5)
}

// TestSIGHUPWithWrongZonesDir: a config reload naming a zones directory
// that cannot be read is refused like any invalid config; the running
// directory keeps being served and watched.
func TestSIGHUPWithWrongZonesDir(t *testing.T) {
	n := startVanishNode(t, vanishConfig)
	testbin.WriteFile(t, n.Config, strings.Replace(vanishConfig, "zones: {dir: zones,", "zones: {dir: zonez,", 1))
	n.Signal(syscall.SIGHUP)
	n.WaitLog("config reload failed", 5*time.Second)
	if !strings.Contains(n.Logs(), "zones.dir: cannot read") {
		t.Errorf("logs: want the unreadable zones.dir named\n%s", n.Logs())
	}
	if v := versions(n.Addr); v != "v1 v1" {
		t.Errorf("after the refused reload: got %q; want v1 v1", v)
	}
	writeZoneSet(t, filepath.Join(n.Dir, "zones"), 2)
	waitVersions(t, n, "v2 v2")
}

// TestStartWithZonesDirMissing: a node started while its zones directory
// is missing (a mount not up yet) serves its last good copies, says so,
// and takes the directory when it appears.
func TestStartWithZonesDirMissing(t *testing.T) {
	n := startVanishNode(t, vanishConfig)
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	zonesDir := filepath.Join(n.Dir, "zones")
	if err := os.Rename(zonesDir, zonesDir+".later"); err != nil {
		t.Fatal(err)
	}
	n.Restart()
	if v := versions(n.Addr); v != "v1 v1" {
		t.Errorf("start without the directory: got %q; want the last good copies (v1 v1)", v)
	}
	n.WaitLog("serving the last good copies of 2 zones", 5*time.Second)
	if d := reloadState(t, n)["directory"]; d != "unreadable" {
		t.Errorf("status directory: got %v; want unreadable", d)
	}
	writeZoneSet(t, zonesDir+".later", 2)
	if err := os.Rename(zonesDir+".later", zonesDir); err != nil {
		t.Fatal(err)
	}
	waitVersions(t, n, "v2 v2")
}

// TestSlowInPlaceWrite: a zone file rewritten in place with a pause far
// longer than the debounce is never served half-written: no name of it
// vanishes, its serial goes up once, and its last good copy is whole.
func TestSlowInPlaceWrite(t *testing.T) {
	n := startVanishNode(t, vanishConfig)
	s1 := serial(t, n.Addr, "a.test.")
	g := startGuard(t, n.Addr, 500)
	path := filepath.Join(n.Dir, "zones", "a.test.yaml")
	body := vanishZones(2)["a.test.yaml"]
	half := strings.LastIndex(body[:len(body)/2], "\n") + 1
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(body[:half])
	time.Sleep(time.Second) // twenty debounce periods: the writer is slow, not done
	f.WriteString(body[half:])
	f.Close()
	testbin.Eventually(t, 10*time.Second, func() bool { return zoneTXT(n.Addr, "a.test.") == "v2" },
		"the whole new version\n%s", n.Logs)
	g.check(t, 5)
	if got := strings.Count(n.Logs(), `msg="zone updated" zone=a.test.`); got != 1 {
		t.Errorf("zone updated %d times; want once\n%s", got, n.Logs())
	}
	if s2 := serial(t, n.Addr, "a.test."); s2 != s1+1 && s2 <= s1 {
		t.Errorf("serial: got %d after %d; want one step up", s2, s1)
	}
	copyBody, err := os.ReadFile(filepath.Join(n.Dir, "state", "last-good", "a.test.yaml"))
	if err != nil || string(copyBody) != body {
		t.Errorf("last good copy: got %d bytes (%v); want the whole new file (%d bytes)", len(copyBody), err, len(body))
	}
}

// TestNoZoneServed: a node whose zones directory holds no zone says so at
// error level, in its status and metrics; check fails for it; a zone
// added later is served.
func TestNoZoneServed(t *testing.T) {
	n := testbin.Start(t, baseConfig, map[string]string{"zones/README": "zone files go here\n"})
	n.WaitLog(`level=ERROR msg="no zone is served: every query is answered REFUSED"`, 5*time.Second)
	if rl := reloadState(t, n); rl["zones"] != 0.0 || rl["directory"] != "empty" {
		t.Errorf("status reload: got %v; want zones 0, directory empty", rl)
	}
	if m := metricsText(t, n); !strings.Contains(m, "meridian_zones_served 0") {
		t.Errorf("metrics: want meridian_zones_served 0")
	}
	out, err := exec.Command(testbin.Build(t), "check", "--config", n.Config).CombinedOutput()
	if code := exitCode(t, err); code != 1 || !strings.Contains(string(out), "holds no zone files") {
		t.Errorf("check: exit %d\n%s\nwant exit 1 naming the empty directory", code, out)
	}
	writeZoneSet(t, filepath.Join(n.Dir, "zones"), 1)
	waitVersions(t, n, "v1 v1")
	if m := metricsText(t, n); !strings.Contains(m, "meridian_zones_served 2") {
		t.Errorf("metrics after a zone was added: want meridian_zones_served 2")
	}
}

// TestZonesDirSwapSoak: 200 directory swaps under 5,000 queries a second,
// each of the kinds deployments use (a directory renamed in, a symbolic
// link put in its place, a link swapped to the next release), each
// followed until served: no query may get REFUSED, NXDOMAIN or an empty
// answer for a name every version has.
func TestZonesDirSwapSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: not in -short mode")
	}
	n := startVanishNode(t, vanishConfig)
	zonesDir := filepath.Join(n.Dir, "zones")
	g := startGuard(t, n.Addr, 5000)
	start := time.Now()
	release := func(v int) string { return filepath.Join(n.Dir, "releases", fmt.Sprintf("r%d", v)) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const swaps = 200
	for i := range swaps {
		v := i + 2
		writeZoneSet(t, release(v), v)
		old := filepath.Join(n.Dir, "old")
		switch {
		case i%3 == 0: // a directory renamed in
			must(os.Rename(zonesDir, old))
			must(os.Rename(release(v), zonesDir))
		case i%3 == 1: // a symbolic link put in the directory's place
			must(os.Rename(zonesDir, old))
			must(os.Symlink(release(v), zonesDir))
		default: // the link swapped to the next release
			tmp := zonesDir + ".tmp"
			must(os.Symlink(release(v), tmp))
			must(os.Rename(tmp, zonesDir))
		}
		os.RemoveAll(old)
		if v > 3 {
			os.RemoveAll(release(v - 2))
		}
		waitVersions(t, n, fmt.Sprintf("v%d v%d", v, v))
	}
	t.Logf("%d swaps in %v", swaps, time.Since(start).Round(time.Millisecond))
	g.check(t, 10)
	if strings.Contains(n.Logs(), "zone removed") {
		t.Errorf("logs: a zone was removed")
	}
}

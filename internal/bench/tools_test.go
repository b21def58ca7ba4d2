package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/" + name); serr == nil {
			return "/usr/sbin/" + name
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestGdnsdCheckconf checks that gdnsd accepts both generated config
// directories: the geoip maps, the resources and the zones.
func TestGdnsdCheckconf(t *testing.T) {
	gdnsd := needTool(t, "gdnsd")
	lay, err := Generate(t.TempDir(), NewScenario(DefaultSpec()), DefaultListeners())
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{lay.Gdnsd, lay.Gdnsd2} {
		out, err := exec.Command(gdnsd, "-c", dir, "checkconf").CombinedOutput()
		if err != nil {
			t.Fatalf("gdnsd checkconf %s: %v\n%s", dir, err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "error") || strings.HasPrefix(l, "fatal") {
				t.Errorf("gdnsd: %s", l)
			}
		}
	}
}

// TestSideBySideSmoke runs the whole pipeline small: both servers on a
// short query file, the equivalence check, one short timed run each.
func TestSideBySideSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gdnsd, Meridian and dnsperf")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs")
	}
	gdnsd, dnsperf := needTool(t, "gdnsd"), needTool(t, "dnsperf")
	needTool(t, "taskset")
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	l := DefaultListeners()
	l.Meridian, l.Gdnsd = []string{hostPort("127.0.0.1", ports[0])}, []string{hostPort("127.0.0.1", ports[1])}
	spec := DefaultSpec()
	spec.Queries = 2000
	s := NewScenario(spec)
	lay, err := Generate(filepath.Join(t.TempDir(), "run"), s, l)
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Meridian, o.Gdnsd, o.Dnsperf = testbin.Build(t), gdnsd, dnsperf
	o.Seconds, o.Warmup, o.LatencyRate, o.LatencySeconds, o.TwoCore = 1, 0, 2000, 1, false
	st := setups(o, lay, l)[0]
	m, err := startServer(st.meridian, st.mAddrs, s.Zones[0].Origin)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	g, err := startServer(st.gdnsd, st.gAddrs, s.Zones[0].Origin)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := CheckEquivalence(ctx, s.Queries, st.mAddrs[0], st.gAddrs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !e.OK() {
		var b strings.Builder
		e.Print(&b, 10)
		t.Fatalf("the servers disagree:\n%s", b.String())
	}
	base := Perf{Bin: dnsperf, CPUs: st.clientCPUs, File: lay.QueryFile, Clients: 2, Outstanding: 50}
	for _, p := range []*Proc{m, g} {
		addrs := map[*Proc][]string{m: st.mAddrs, g: st.gAddrs}[p]
		r, err := timedRun(ctx, o, base, p, addrs, st.meridian.CPUs)
		if err != nil {
			t.Fatal(err)
		}
		row := r.row(o.LatencyRate)
		t.Logf("%s: %.0f qps, %.2f µs CPU/query, p50 %v p99 %v, RSS %s MB", p.Name, row.QPS, row.CPUPerQ, r.Lat.P50, r.Lat.P99, mb(r.Mem.RSS))
		if r.Perf.Completed == 0 || r.CPU <= 0 || row.CPUPerQ <= 0 || r.Lat.N == 0 || r.Mem.RSS == 0 {
			t.Errorf("%s: implausible run %+v", p.Name, r)
		}
	}
}

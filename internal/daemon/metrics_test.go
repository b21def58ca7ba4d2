package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/promtest"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// startDaemon builds a daemon (not listening: queries go straight to
// Respond) with a dynamic record probing a real origin, a broken zone and
// the query log on. It is closed when the test ends.
func startDaemon(t *testing.T, pprof bool) (*Daemon, *testorigin.HTTP) {
	t.Helper()
	o := testorigin.NewHTTP(t, "127.0.0.2:0", "ok")
	_, port, _ := net.SplitHostPort(o.Addr)
	dir := t.TempDir()
	files := map[string]string{
		"meridian.yaml": fmt.Sprintf(`node: {name: n1, region: eu}
dns: {listen: ["127.0.0.1:0"]}
zones: {dir: zones, watch: false}
api: {listen: "127.0.0.1:0", pprof: %v}
log: {queries: {enabled: true, sample: 1, path: queries.log}}
`, pprof),
		"zones/example.com.yaml": fmt.Sprintf(`'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  values: [127.0.0.2]
  dynamic:
    pools:
      main: {values: [{value: 127.0.0.2}]}
    rules:
      - {pool: main}
  octodns:
    healthcheck: {protocol: HTTP, port: %s, path: /health}
    meridian:
      healthcheck: {interval: 100ms, timeout: 50ms, rise: 1, fall: 1}
`, port),
		"zones/broken.test.yaml": "www: {type: A, value: nope}\n",
	}
	for name, body := range files {
		testbin.WriteFile(t, filepath.Join(dir, name), body)
	}
	c, err := config.Load(filepath.Join(dir, "meridian.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lv := new(slog.LevelVar)
	d, err := New(c, slog.New(slog.DiscardHandler), lv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.health.Close()
		d.swapQueryLog(nil)
	})
	return d, o
}

// families gathers the registry as the /metrics handler would.
func families(t *testing.T, d *Daemon) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := d.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// described returns the names of every meridian_ metric the registered
// collectors describe: what the registry can ever export.
func described(d *Daemon) []string {
	ch := make(chan *prometheus.Desc, 256)
	go func() {
		for _, c := range d.metrics.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	re := regexp.MustCompile(`fqName: "(meridian_[a-z0-9_]+)"`)
	var out []string
	for desc := range ch {
		if m := re.FindStringSubmatch(desc.String()); m != nil {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// TestMetricsLint exercises every part of a node until each meridian_
// metric has a series, then lints everything the registry exports.
func TestMetricsLint(t *testing.T) {
	d, o := startDaemon(t, false)
	src := netip.MustParseAddr("192.0.2.1")
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"app.example.com.", dns.TypeA}, {"nope.example.com.", dns.TypeA}, {"example.org.", dns.TypeA}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		d.Server().Respond(m, src, false)
	}
	fam := families(t, d)
	deadline := time.Now().Add(10 * time.Second)
	probed := func() bool { // every endpoint's series exist from the start: look for a count
		for _, m := range fam["meridian_health_probes_total"].GetMetric() {
			if m.GetCounter().GetValue() > 0 {
				return true
			}
		}
		return false
	}
	for ; !probed(); fam = families(t, d) {
		if time.Now().After(deadline) {
			t.Fatal("no probe ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	o.Stop()
	for ; fam["meridian_health_verdict_changes_total"] == nil; fam = families(t, d) {
		if time.Now().After(deadline) {
			t.Fatal("the verdict never changed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := d.ReloadConfig(); err != nil {
		t.Fatal(err)
	}
	fam = families(t, d)
	for _, name := range described(d) {
		if fam[name] == nil {
			t.Errorf("%s: no series; want every metric exercised so the lint covers it", name)
		}
	}
	var mfs []*dto.MetricFamily
	for _, mf := range fam {
		mfs = append(mfs, mf)
	}
	promtest.Lint(t, mfs)
	for _, name := range []string{"process_cpu_seconds_total", "go_goroutines"} {
		if fam[name] == nil {
			t.Errorf("%s: missing; want the process and Go collectors registered", name)
		}
	}
}

// TestMetricsDocumented: every meridian_ metric is in docs/metrics.md, and
// the doc lists no metric that does not exist.
func TestMetricsDocumented(t *testing.T) {
	d, _ := startDaemon(t, false)
	data, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(meridian_[a-z0-9_]+)` \\|").FindAllStringSubmatch(string(data), -1) {
		doc[m[1]] = true
	}
	have := map[string]bool{}
	for _, name := range described(d) {
		have[name] = true
		if !doc[name] {
			t.Errorf("%s: exported but not in a table of docs/metrics.md", name)
		}
	}
	for name := range doc {
		if !have[name] {
			t.Errorf("%s: in docs/metrics.md but not exported", name)
		}
	}
	for _, m := range regexp.MustCompile("meridian_[a-z0-9_]+").FindAllString(string(data), -1) {
		if !have[m] {
			t.Errorf("docs/metrics.md mentions %s, which is not exported", m)
		}
	}
	if len(have) < 20 {
		t.Errorf("got %d meridian_ metrics described; want the full set", len(have))
	}
}

// TestMetricsAndPprofRoutes: /metrics is always mounted on the API, pprof
// only when asked for.
func TestMetricsAndPprofRoutes(t *testing.T) {
	for _, tt := range []struct {
		pprof bool
		path  string
		code  int
		body  string
	}{
		{false, "/metrics", http.StatusOK, "meridian_dns_ecs_queries_total"},
		{false, "/debug/pprof/", http.StatusNotFound, "no such endpoint"},
		{false, "/debug/pprof/cmdline", http.StatusNotFound, "no such endpoint"},
		{true, "/metrics", http.StatusOK, "meridian_build_info"},
		{true, "/debug/pprof/", http.StatusOK, "goroutine"},
		{true, "/debug/pprof/cmdline", http.StatusOK, ""},
		{true, "/debug/pprof/profile?seconds=600", http.StatusBadRequest, "at most 5m0s"},
	} {
		t.Run(fmt.Sprintf("pprof=%v %s", tt.pprof, tt.path), func(t *testing.T) {
			d, _ := startDaemon(t, tt.pprof)
			srv := httptest.NewServer(d.api.Handler())
			defer srv.Close()
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.body) {
				t.Errorf("got %d %.200q; want %d containing %q", resp.StatusCode, body, tt.code, tt.body)
			}
		})
	}
}

package daemon

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// TestQueryLogConfigReload changes log.queries with a config reload: a
// path that cannot be opened fails the reload and keeps the running log;
// a good one moves the log; enabled: false turns it off.
func TestQueryLogConfigReload(t *testing.T) {
	d, _ := startDaemon(t, false)
	dir := filepath.Dir(d.Config().Path)
	base, err := os.ReadFile(d.Config().Path)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(name string) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		d.Server().Respond(m, netip.MustParseAddr("192.0.2.1"), false)
	}
	lines := func(file string) string {
		data, _ := os.ReadFile(filepath.Join(dir, file))
		return string(data)
	}
	setQueries := func(q string) {
		testbin.WriteFile(t, d.Config().Path, strings.Replace(string(base),
			"log: {queries: {enabled: true, sample: 1, path: queries.log}}", "log: {queries: "+q+"}", 1))
	}
	configReloads := func(result string) float64 {
		return testCounter(t, d, "meridian_config_reloads_total", result)
	}

	ask("one.example.com.")
	setQueries("{enabled: true, sample: 1, path: no/such/dir/q.log}")
	if err := d.ReloadConfig(); err == nil || !strings.Contains(err.Error(), "query log: ") {
		t.Errorf("reload with a bad path: got %v; want a query log error", err)
	}
	if got := configReloads("error"); got != 1 {
		t.Errorf("config reloads with errors: got %v; want 1", got)
	}
	ask("two.example.com.")

	setQueries("{enabled: true, sample: 1, path: other.log}")
	if err := d.ReloadConfig(); err != nil {
		t.Fatal(err)
	}
	ask("three.example.com.")
	setQueries("{enabled: false}")
	if err := d.ReloadConfig(); err != nil {
		t.Fatal(err)
	}
	ask("four.example.com.")
	if got := configReloads("ok"); got != 2 {
		t.Errorf("config reloads ok: got %v; want 2", got)
	}
	testbin.Eventually(t, 5*time.Second, func() bool {
		return strings.Count(lines("queries.log"), "\n") == 2 && strings.Count(lines("other.log"), "\n") == 1
	}, "two lines in queries.log and one in other.log\nqueries.log:\n%s\nother.log:\n%s", func() string { return lines("queries.log") }, func() string { return lines("other.log") })
	for _, tt := range []struct{ file, want, not string }{
		{"queries.log", "two.example.com.", "three.example.com."},
		{"other.log", "three.example.com.", "four.example.com."},
	} {
		if got := lines(tt.file); !strings.Contains(got, tt.want) || strings.Contains(got, tt.not) {
			t.Errorf("%s: got\n%s\nwant %s and not %s", tt.file, got, tt.want, tt.not)
		}
	}
}

// testCounter is the value of the counter name{result=result}.
func testCounter(t *testing.T, d *Daemon, name, result string) float64 {
	t.Helper()
	mf := families(t, d)[name]
	if mf == nil {
		t.Fatalf("%s: not exported", name)
	}
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "result" && l.GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

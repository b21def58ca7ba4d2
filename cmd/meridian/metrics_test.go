package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// metricsZone has a dynamic record whose first rule sends 198.51.100.0/24
// to the "lab" pool and everyone else to "primary" (falling back to
// "lab"), both probed fast over HTTP, plus a TXT RRset too big for 512
// bytes.
func metricsZone(port string) string {
	var big strings.Builder
	for i := range 6 {
		fmt.Fprintf(&big, "    - %s\n", strings.Repeat(string(rune('a'+i)), 100))
	}
	return fmt.Sprintf(`'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
big:
  type: TXT
  values:
%sapp:
  type: A
  values: [127.0.0.2, 127.0.0.3]
  dynamic:
    pools:
      primary: {fallback: lab, values: [{value: 127.0.0.2}]}
      lab: {values: [{value: 127.0.0.3}]}
    rules:
      - {subnets: [198.51.100.0/24], pool: lab}
      - {pool: primary}
  octodns:
    healthcheck: {protocol: HTTP, port: %s, path: /health}
    meridian:
      healthcheck: {interval: 200ms, timeout: 100ms, rise: 1, fall: 1}
`, big.String(), port)
}

// scrapeMetrics fetches /metrics and returns every sample, keyed as the
// exposition format writes it: name{label="value",...} with labels sorted.
// It fails the test on any promlint problem.
func scrapeMetrics(t *testing.T, n *testbin.Node) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: got %d %s", resp.StatusCode, body)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		key := line[:i]
		if !strings.Contains(key, "{") {
			key += "{}"
		}
		out[key] = v
	}
	return out
}

// mkey is the key scrapeMetrics uses for name with the label pairs kv.
func mkey(name string, kv ...string) string {
	var ls []string
	for i := 0; i < len(kv); i += 2 {
		ls = append(ls, kv[i]+`="`+kv[i+1]+`"`)
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

// withPrefix returns the samples of one metric name.
func withPrefix(m map[string]float64, name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") {
			out[k] = v
		}
	}
	return out
}

func diffMetrics(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if got[k] != want[k] {
			t.Errorf("%s: %s: got %v; want %v", what, k, got[k], want[k])
		}
	}
}

// TestMetrics runs the binary with a dynamic zone probing real origins,
// sends real queries over UDP and TCP and scrapes /metrics over HTTP:
// exact query, ECS, truncation and decision counters; probe, verdict and
// fallback metrics as an origin stops; reload counters after a bad and a
// good zone change.
func TestMetrics(t *testing.T) {
	primary := testorigin.NewHTTP(t, "127.0.0.2:0", "ok\n")
	_, port, _ := net.SplitHostPort(primary.Addr)
	testorigin.NewHTTP(t, "127.0.0.3:"+port, "ok\n")
	// Zones reload on SIGHUP only, so that each change is exactly one reload.
	cfg := strings.Replace(baseConfig, "zones: {dir: zones, debounce: 50ms}", "zones: {dir: zones, watch: false}", 1)
	n := testbin.Start(t, testbin.Config(cfg), map[string]string{
		"zones/example.com.yaml": metricsZone(port),
	})
	ep := func(ip string) []string {
		return []string{"endpoint", "http://" + ip + ":" + port + "/health"}
	}
	probes := func(m map[string]float64, ip, result string) float64 {
		for k, v := range withPrefix(m, "meridian_health_probes_total") {
			if strings.Contains(k, `endpoint="http://`+ip+":") && strings.Contains(k, `result="`+result+`"`) {
				return v
			}
		}
		return 0
	}
	var m map[string]float64
	testbin.Eventually(t, 5*time.Second, func() bool {
		m = scrapeMetrics(t, n)
		return probes(m, "127.0.0.2", "ok") > 0 && probes(m, "127.0.0.3", "ok") > 0
	}, "both origins probed ok\n%v", func() string { return fmt.Sprint(m) })

	type sent struct {
		name    string
		network string
		msg     *dns.Msg
		check   func(r *dns.Msg) bool
	}
	bigNoEDNS := q("big.example.com.", dns.TypeTXT)
	for _, s := range []sent{
		{"default pool", "udp", q("app.example.com.", dns.TypeA), func(r *dns.Msg) bool { return len(r.Answer) == 1 }},
		{"default pool over TCP", "tcp", q("app.example.com.", dns.TypeA), func(r *dns.Msg) bool { return len(r.Answer) == 1 }},
		{"lab subnet by ECS", "udp", ecsQuery("app.example.com.", dns.TypeA, 1, "198.51.100.0", 24), func(r *dns.Msg) bool {
			return len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == "127.0.0.3"
		}},
		{"NXDOMAIN", "udp", q("nope.example.com.", dns.TypeA), func(r *dns.Msg) bool { return r.Rcode == dns.RcodeNameError }},
		{"NXDOMAIN with ECS over TCP", "tcp", ecsQuery("nope.example.com.", dns.TypeAAAA, 1, "192.0.2.0", 24), func(r *dns.Msg) bool { return r.Rcode == dns.RcodeNameError }},
		{"truncated", "udp", bigNoEDNS, func(r *dns.Msg) bool { return r.Truncated && len(r.Answer) == 0 }},
		{"retried over TCP", "tcp", bigNoEDNS, func(r *dns.Msg) bool { return !r.Truncated && len(r.Answer) == 6 }},
		{"outside our zones", "udp", q("example.org.", dns.TypeMX), func(r *dns.Msg) bool { return r.Rcode == dns.RcodeRefused }},
	} {
		c := &dns.Client{Net: s.network, Timeout: 2 * time.Second, UDPSize: 512}
		r, _, err := c.Exchange(s.msg, n.Addr)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !s.check(r) {
			t.Fatalf("%s: unexpected reply\n%v", s.name, r)
		}
	}

	m = scrapeMetrics(t, n)
	const zone = "example.com."
	diffMetrics(t, "queries", withPrefix(m, "meridian_dns_queries_total"), map[string]float64{
		mkey("meridian_dns_queries_total", "zone", zone, "qtype", "A", "rcode", "NOERROR", "transport", "udp"):     2,
		mkey("meridian_dns_queries_total", "zone", zone, "qtype", "A", "rcode", "NOERROR", "transport", "tcp"):     1,
		mkey("meridian_dns_queries_total", "zone", zone, "qtype", "A", "rcode", "NXDOMAIN", "transport", "udp"):    1,
		mkey("meridian_dns_queries_total", "zone", zone, "qtype", "AAAA", "rcode", "NXDOMAIN", "transport", "tcp"): 1,
		mkey("meridian_dns_queries_total", "zone", zone, "qtype", "TXT", "rcode", "NOERROR", "transport", "udp"):   1,
		mkey("meridian_dns_queries_total", "zone", zone, "qtype", "TXT", "rcode", "NOERROR", "transport", "tcp"):   1,
		mkey("meridian_dns_queries_total", "zone", "", "qtype", "MX", "rcode", "REFUSED", "transport", "udp"):      1,
	})
	diffMetrics(t, "ecs", withPrefix(m, "meridian_dns_ecs_queries_total"), map[string]float64{
		mkey("meridian_dns_ecs_queries_total", "ecs", "present"): 2,
		mkey("meridian_dns_ecs_queries_total", "ecs", "absent"):  6,
	})
	diffMetrics(t, "truncated", withPrefix(m, "meridian_dns_truncated_responses_total"), map[string]float64{
		"meridian_dns_truncated_responses_total{}": 1,
	})
	decision := func(rule, pool, outcome string) string {
		return mkey("meridian_dns_dynamic_decisions_total", "zone", zone, "record", "app.example.com.", "type", "A",
			"rule", rule, "pool", pool, "outcome", outcome)
	}
	diffMetrics(t, "decisions", withPrefix(m, "meridian_dns_dynamic_decisions_total"), map[string]float64{
		decision("2", "primary", "pool"): 2,
		decision("1", "lab", "pool"):     1,
	})
	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		if got := m[mkey("meridian_health_endpoint_up", append(ep(ip), "id", endpointID(m, ip))...)]; got != 1 {
			t.Errorf("endpoint %s up: got %v; want 1", ip, got)
		}
	}
	if got := m[mkey("meridian_mesh_members", "region", "test", "state", "alive")]; got != 1 {
		t.Errorf("members alive: got %v; want 1 (the node itself)", got)
	}

	// The primary origin stops: its verdict goes down, the change is
	// counted, and answers come from the fallback pool.
	primary.Stop()
	down := mkey("meridian_health_endpoint_up", append(ep("127.0.0.2"), "id", endpointID(m, "127.0.0.2"))...)
	toDown := mkey("meridian_health_verdict_changes_total", append(ep("127.0.0.2"), "id", endpointID(m, "127.0.0.2"), "to", "down")...)
	testbin.Eventually(t, 5*time.Second, func() bool {
		m = scrapeMetrics(t, n)
		return m[down] == 0
	}, "the primary's verdict gauge to drop to 0\n%v", func() string { return fmt.Sprint(withPrefix(m, "meridian_health_endpoint_up")) })
	if m[toDown] != 1 || probes(m, "127.0.0.2", "fail") < 1 {
		t.Errorf("after the origin stopped: got verdict changes to down %v, failed probes %v; want 1, at least 1", m[toDown], probes(m, "127.0.0.2", "fail"))
	}
	for k, v := range withPrefix(m, "meridian_health_probe_duration_seconds_count") {
		if !strings.Contains(k, port) || v < 1 {
			t.Errorf("%s: got %v; want at least one probe timed", k, v)
		}
	}
	if got, _ := answerA(t, n.Addr, "app.example.com."); got != "127.0.0.3" {
		t.Fatalf("answer with the primary down: got %q; want the lab pool", got)
	}
	m = scrapeMetrics(t, n)
	if got := m[decision("2", "lab", "fallback")]; got != 1 {
		t.Errorf("fallback decisions: got %v; want 1", got)
	}

	// A bad zone change, then a good one, each applied with SIGHUP.
	reloads := func(result string) string { return mkey("meridian_zone_reloads_total", "result", result) }
	if m[reloads("ok")] != 1 || m[reloads("error")] != 0 {
		t.Errorf("reloads at start: got ok %v, error %v; want 1, 0", m[reloads("ok")], m[reloads("error")])
	}
	testbin.WriteFile(t, n.Dir+"/zones/broken.test.yaml", "www: {type: A, value: nope}\n")
	n.Signal(syscall.SIGHUP)
	testbin.Eventually(t, 5*time.Second, func() bool {
		m = scrapeMetrics(t, n)
		return m[reloads("error")] == 1
	}, "a failed reload counted")
	diffMetrics(t, "after a bad change", map[string]float64{
		reloads("ok"): m[reloads("ok")], reloads("error"): m[reloads("error")],
		"meridian_zone_last_reload_successful{}":                        m["meridian_zone_last_reload_successful{}"],
		mkey("meridian_zone_load_errors_total", "zone", "broken.test."): m[mkey("meridian_zone_load_errors_total", "zone", "broken.test.")],
		mkey("meridian_config_reloads_total", "result", "ok"):           m[mkey("meridian_config_reloads_total", "result", "ok")],
	}, map[string]float64{
		reloads("ok"): 1, reloads("error"): 1,
		"meridian_zone_last_reload_successful{}":                        0,
		mkey("meridian_zone_load_errors_total", "zone", "broken.test."): 1,
		mkey("meridian_config_reloads_total", "result", "ok"):           1,
	})
	testbin.WriteFile(t, n.Dir+"/zones/broken.test.yaml", "'':\n  - {type: NS, values: [ns1.example.com.]}\nwww: {type: A, value: 192.0.2.80}\n")
	n.Signal(syscall.SIGHUP)
	testbin.Eventually(t, 5*time.Second, func() bool {
		m = scrapeMetrics(t, n)
		return m[reloads("ok")] == 2
	}, "a good reload counted")
	if m[reloads("error")] != 1 || m["meridian_zone_last_reload_successful{}"] != 1 || m[mkey("meridian_zone_serial", "zone", "broken.test.")] == 0 {
		t.Errorf("after the fix: got error reloads %v, last successful %v, serial of broken.test. %v; want 1, 1, non-zero",
			m[reloads("error")], m["meridian_zone_last_reload_successful{}"], m[mkey("meridian_zone_serial", "zone", "broken.test.")])
	}
	for _, name := range []string{"process_cpu_seconds_total{}", "go_goroutines{}", mkey("meridian_build_info", "version", "v0.0.0-test", "goversion", goVersion(m))} {
		if _, ok := m[name]; !ok {
			t.Errorf("%s: missing", name)
		}
	}
}

// endpointID finds the id label of the endpoint probing ip.
func endpointID(m map[string]float64, ip string) string {
	for k := range withPrefix(m, "meridian_health_endpoint_up") {
		if strings.Contains(k, `endpoint="http://`+ip+":") {
			_, rest, _ := strings.Cut(k, `id="`)
			id, _, _ := strings.Cut(rest, `"`)
			return id
		}
	}
	return ""
}

// goVersion is the goversion label of meridian_build_info.
func goVersion(m map[string]float64) string {
	for k := range withPrefix(m, "meridian_build_info") {
		_, rest, _ := strings.Cut(k, `goversion="`)
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	return ""
}

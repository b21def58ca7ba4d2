package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/promtest"
	"github.com/meridiandns/meridian/internal/querylog"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// series gathers c and returns every sample of the named metric, keyed
// by its labels as `k="v",...` in label order.
func series(t *testing.T, c prometheus.Collector, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, mf := range promtest.Gather(t, c) {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				out[promtest.Labels(m)] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func diffSeries(t *testing.T, name string, got, want map[string]float64) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s{%s}: got %v; want %v", name, k, got[k], want[k])
		}
	}
}

func TestQueryMetrics(t *testing.T) {
	s := newTestServer(t, DefaultOptions())
	src := netip.MustParseAddr("192.0.2.1")
	notify := query("www.example.org.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	for _, tt := range []struct {
		name string
		req  *dns.Msg
		tcp  bool
	}{
		{"answer over UDP", query("www.example.org.", dns.TypeA), false},
		{"answer over TCP", query("www.example.org.", dns.TypeA), true},
		{"answer with ECS", query("www.example.org.", dns.TypeA, withECS(1, "198.51.100.0", 24)), false},
		{"NXDOMAIN", query("nope.example.org.", dns.TypeA), false},
		{"NODATA", query("www.example.org.", dns.TypeAAAA), false},
		{"uncommon type counts as other", query("www.example.org.", dns.TypeNULL), false},
		{"outside our zones", query("example.com.", dns.TypeA), false},
		{"truncated over UDP", query("big.example.org.", dns.TypeTXT), false},
		{"same over TCP is whole", query("big.example.org.", dns.TypeTXT), true},
		{"CHAOS without a version", chaos("version.bind."), false},
		{"BADVERS", query("www.example.org.", dns.TypeA, withEDNS(1232), func(m *dns.Msg) { m.IsEdns0().SetVersion(1) }), false},
		{"other opcode", notify, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := s.Respond(tt.req, src, tt.tcp); r == nil {
				t.Fatal("got no response")
			}
		})
	}
	c := s.Collector()
	diffSeries(t, "meridian_dns_queries_total", series(t, c, "meridian_dns_queries_total"), map[string]float64{
		`qtype="A",rcode="NOERROR",transport="udp",zone="example.org."`:     2,
		`qtype="A",rcode="NOERROR",transport="tcp",zone="example.org."`:     1,
		`qtype="A",rcode="NXDOMAIN",transport="udp",zone="example.org."`:    1,
		`qtype="AAAA",rcode="NOERROR",transport="udp",zone="example.org."`:  1,
		`qtype="other",rcode="NOERROR",transport="udp",zone="example.org."`: 1,
		`qtype="A",rcode="REFUSED",transport="udp",zone=""`:                 1,
		`qtype="TXT",rcode="NOERROR",transport="udp",zone="example.org."`:   1,
		`qtype="TXT",rcode="NOERROR",transport="tcp",zone="example.org."`:   1,
		`qtype="TXT",rcode="REFUSED",transport="udp",zone=""`:               1,
		`qtype="A",rcode="BADVERS",transport="udp",zone=""`:                 1,
		`qtype="other",rcode="NOTIMP",transport="udp",zone=""`:              1,
	})
	diffSeries(t, "meridian_dns_ecs_queries_total", series(t, c, "meridian_dns_ecs_queries_total"), map[string]float64{
		`ecs="absent"`: 11, `ecs="present"`: 1,
	})
	diffSeries(t, "meridian_dns_truncated_responses_total", series(t, c, "meridian_dns_truncated_responses_total"), map[string]float64{
		``: 1,
	})
	diffSeries(t, "meridian_dns_dynamic_decisions_total", series(t, c, "meridian_dns_dynamic_decisions_total"), map[string]float64{})
}

// allDown is a health source under which every value is down: the
// record's pools are exhausted and answers fail open.
type allDown struct{}

func (allDown) State(*pools.Record, *pools.Value) pools.State         { return pools.Unhealthy }
func (allDown) Drained(*pools.Record, *pools.Pool, *pools.Value) bool { return false }

func TestDecisionMetrics(t *testing.T) {
	s := newDynServer(t)
	eu, us := netip.MustParseAddr("198.51.100.9"), netip.MustParseAddr("192.0.2.1")
	for _, tt := range []struct {
		name string
		req  *dns.Msg
		src  netip.Addr
	}{
		{"EU client", query("app.example.org.", dns.TypeA), eu},
		{"EU client again", query("app.example.org.", dns.TypeA), eu},
		{"US client by ECS", query("app.example.org.", dns.TypeA, withECS(1, "192.0.2.0", 24)), eu},
		{"EU client, AAAA", query("app.example.org.", dns.TypeAAAA), eu},
		{"static record: no decision", query("static.example.org.", dns.TypeA), us},
		{"NXDOMAIN: no decision", query("nope.example.org.", dns.TypeA), us},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := s.Respond(tt.req, tt.src, false); r == nil || r.Rcode == dns.RcodeServerFailure {
				t.Fatalf("got %v", r)
			}
		})
	}
	s.SetHealth(allDown{})
	s.Respond(query("app.example.org.", dns.TypeA), us, false)

	const app = `record="app.example.org.",`
	diffSeries(t, "meridian_dns_dynamic_decisions_total", series(t, s.Collector(), "meridian_dns_dynamic_decisions_total"), map[string]float64{
		`outcome="pool",pool="eu",` + app + `rule="1",type="A",zone="example.org."`:    2,
		`outcome="pool",pool="us",` + app + `rule="2",type="A",zone="example.org."`:    1,
		`outcome="pool",pool="eu",` + app + `rule="1",type="AAAA",zone="example.org."`: 1,
		`outcome="failopen",pool="",` + app + `rule="2",type="A",zone="example.org."`:  1,
	})
}

// blockedLog returns a query log whose writer is stuck writing its first
// line, so that entries pile up in its buffer and then drop.
func blockedLog(t *testing.T, buffer int) *querylog.Log {
	t.Helper()
	pr, pw := io.Pipe()
	l, err := querylog.Open(querylog.Options{Sample: 1, Stderr: pw, Buffer: buffer})
	if err != nil {
		t.Fatal(err)
	}
	l.Write(&querylog.Entry{QName: "first."})
	if _, err := pr.Read(make([]byte, 1)); err != nil { // the writer is inside its flush now
		t.Fatal(err)
	}
	t.Cleanup(func() {
		go io.Copy(io.Discard, pr)
		l.Close()
	})
	return l
}

// TestAccountAllocs proves the per-query accounting allocation-free, for
// static and dynamic answers, with and without a sampled query log (whose
// buffer first fills and then drops).
func TestAccountAllocs(t *testing.T) {
	s := newDynServer(t)
	c := pools.NewClient(netip.MustParseAddr("198.51.100.9"), s.geo.Load())
	res := s.zones.Current().LookupFor("app.example.org.", dns.TypeA, zones.Query{Client: &c})
	if !res.Dynamic {
		t.Fatal("lookup: got a static answer; want a dynamic decision")
	}
	static := queryInfo{client: c.Addr, qname: "static.example.org.", qtype: dns.TypeA, zone: res.Zone}
	dynamic := queryInfo{client: c.Addr, qname: "app.example.org.", qtype: dns.TypeA, zone: res.Zone,
		ecs: true, ecsPrefix: netip.MustParsePrefix("198.51.100.0/24"), dynamic: true, decision: &res.Decision}
	logged := dynamic
	logged.log, logged.start = blockedLog(t, 16), time.Now()
	for _, tt := range []struct {
		name string
		q    queryInfo
	}{
		{"static", static},
		{"dynamic", dynamic},
		{"outside our zones", queryInfo{client: c.Addr, qname: "x.", qtype: dns.TypeA, rcode: dns.RcodeRefused}},
		{"sampled for the query log", logged},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			if got := testing.AllocsPerRun(200, func() { s.account(&q) }); got != 0 {
				t.Errorf("got %v allocations per account; want 0", got)
			}
		})
	}
}

func TestRespondQueryLog(t *testing.T) {
	s := newDynServer(t)
	path := filepath.Join(t.TempDir(), "queries.log")
	l, err := querylog.Open(querylog.Options{Path: path, Sample: 1})
	if err != nil {
		t.Fatal(err)
	}
	s.SetQueryLog(l)
	s.Respond(query("app.example.org.", dns.TypeA, withECS(1, "198.51.100.0", 24)), netip.MustParseAddr("192.0.2.1"), true)
	s.Respond(query("static.example.org.", dns.TypeA), netip.MustParseAddr("192.0.2.1"), false)
	s.SetQueryLog(nil)
	s.Respond(query("static.example.org.", dns.TypeA), netip.MustParseAddr("192.0.2.1"), false)
	l.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines; want 2 (the third query came after the log was unset)\n%s", len(lines), data)
	}
	var got []map[string]any
	for _, ln := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(ln), &m); err != nil {
			t.Fatalf("line %q: %v", ln, err)
		}
		if _, ok := m["latency_us"].(float64); !ok {
			t.Errorf("line %q: no latency_us", ln)
		}
		delete(m, "latency_us")
		delete(m, "time")
		got = append(got, m)
	}
	want := []string{
		`{"client":"192.0.2.1","ecs":"198.51.100.0/24","outcome":"pool","pool":"eu","qname":"app.example.org.","qtype":"A","rcode":"NOERROR","transport":"tcp","values":["198.51.100.100"],"zone":"example.org."}`,
		`{"client":"192.0.2.1","qname":"static.example.org.","qtype":"A","rcode":"NOERROR","transport":"udp","zone":"example.org."}`,
	}
	for i, m := range got {
		b, _ := json.Marshal(m)
		if string(b) != want[i] {
			t.Errorf("line %d: got %s; want %s", i+1, b, want[i])
		}
	}
}

func TestMetricsLint(t *testing.T) {
	s := newDynServer(t)
	s.Respond(query("app.example.org.", dns.TypeA), netip.MustParseAddr("198.51.100.9"), false)
	promtest.Lint(t, promtest.Gather(t, s.Collector()))
}

// newLoaderServer serves dynZone from its own directory (no GeoIP: every
// client takes the catch-all rule), returning the directory and loader
// so that tests can change and reload the zone.
func newLoaderServer(tb testing.TB) (*Server, *zones.Loader, string) {
	tb.Helper()
	l, dir := testLoader(tb, zones.Options{SOA: zones.SOAValues{RName: "h", Minimum: 60, TTL: 300}}, map[string]string{"example.org.yaml": dynZone})
	return New(DefaultOptions(), l, slog.New(slog.DiscardHandler)), l, dir
}

// TestMetricsAcrossReload: a reload that recompiles the zone keeps
// counting in the same series, and the old version's entries are dropped
// from the query path's table, so old snapshots are not kept alive.
func TestMetricsAcrossReload(t *testing.T) {
	s, l, dir := newLoaderServer(t)
	src := netip.MustParseAddr("192.0.2.1")
	s.Respond(query("app.example.org.", dns.TypeA), src, false)
	old := l.Current().Zone("example.org.")
	if err := os.WriteFile(filepath.Join(dir, "example.org.yaml"), []byte(dynZone+"new: {type: A, value: 192.0.2.9}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ps := l.Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	if l.Current().Zone("example.org.") == old {
		t.Fatal("the zone was not recompiled")
	}
	s.Respond(query("app.example.org.", dns.TypeA), src, false)
	s.Respond(query("nope.example.org.", dns.TypeA), src, false)

	c := s.Collector()
	diffSeries(t, "meridian_dns_dynamic_decisions_total", series(t, c, "meridian_dns_dynamic_decisions_total"), map[string]float64{
		`outcome="pool",pool="us",record="app.example.org.",rule="2",type="A",zone="example.org."`: 2,
	})
	diffSeries(t, "meridian_dns_queries_total", series(t, c, "meridian_dns_queries_total"), map[string]float64{
		`qtype="A",rcode="NOERROR",transport="udp",zone="example.org."`:  2,
		`qtype="A",rcode="NXDOMAIN",transport="udp",zone="example.org."`: 1,
	})
	fast := s.metrics.fast.Load()
	cur := l.Current()
	if fast.set != cur || len(fast.zones) != 2 || fast.zones[old] != nil || fast.zones[cur.Zone("example.org.")] == nil ||
		len(fast.records) != len(cur.Policies()) {
		t.Errorf("lookup table: got %d zones (old version kept: %v), %d records; want 2 zones (outside, the new version) and %d records",
			len(fast.zones), fast.zones[old] != nil, len(fast.records), len(cur.Policies()))
	}
}

// BenchmarkAccount measures the per-query accounting of a dynamic answer,
// from parallel goroutines as the listeners call it.
func BenchmarkAccount(b *testing.B) {
	s, l, _ := newLoaderServer(b)
	c := pools.NewClient(netip.MustParseAddr("192.0.2.1"), nil)
	res := l.Current().LookupFor("app.example.org.", dns.TypeA, zones.Query{Client: &c})
	if !res.Dynamic {
		b.Fatal("got a static answer; want a dynamic decision")
	}
	q := queryInfo{client: c.Addr, qname: "app.example.org.", qtype: dns.TypeA, zone: res.Zone, dynamic: true, decision: &res.Decision}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		q := q
		for pb.Next() {
			s.account(&q)
		}
	})
}

// TestMetricsTableOncePerSet: a zone set of many dynamic records builds
// the query path's table once, not once per record (which made the first
// queries after loading a large set quadratic).
func TestMetricsTableOncePerSet(t *testing.T) {
	var b strings.Builder
	b.WriteString("'':\n  - {type: NS, value: ns1.example.org.}\n")
	const n = 300
	for i := range n {
		fmt.Fprintf(&b, "d%d:\n  type: A\n  value: 192.0.2.1\n  dynamic:\n    pools:\n      p: {values: [{value: 192.0.2.%d}]}\n    rules:\n      - {pool: p}\n", i, i%250+1)
	}
	l, _ := testLoader(t, zones.Options{SOA: zones.SOAValues{RName: "h", Minimum: 60, TTL: 300}}, map[string]string{"example.org.yaml": b.String()})
	s := New(DefaultOptions(), l, slog.New(slog.DiscardHandler))
	src := netip.MustParseAddr("192.0.2.1")
	s.Respond(query("d0.example.org.", dns.TypeA), src, false)
	first := s.metrics.fast.Load()
	for i := 1; i < n; i++ {
		s.Respond(query(fmt.Sprintf("d%d.example.org.", i), dns.TypeA), src, false)
	}
	if got := s.metrics.fast.Load(); got != first {
		t.Errorf("the lookup table was republished after the first query of the set")
	}
	if len(first.records) != n {
		t.Errorf("got %d records in the table; want %d", len(first.records), n)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// queryLogZone answers app.example.com from the "eu" pool for
// 198.51.100.0/24 and from "world" for everyone else; no health checks.
const queryLogZone = `'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
www: {type: A, value: 192.0.2.80}
app:
  type: A
  values: [192.0.2.100]
  dynamic:
    pools:
      eu: {values: [{value: 198.51.100.100}, {value: 198.51.100.101}]}
      world: {values: [{value: 192.0.2.100}]}
    rules:
      - {subnets: [198.51.100.0/24], pool: eu}
      - {pool: world}
  octodns:
    meridian: {answers: 2}
`

// readQueryLog parses every line of the query log at path.
func readQueryLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestQueryLog runs the binary with every query logged to a file, sends
// real queries, stops it with SIGTERM and checks each line's fields: the
// last lines must be there, flushed at shutdown.
func TestQueryLog(t *testing.T) {
	n := testbin.Start(t, baseConfig+"log: {queries: {enabled: true, sample: 1, path: queries.log}}\n", map[string]string{
		"zones/example.com.yaml": queryLogZone,
	})
	sent := time.Now()
	for _, s := range []struct {
		network string
		msg     *dns.Msg
	}{
		{"udp", ecsQuery("app.example.com.", dns.TypeA, 1, "198.51.100.0", 24)},
		{"tcp", q("App.Example.com.", dns.TypeA)},
		{"udp", q("www.example.com.", dns.TypeA)},
		{"udp", q("nope.example.com.", dns.TypeAAAA)},
		{"tcp", q("example.org.", dns.TypeMX)},
	} {
		exchange(t, n.Addr, s.network, s.msg)
	}
	if err := n.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, n.Logs())
	}
	lines := readQueryLog(t, filepath.Join(n.Dir, "queries.log"))
	want := []string{
		`{"client":"127.0.0.1","ecs":"198.51.100.0/24","outcome":"pool","pool":"eu","qname":"app.example.com.","qtype":"A","rcode":"NOERROR","transport":"udp","values":["198.51.100.100","198.51.100.101"],"zone":"example.com."}`,
		`{"client":"127.0.0.1","outcome":"pool","pool":"world","qname":"App.Example.com.","qtype":"A","rcode":"NOERROR","transport":"tcp","values":["192.0.2.100"],"zone":"example.com."}`,
		`{"client":"127.0.0.1","qname":"www.example.com.","qtype":"A","rcode":"NOERROR","transport":"udp","zone":"example.com."}`,
		`{"client":"127.0.0.1","qname":"nope.example.com.","qtype":"AAAA","rcode":"NXDOMAIN","transport":"udp","zone":"example.com."}`,
		`{"client":"127.0.0.1","qname":"example.org.","qtype":"MX","rcode":"REFUSED","transport":"tcp","zone":""}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines; want %d\n%v", len(lines), len(want), lines)
	}
	for i, m := range lines {
		at, err := time.Parse(time.RFC3339Nano, m["time"].(string))
		if err != nil || at.Before(sent.Add(-time.Second)) || at.After(time.Now()) || at.Location() != time.UTC {
			t.Errorf("line %d: time %v; want a UTC time of this test (%v)", i+1, m["time"], err)
		}
		if us, ok := m["latency_us"].(float64); !ok || us <= 0 || us > 1e6 {
			t.Errorf("line %d: latency_us %v; want a positive number of microseconds", i+1, m["latency_us"])
		}
		delete(m, "time")
		delete(m, "latency_us")
		if v, ok := m["values"].([]any); ok && len(v) == 2 && v[0].(string) > v[1].(string) {
			v[0], v[1] = v[1], v[0] // two answers come in random order
		}
		got, _ := json.Marshal(m)
		if string(got) != want[i] {
			t.Errorf("line %d:\ngot  %s\nwant %s", i+1, got, want[i])
		}
	}
}

// TestQueryLogReopen moves the log away as logrotate does and sends
// SIGHUP: the next lines go to a new file at the configured path.
func TestQueryLogReopen(t *testing.T) {
	n := testbin.Start(t, baseConfig+"log: {queries: {enabled: true, sample: 1, path: queries.log}}\n", map[string]string{
		"zones/example.com.yaml": queryLogZone,
	})
	path := filepath.Join(n.Dir, "queries.log")
	exchange(t, n.Addr, "udp", q("www.example.com.", dns.TypeA))
	testbin.Eventually(t, 5*time.Second, func() bool {
		data, _ := os.ReadFile(path)
		return strings.Count(string(data), "\n") == 1
	}, "the first line written")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	n.Signal(syscall.SIGHUP)
	n.WaitLog("config reloaded", 5*time.Second)
	testbin.Eventually(t, 5*time.Second, func() bool {
		_, err := os.Stat(path)
		return err == nil
	}, "the log reopened at %s", path)
	exchange(t, n.Addr, "udp", q("nope.example.com.", dns.TypeA))
	n.Stop()
	for _, tt := range []struct {
		file, qname string
	}{
		{path + ".1", "www.example.com."},
		{path, "nope.example.com."},
	} {
		lines := readQueryLog(t, tt.file)
		if len(lines) != 1 || lines[0]["qname"] != tt.qname {
			t.Errorf("%s: got %v; want one line for %s", filepath.Base(tt.file), lines, tt.qname)
		}
	}
}

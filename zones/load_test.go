package zones

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var testSOA = SOAValues{RName: "hostmaster", Refresh: 7200, Retry: 1800, Expire: 1209600, Minimum: 60, TTL: 3600}

func writeZone(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newTestLoader(t *testing.T, dir, state string) *Loader {
	t.Helper()
	l, err := NewLoader(Options{Dir: dir, SOA: testSOA, StateDir: state}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func aOf(t *testing.T, s *Set, name string) string {
	t.Helper()
	res := s.Lookup(name, dns.TypeA)
	if len(res.Answer) == 0 {
		return res.Kind.String()
	}
	return res.Answer[len(res.Answer)-1].(*dns.A).A.String()
}

const yamlZone = `'':
  - {type: NS, values: [ns1.example.org., ns2.example.net.]}
  - {type: ALIAS, ttl: 120, value: web.example.org.}
ns1: {type: A, value: 192.0.2.53}
web: {type: A, values: [192.0.2.80]}
`

func TestReloadKeepsLastGoodZone(t *testing.T) {
	dir := t.TempDir()
	writeZone(t, dir, "example.org.yaml", yamlZone)
	writeZone(t, dir, "other.test.zone", otherZone)
	l := newTestLoader(t, dir, "")
	if ps := l.Reload(); len(ps) > 0 {
		t.Fatal(ps)
	}
	if got := aOf(t, l.Current(), "web.example.org."); got != "192.0.2.80" {
		t.Fatalf("web: got %s", got)
	}

	// Break one zone and change the other: the broken one keeps its last
	// good version, the other updates, and the problem names file and line.
	writeZone(t, dir, "example.org.yaml", strings.Replace(yamlZone, "192.0.2.80", "192.0.2.999", 1))
	writeZone(t, dir, "other.test.zone", strings.Replace(otherZone, "198.51.100.10", "198.51.100.11", 1))
	ps := l.Reload()
	if len(ps) != 1 || ps[0].Line != 5 || !strings.HasSuffix(ps[0].Path, "example.org.yaml") {
		t.Fatalf("problems: got %v; want one at example.org.yaml:5", ps)
	}
	if got := aOf(t, l.Current(), "web.example.org."); got != "192.0.2.80" {
		t.Errorf("broken zone: got %s; want the last good answer", got)
	}
	if got := aOf(t, l.Current(), "host.other.test."); got != "198.51.100.11" {
		t.Errorf("good zone: got %s; want the update", got)
	}
	if kept, _ := l.LastReload(); len(kept) != 1 {
		t.Errorf("LastReload: got %v; want the problem kept", kept)
	}

	// A zone whose file is removed is no longer served.
	os.Remove(filepath.Join(dir, "other.test.zone"))
	l.Reload()
	if got := l.Current().Lookup("host.other.test.", dns.TypeA).Kind; got != Refused {
		t.Errorf("removed zone: got %v; want Refused", got)
	}
}

func TestSynthesisedSOA(t *testing.T) {
	dir := t.TempDir()
	writeZone(t, dir, "example.org.yaml", yamlZone)
	l := newTestLoader(t, dir, "")
	l.Reload()
	z := l.Current().Zone("example.org.")
	if z == nil {
		t.Fatal("zone not loaded")
	}
	soa := z.SOA
	if soa.Ns != "ns1.example.org." || soa.Mbox != "hostmaster.example.org." || soa.Hdr.Ttl != 3600 || soa.Minttl != 60 {
		t.Errorf("SOA: got %v", soa)
	}
	if res := l.Current().Lookup("Example.ORG.", dns.TypeA); len(res.Answer) != 1 ||
		res.Answer[0].Header().Name != "Example.ORG." || res.Answer[0].Header().Ttl != 120 {
		t.Errorf("ALIAS: got %v; want the target's A with the ALIAS TTL and the apex as owner", res.Answer)
	}

	for _, tt := range []struct{ rname, want string }{
		{"hostmaster", "hostmaster.example.org."},
		{"dns.example.net.", "dns.example.net."},
		{"dns.admin@Example.NET", `dns\.admin.example.net.`},
	} {
		if got := mailbox(tt.rname, "example.org."); got != tt.want {
			t.Errorf("mailbox(%q): got %q; want %q", tt.rname, got, tt.want)
		}
	}
	if got := synthSOA("example.org.", nil, SOAValues{MName: "ns9"}).Ns; got != "ns9.example.org." {
		t.Errorf("relative mname: got %q", got)
	}
}

func TestSerials(t *testing.T) {
	state := t.TempDir()
	s, err := newSerials(state)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	h1, h2 := [32]byte{1}, [32]byte{2}
	first := s.next("example.org.", h1, now)
	if first != 1_800_000_000 {
		t.Errorf("first serial: got %d; want the unix time", first)
	}
	z := &Zone{Origin: "example.org.", SOA: &dns.SOA{Serial: first}, hash: h1}
	if err := s.commit([]*Zone{z}); err != nil {
		t.Fatal(err)
	}
	if got := s.next("example.org.", h1, now.Add(time.Hour)); got != first {
		t.Errorf("unchanged content: got %d; want %d", got, first)
	}
	if got := s.next("example.org.", h2, now); got != first+1 {
		t.Errorf("changed within the same second: got %d; want %d", got, first+1)
	}
	if got := s.next("example.org.", h2, now.Add(-time.Hour)); got != first+1 {
		t.Errorf("clock went back: got %d; want %d (never down)", got, first+1)
	}
	if got := s.next("example.org.", h2, now.Add(time.Minute)); got != first+60 {
		t.Errorf("changed later: got %d; want %d", got, first+60)
	}
	// A new process reads the state back.
	again, err := newSerials(state)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.next("example.org.", h1, now.Add(24*time.Hour)); got != first {
		t.Errorf("after restart: got %d; want %d", got, first)
	}
	// A corrupt state file is an error, not a silent reset to nothing.
	os.WriteFile(filepath.Join(state, serialFile), []byte("{garbage"), 0o644)
	if _, err := newSerials(state); err == nil {
		t.Error("corrupt state: got no error")
	}
}

func TestCheckReportsEveryZone(t *testing.T) {
	dir := t.TempDir()
	writeZone(t, dir, "example.org.yaml", "www: {type: A, value: 192.0.2.1}\n")
	writeZone(t, dir, "other.test.zone", "$ORIGIN other.test.\n@ 300 IN NS ns.other.test.\n")
	writeZone(t, dir, "dup.test.zone", otherZone)
	writeZone(t, dir, "dup.test.yaml", yamlZone)
	writeZone(t, dir, "README", "not a zone")
	ps := Check(Options{Dir: dir, SOA: testSOA})
	var got []string
	for _, p := range ps {
		got = append(got, strings.TrimPrefix(p.String(), dir+"/"))
	}
	want := []string{
		"dup.test.yaml:3: ALIAS target web.example.org. is outside the zone; only in-zone targets can be answered",
		"dup.test.zone: zone dup.test. is also defined in " + filepath.Join(dir, "dup.test.yaml"),
		`example.org.yaml: record "" NS: zone apex has no NS records`,
		`other.test.zone: record "" SOA: zone apex has no SOA record`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestHealthCheckHostDefaults(t *testing.T) {
	dir := t.TempDir()
	writeZone(t, dir, "example.org.yaml", yamlZone+`app:
  type: A
  values: [192.0.2.1]
  dynamic: {pools: {a: {values: [{value: 192.0.2.1}]}}, rules: [{pool: a}]}
  octodns: {healthcheck: {protocol: HTTP}}
cdn:
  type: CNAME
  value: lb.example.net.
  dynamic: {pools: {a: {values: [{value: lb.example.net.}]}}, rules: [{pool: a}]}
  octodns: {healthcheck: {protocol: HTTPS}}
pinned:
  type: CNAME
  value: lb.example.net.
  dynamic: {pools: {a: {values: [{value: lb.example.net.}]}}, rules: [{pool: a}]}
  octodns: {healthcheck: {host: www.example.org}}
`)
	set, ps := Load(Options{Dir: dir, SOA: testSOA})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	hosts := map[string]string{}
	for _, r := range set.Policies() {
		hosts[r.Name] = r.Check.Host
	}
	want := map[string]string{"app.example.org.": "app.example.org", "cdn.example.org.": "", "pinned.example.org.": "www.example.org"}
	for name, h := range want {
		if hosts[name] != h {
			t.Errorf("%s: Host %q; want %q", name, hosts[name], h)
		}
	}
}

// TestContentHash: the serial follows the content alone — not the order
// of RRs, not the SOA serial — and every answered difference counts.
func TestContentHash(t *testing.T) {
	const base = "$ORIGIN example.org.\n@ 3600 IN SOA ns1 h 1 7200 1800 1209600 60\n@ NS ns1\nns1 300 A 192.0.2.53\nwww 300 A 192.0.2.1\nwww 300 A 192.0.2.2\nwww 300 TXT \"hello\"\n"
	h := contentHash(testZone(t, "example.org.", base))
	same := map[string]string{
		"RR order":   strings.Replace(base, "www 300 A 192.0.2.1\nwww 300 A 192.0.2.2\n", "www 300 A 192.0.2.2\nwww 300 A 192.0.2.1\n", 1),
		"SOA serial": strings.Replace(base, " 1 7200", " 99 7200", 1),
		"comments":   base + "; a comment\n",
	}
	for name, text := range same {
		if contentHash(testZone(t, "example.org.", text)) != h {
			t.Errorf("%s changed the hash", name)
		}
	}
	differ := map[string]string{
		"address":     strings.Replace(base, "192.0.2.2", "192.0.2.3", 1),
		"TTL":         strings.Replace(base, "www 300 TXT", "www 301 TXT", 1),
		"text":        strings.Replace(base, "hello", "hellO", 1),
		"SOA refresh": strings.Replace(base, " 7200", " 7201", 1),
		"new name":    base + "new 300 A 192.0.2.9\n",
	}
	for name, text := range differ {
		if contentHash(testZone(t, "example.org.", text)) == h {
			t.Errorf("%s left the hash as it was", name)
		}
	}
}

// TestContentHashPolicies: a policy counts by its YAML content, not its
// layout.
func TestContentHashPolicies(t *testing.T) {
	hash := func(app string) [32]byte { return loadYAML(t, app).Zone("example.org.").hash }
	flow := hash("app: {type: A, value: 192.0.2.10, dynamic: {pools: {a: {values: [{value: 198.51.100.1}]}}, rules: [{pool: a}]}}\n")
	block := hash(`app:  # the same, in block style
  type: A
  value: 192.0.2.10
  dynamic:
    pools:
      a:
        values:
          - value: 198.51.100.1
    rules:
      - pool: a
`)
	other := hash("app: {type: A, value: 192.0.2.10, dynamic: {pools: {a: {values: [{value: 198.51.100.2}]}}, rules: [{pool: a}]}}\n")
	if flow != block {
		t.Error("layout changed the hash")
	}
	if flow == other {
		t.Error("a pool value did not change the hash")
	}
}

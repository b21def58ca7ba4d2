package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/meridiandns/meridian/internal/explain"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/miekg/dns"
)

const apiToken = "t0ken-for-tests"

// originZone: EU clients go to pool eu on 127.0.0.12, falling back to
// pool us on 127.0.0.13, where everyone else goes; both are checked over
// HTTP every 500ms and change verdict on the first probe that disagrees.
func originZone(port string) string {
	return fmt.Sprintf(`'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  ttl: 30
  values: [127.0.0.12, 127.0.0.13]
  dynamic:
    pools:
      eu: {fallback: us, values: [{value: 127.0.0.12}]}
      us: {values: [{value: 127.0.0.13}]}
    rules:
      - {geos: [EU], pool: eu}
      - {pool: us}
  octodns:
    healthcheck: {protocol: HTTP, port: %s, path: /health}
    meridian:
      healthcheck: {interval: 500ms, timeout: 400ms, rise: 1, fall: 1}
`, port)
}

// startOrigins starts two HTTP origins on 127.0.0.12 and 127.0.0.13 with
// the same port.
func startOrigins(t *testing.T) (eu, us *testorigin.HTTP, port string) {
	t.Helper()
	eu = testorigin.NewHTTP(t, "127.0.0.12:0", "ok\n")
	_, port, _ = net.SplitHostPort(eu.Addr)
	us = testorigin.NewHTTP(t, "127.0.0.13:"+port, "ok\n")
	return eu, us, port
}

// demoGeoIP is the absolute path of the example GeoIP database (it puts
// 198.51.100.0/24 in EU-DE-HE).
func demoGeoIP(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", "geoip", "demo-city.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startAPINode starts a node serving originZone with the demo GeoIP
// database and, when token is set, an API token file.
func startAPINode(t *testing.T, port string, token bool) *testbin.Node {
	t.Helper()
	cfg := baseConfig + "geoip: {databases: [" + demoGeoIP(t) + "]}\n"
	files := map[string]string{"zones/example.com.yaml": originZone(port)}
	if token {
		cfg += "api: {listen: \"127.0.0.1:0\", token_file: api.token}\n"
		files["api.token"] = apiToken + "\n"
	}
	return testbin.Start(t, testbin.Config(cfg), files)
}

// apiCall makes one call to n's API and returns the status and body;
// header is pairs of names and values.
func apiCall(t *testing.T, n *testbin.Node, method, path, body string, header ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+n.API+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// apiError is the message of a JSON error reply, or "" when there is none.
func apiError(data []byte) string {
	var e struct{ Error string }
	json.Unmarshal(data, &e)
	return e.Error
}

// explainVia asks n's API to explain name/A for client.
func explainVia(t *testing.T, n *testbin.Node, name, qtype, client string) *explain.Report {
	t.Helper()
	v := url.Values{"name": {name}, "client": {client}}
	if qtype != "" {
		v.Set("type", qtype)
	}
	code, data := apiCall(t, n, "GET", "/api/v1/explain?"+v.Encode(), "")
	if code != 200 {
		t.Fatalf("explain %s %s: got %d %s; want 200", name, client, code, data)
	}
	var r explain.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("explain reply %s: %v", data, err)
	}
	return &r
}

var soaSerialRE = regexp.MustCompile(`(IN SOA \S+ \S+ )\d+`)

// TestAPIExplainMatchesCLI asks a running node's API every explain case
// that does not simulate failures and renders the JSON as the CLI does:
// it must read exactly as the golden output of `meridian explain`.
func TestAPIExplainMatchesCLI(t *testing.T) {
	dir := filepath.Join("testdata", "explain")
	files := map[string]string{}
	for _, f := range []string{"example.com.yaml", "example.net.zone"} {
		b, err := os.ReadFile(filepath.Join(dir, "zones", f))
		if err != nil {
			t.Fatal(err)
		}
		files["zones/"+f] = string(b)
	}
	n := testbin.Start(t, testbin.Config("node: {name: explain-test, region: test}\ngeoip: {databases: ["+demoGeoIP(t)+"]}\n"+
		"dynamic_ttl: 30\ndegraded_ttl: 10\n"), files)

	f, err := os.Open(filepath.Join(dir, "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ran := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "--down") {
			continue
		}
		name, args, _ := strings.Cut(line, "|")
		name = strings.TrimSpace(name)
		var pos []string
		var client string
		fields := strings.Fields(args)
		for i := 0; i < len(fields); i++ {
			if fields[i] == "--client" {
				client = fields[i+1]
				i++
				continue
			}
			pos = append(pos, fields[i])
		}
		qtype := ""
		if len(pos) > 1 {
			qtype = pos[1]
		}
		ran++
		t.Run(name, func(t *testing.T) {
			r := explainVia(t, n, pos[0], qtype, client)
			if r.Health != explain.SourceNode {
				t.Errorf("got health %q; want %q", r.Health, explain.SourceNode)
			}
			if r.Zone != nil {
				r.Zone.File = strings.TrimPrefix(r.Zone.File, n.Dir+string(filepath.Separator))
			}
			var got bytes.Buffer
			r.Text(&got)
			if r.Kind == "nxdomain" || r.Kind == "refused" {
				got.WriteString("exit: 1\n")
			} else {
				got.WriteString("exit: 0\n")
			}
			golden, err := os.ReadFile(filepath.Join(dir, name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			_, want, _ := strings.Cut(string(golden), "\n") // the command line
			// Serials come from each process's clock and state.
			gotS, wantS := soaSerialRE.ReplaceAllString(got.String(), "${1}SERIAL"), soaSerialRE.ReplaceAllString(want, "${1}SERIAL")
			if gotS != wantS {
				t.Errorf("API explain rendered as text:\n%s\nwant (the CLI's):\n%s", gotS, wantS)
			}
		})
	}
	if ran < 5 {
		t.Fatalf("ran %d cases; want the explain cases without --down", ran)
	}
}

// TestAPIExplainVerdicts checks that the API explains with the node's own
// verdicts and drains: geo routing to a healthy pool, failover when its
// origin stops, fail-open when the fallback is drained, and that the
// answers on the wire agree at each step.
func TestAPIExplainVerdicts(t *testing.T) {
	eu, _, port := startOrigins(t)
	n := startAPINode(t, port, true)
	const euClient = "198.51.100.0/24"
	wire := func() string {
		r := exchange(t, n.Addr, "udp", ecsQuery("app.example.com.", dns.TypeA, 1, "198.51.100.0", 24))
		return strings.Join(answers(r), "|")
	}

	r := explainVia(t, n, "app.example.com", "", euClient)
	checks := []struct{ what, got, want string }{
		{"health", r.Health, "node verdicts"},
		{"location", r.Location.Text, "EU-DE-HE at 50.10,8.70 (database network 198.51.100.0/24)"},
		{"client", fmt.Sprintf("%s/%d ecs=%v", r.Client.Addr, r.Client.Source, r.Client.ECS), "198.51.100.0/24 ecs=true"},
		{"decision", fmt.Sprintf("rule %d pool %s outcome %s ttl %d scope %d", r.Rule, r.Pool, r.Outcome, r.TTL, r.Scope),
			"rule 1 pool eu outcome pool ttl 30 scope 24"},
		{"answer", strings.Join(r.Answer, "|"), "app.example.com. 30 IN A 127.0.0.12"},
		{"wire", wire(), "app.example.com. 30 IN A 127.0.0.12"},
		{"zone", r.Zone.Origin, "example.com."},
		{"rcode", r.Rcode, "NOERROR"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q; want %q", c.what, c.got, c.want)
		}
	}
	if len(r.Endpoints) != 2 || !r.Endpoints[0].Up || !r.Endpoints[1].Up {
		t.Errorf("got endpoints %+v; want two, both up", r.Endpoints)
	}

	// The eu origin stops: the node's verdict, and so the explanation,
	// moves to the fallback pool.
	eu.Stop()
	testbin.Eventually(t, 10*time.Second, func() bool {
		r = explainVia(t, n, "app.example.com", "A", euClient)
		return r.Outcome == "fallback"
	}, "explain to report the fallback; last: %v", func() string { return fmt.Sprint(r.Trace) })
	if got, want := strings.Join(r.Answer, "|"), "app.example.com. 10 IN A 127.0.0.13"; got != want {
		t.Errorf("fallback answer: got %q; want %q (degraded TTL)", got, want)
	}
	if tr := strings.Join(r.Trace, "\n"); !strings.Contains(tr, "pool eu: 127.0.0.12 weight 1 status obey: not serviceable (health down)") {
		t.Errorf("got trace\n%s\nwant eu's value not serviceable for health down", tr)
	}
	for _, e := range r.Endpoints {
		if wantUp := strings.Contains(e.Name, "127.0.0.13"); e.Up != wantUp {
			t.Errorf("endpoint %s: got up=%v; want %v", e.Name, e.Up, wantUp)
		}
		if len(e.Observations) != 1 || e.Observations[0].Observer != "test-1" {
			t.Errorf("endpoint %s: got observations %+v; want this node's", e.Name, e.Observations)
		}
	}
	if got, want := wire(), "app.example.com. 10 IN A 127.0.0.13"; got != want {
		t.Errorf("wire after failover: got %q; want %q", got, want)
	}

	// Drain the fallback: every pool is out, so the record fails open.
	code, data := apiCall(t, n, "POST", "/api/v1/drains", `{"target":"pool:us","reason":"test"}`, "Authorization", "Bearer "+apiToken)
	if code != 201 {
		t.Fatalf("drain: got %d %s; want 201", code, data)
	}
	r = explainVia(t, n, "app.example.com", "A", euClient)
	if r.Outcome != "failopen" || !strings.Contains(strings.Join(r.Trace, "\n"), "pool us: 127.0.0.13 weight 1 status obey: not serviceable (drained)") {
		t.Errorf("with pool:us drained: got outcome %q trace\n%s\nwant failopen with us drained", r.Outcome, strings.Join(r.Trace, "\n"))
	}

	// Bad parameters name the parameter.
	for _, c := range []struct{ query, want string }{
		{"client=192.0.2.1", "name is required"},
		{"name=app.example.com", "client is required"},
		{"name=app.example.com&client=198.51.100.0/33", `client "198.51.100.0/33"`},
		{"name=app.example.com&client=192.0.2.1&type=BOGUS", `type "BOGUS"`},
	} {
		code, data := apiCall(t, n, "GET", "/api/v1/explain?"+c.query, "")
		if code != 400 || !strings.Contains(apiError(data), c.want) {
			t.Errorf("explain?%s: got %d %s; want 400 with %q", c.query, code, data, c.want)
		}
	}
}

// TestAPIReload reloads through the API: a good reload, zones with a
// problem (reported, the old zone kept serving), a config that fails to
// load (an error, the running config kept), all needing the token.
func TestAPIReload(t *testing.T) {
	n := testbin.Start(t, baseConfig+"api: {listen: \"127.0.0.1:0\", token_file: api.token}\n", map[string]string{
		"zones/example.org.yaml": orgYAML,
		"api.token":              apiToken,
	})
	auth := []string{"Authorization", "Bearer " + apiToken}
	type reloadReply struct {
		At       time.Time
		OK       bool
		Problems []string
	}
	reload := func(header ...string) (int, reloadReply, []byte) {
		t.Helper()
		code, data := apiCall(t, n, "POST", "/api/v1/reload", "", header...)
		var r reloadReply
		json.Unmarshal(data, &r)
		return code, r, data
	}

	if code, _, data := reload(); code != 401 || apiError(data) != "missing bearer token" {
		t.Errorf("reload without the token: got %d %s; want 401 missing bearer token", code, data)
	}
	start := time.Now()
	code, r, data := reload(auth...)
	if code != 200 || !r.OK || len(r.Problems) != 0 || r.At.Before(start.Add(-time.Second)) {
		t.Errorf("good reload: got %d %s; want 200, ok, no problems, at about now", code, data)
	}
	n.WaitLog(`msg="api reload" remote=127.0.0.1:`, 5*time.Second)
	if !strings.Contains(n.Logs(), `auth=token method=POST ok=true problems=0`) {
		t.Errorf("logs lack who reloaded:\n%s", n.Logs())
	}

	// A broken zone: reported; the last good version keeps serving.
	testbin.WriteFile(t, filepath.Join(n.Dir, "zones", "example.org.yaml"), orgYAML+"mail: {type: A, value: 192.0.2.999}\n")
	code, r, data = reload(auth...)
	if code != 200 || r.OK || len(r.Problems) == 0 || !strings.Contains(r.Problems[0], "example.org.yaml") {
		t.Errorf("broken zone: got %d %s; want 200, ok=false, a problem naming example.org.yaml", code, data)
	}
	if got, _ := firstA(t, n.Addr, "mail.example.org."); got != "192.0.2.25" {
		t.Errorf("after a broken zone: mail.example.org got %q; want the old 192.0.2.25", got)
	}
	var st struct{ Reload reloadReply }
	_, data = apiCall(t, n, "GET", "/api/v1/status", "")
	if json.Unmarshal(data, &st); st.Reload.OK || len(st.Reload.Problems) == 0 {
		t.Errorf("status after a broken zone: got reload %+v; want the problems", st.Reload)
	}

	// A config that does not load: an error naming the key; nothing
	// changes.
	cfg, err := os.ReadFile(n.Config)
	if err != nil {
		t.Fatal(err)
	}
	testbin.WriteFile(t, n.Config, string(cfg)+"colour: blue\n")
	code, _, data = reload(auth...)
	if msg := apiError(data); code != 500 || !strings.Contains(msg, `unknown key "colour"`) || !strings.Contains(msg, "running config is kept") {
		t.Errorf("bad config: got %d %s; want 500 naming the key colour", code, data)
	}
	if got, _ := firstA(t, n.Addr, "web.example.org."); got != "192.0.2.80" {
		t.Errorf("after a bad config: got %q; want 192.0.2.80 still served", got)
	}
	n.WaitLog(`msg="api reload failed" remote=127.0.0.1:`, 5*time.Second)

	// Both fixed: the next reload is clean.
	testbin.WriteFile(t, n.Config, string(cfg))
	testbin.WriteFile(t, filepath.Join(n.Dir, "zones", "example.org.yaml"), orgYAML)
	if code, r, data := reload(auth...); code != 200 || !r.OK {
		t.Errorf("after fixing: got %d %s; want 200 ok", code, data)
	}
}

// TestAPITokenEnforcement runs the auth rules against the binary: with a
// token file every change needs the token and reads need none; without
// one, loopback tools may change things but browsers may not.
func TestAPITokenEnforcement(t *testing.T) {
	_, _, port := startOrigins(t)
	withToken := startAPINode(t, port, true)
	noToken := startAPINode(t, port, false)
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	tests := []struct {
		name         string
		n            *testbin.Node
		method, path string
		body         string
		header       []string
		wantCode     int
		wantErr      string
	}{
		{"status needs no token", withToken, "GET", "/api/v1/status", "", nil, 200, ""},
		{"explain needs no token", withToken, "GET", "/api/v1/explain?name=app.example.com&client=192.0.2.1", "", nil, 200, ""},
		{"page needs no token", withToken, "GET", "/", "", nil, 200, ""},
		{"drain without token", withToken, "POST", "/api/v1/drains", `{"target":"pool:us"}`, nil, 401, "missing bearer token"},
		{"drain with a wrong token", withToken, "POST", "/api/v1/drains", `{"target":"pool:us"}`, bearer("nope"), 401, "invalid bearer token"},
		{"drain with the token", withToken, "POST", "/api/v1/drains", `{"target":"pool:us"}`, bearer(apiToken), 201, ""},
		{"drain from a browser with the token", withToken, "POST", "/api/v1/drains", `{"target":"pool:eu"}`,
			append(bearer(apiToken), "Origin", "http://"+withToken.API), 201, ""},
		{"undrain without token", withToken, "DELETE", "/api/v1/drains/pool:us", "", nil, 401, "missing bearer token"},
		{"undrain with the token", withToken, "DELETE", "/api/v1/drains/pool:us", "", bearer(apiToken), 204, ""},
		{"reload without token", withToken, "POST", "/api/v1/reload", "", nil, 401, "missing bearer token"},
		{"no token file: loopback tool drains", noToken, "POST", "/api/v1/drains", `{"target":"pool:us"}`, nil, 201, ""},
		{"no token file: browser refused", noToken, "POST", "/api/v1/drains", `{"target":"pool:us"}`,
			[]string{"Origin", "http://" + noToken.API}, 403, "browsers need api.token_file"},
		{"no token file: browser reload refused", noToken, "POST", "/api/v1/reload", "",
			[]string{"Origin", "http://" + noToken.API}, 403, "browsers need api.token_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, data := apiCall(t, tt.n, tt.method, tt.path, tt.body, tt.header...)
			if code != tt.wantCode || !strings.Contains(apiError(data), tt.wantErr) {
				t.Errorf("got %d %s; want %d with error %q", code, data, tt.wantCode, tt.wantErr)
			}
		})
	}
	if !strings.Contains(withToken.Logs(), `msg="api call refused"`) || !strings.Contains(withToken.Logs(), `msg="api drain set" remote=127.0.0.1:`) {
		t.Errorf("logs lack refused and accepted calls with their caller:\n%s", withToken.Logs())
	}
}

var (
	stampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ( \((in )?[0-9hms.]+( ago)?\))?`)
	portRE  = regexp.MustCompile(`(127\.0\.0\.\d+):\d+`)
	// The zones of these tests name origin ports, so their digests and
	// hashes change from run to run, and YAML serials come from the clock.
	digestRE = regexp.MustCompile(`\b[0-9a-f]{16}\b`)
	hashRE   = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	serialRE = regexp.MustCompile(`\b\d{10}\b`)
)

// maskStatus replaces what changes from run to run (times, ports, zone
// digests and serials) in
// the output of `meridian status`. Masking changes the widths of cells,
// so each table is cut into cells at its header's columns first and
// lined up again afterwards.
func maskStatus(s string) string {
	mask := func(c string) string {
		c = portRE.ReplaceAllString(stampRE.ReplaceAllString(c, "TIME"), "$1:PORT")
		c = digestRE.ReplaceAllString(c, "DIGEST")
		return serialRE.ReplaceAllString(hashRE.ReplaceAllString(c, "HASH"), "SERIAL")
	}
	headerCell := regexp.MustCompile(`[A-Z]+( [A-Z]+)*`)
	var b bytes.Buffer
	for _, block := range strings.Split(strings.TrimSuffix(s, "\n"), "\n\n") {
		lines := strings.Split(block, "\n")
		cols := headerCell.FindAllStringIndex(lines[0], -1)
		if len(cols) < 2 || headerCell.FindString(lines[0]) != lines[0][:cols[0][1]] || strings.ToUpper(lines[0]) != lines[0] {
			b.WriteString(mask(block) + "\n\n") // not a table
			continue
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, line := range lines {
			cells := make([]string, len(cols))
			for i, c := range cols {
				end := len(line)
				if i+1 < len(cols) {
					end = min(cols[i+1][0], len(line))
				}
				if c[0] < end {
					cells[i] = mask(strings.TrimSpace(line[c[0]:end]))
				}
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		tw.Flush()
		b.WriteString("\n")
	}
	return b.String()
}

// TestStatusCommand runs `meridian status` against a node with one origin
// down and a drain set, and compares its tables (times and ports masked)
// with testdata/status/status.golden; --json must carry the same data,
// and an unreachable API is a clear error.
func TestStatusCommand(t *testing.T) {
	_, us, port := startOrigins(t)
	n := startAPINode(t, port, true)
	bin := testbin.Build(t)
	us.Stop()
	var st struct {
		Endpoints []struct {
			Name string
			Up   bool
		}
	}
	testbin.Eventually(t, 10*time.Second, func() bool {
		_, data := apiCall(t, n, "GET", "/api/v1/status", "")
		json.Unmarshal(data, &st)
		return len(st.Endpoints) == 2 && st.Endpoints[0].Up && !st.Endpoints[1].Up
	}, "127.0.0.13 to be down: %+v", func() string { return fmt.Sprint(st) })
	if out, err := exec.Command(bin, "drain", "pool:us", "--for", "1h", "--reason", "rack move",
		"--api", n.API, "--token-file", filepath.Join(n.Dir, "api.token")).CombinedOutput(); err != nil {
		t.Fatalf("drain: %v\n%s", err, out)
	}

	out, err := exec.Command(bin, "status", "--api", "http://"+n.API).Output()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	got := maskStatus(string(out))
	golden := filepath.Join("testdata", "status", "status.golden")
	if *update {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("meridian status (masked):\n%s\nwant:\n%s\nunmasked:\n%s", got, want, out)
	}

	out, err = exec.Command(bin, "status", "--json", "--api", n.API).Output()
	if err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	var js struct {
		Node    string
		Records []struct {
			Name  string
			Pools []struct {
				ID      string
				Drained bool
				Values  []struct{ Value, Verdict string }
			}
		}
		Drains []struct{ Target, Reason string }
	}
	if err := json.Unmarshal(out, &js); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if js.Node != "test-1" || len(js.Records) != 1 || len(js.Records[0].Pools) != 2 ||
		js.Records[0].Pools[1].Values[0].Verdict != "down" || !js.Records[0].Pools[1].Drained ||
		len(js.Drains) != 1 || js.Drains[0].Reason != "rack move" {
		t.Errorf("status --json: got %+v; want test-1, app with us down and drained, one drain", js)
	}

	// Nothing listening: exit 1 and say so.
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(testbin.FreePort(t, "127.0.0.1")))
	cmd := exec.Command(bin, "status", "--api", addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if code := exitCode(t, err); code != 1 || !strings.Contains(stderr.String(), "meridian status: cannot reach the API at http://"+addr) {
		t.Errorf("unreachable API: got exit %d, stderr %q; want 1 and a clear message", code, stderr.String())
	}
}

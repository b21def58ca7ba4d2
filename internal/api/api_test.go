package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/explain"
)

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// fakeBackend records the calls that change state, and the queries it
// is asked to explain.
type fakeBackend struct {
	mu        sync.Mutex
	calls     []string // "set target d reason by", "undrain target by", "reload"
	err       error    // returned by SetDrain, Undrain, ReloadConfig and Explain when set
	drains    []healthmesh.Drain
	records   []Record
	explained []explain.Query
}

func (f *fakeBackend) Records() []Record { return f.records }

func (f *fakeBackend) ReloadConfig() (ReloadStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reload")
	if f.err != nil {
		return ReloadStatus{}, f.err
	}
	return ReloadStatus{At: t0, Problems: []string{"zones/example.com.yaml:3: bad TTL"}, Zones: 1, Directory: "ok"}, nil
}

func (f *fakeBackend) Explain(_ context.Context, q explain.Query) (*explain.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.explained = append(f.explained, q)
	if f.err != nil {
		return nil, f.err
	}
	return &explain.Report{Name: q.Name, Client: q.Client, Health: explain.SourceNode, Kind: "success",
		Result: "NOERROR", Rcode: "NOERROR", Answer: []string{q.Name + " 30 IN A 192.0.2.1"}}, nil
}

func (f *fakeBackend) Status() healthmesh.Status {
	return healthmesh.Status{Node: "n1", Region: "eu",
		Members: []healthmesh.Member{
			{Name: "n1", Region: "eu", Addr: "127.0.0.1:7946", State: "alive", ZoneSet: healthmesh.MemberZones{Digest: "3f2a9c0d11b2e4f5", Count: 1}},
			{Name: "n2", Region: "us", Addr: "127.0.0.2:7946", State: "alive",
				ZoneSet: healthmesh.MemberZones{Digest: "0000000000000000", Count: 1, Differs: true, Since: t0.Add(-time.Minute), Drifting: true}},
			{Name: "n3", Region: "us", Addr: "127.0.0.3:7946", State: "alive", ZoneSet: healthmesh.MemberZones{Digest: "3f2a9c0d11b2e4f5", Count: 1}},
			{Name: "n4", Region: "ap", Addr: "127.0.0.4:7946", State: "alive", MetaError: "meta: malformed zones field"},
		},
		ZoneSet: healthmesh.LocalZones{Digest: "3f2a9c0d11b2e4f5", Count: 1, Majority: "3f2a9c0d11b2e4f5", Drifting: 1,
			Grace: 30 * time.Second, Zones: []healthmesh.ZoneSerial{{Origin: "example.com.", Serial: 1767366245, Hash: "abcdef012345"}}},
	}
}

func (f *fakeBackend) Reload() ReloadStatus {
	return ReloadStatus{At: t0, OK: true, Zones: 1, Directory: "ok"}
}

func (f *fakeBackend) Drains() []healthmesh.Drain {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drains
}

func (f *fakeBackend) SetDrain(target string, d time.Duration, reason, by string, force bool) (healthmesh.Drain, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fmt.Sprintf("set %s %s %q %s", target, d, reason, by)
	if force {
		call += " force"
	}
	f.calls = append(f.calls, call)
	if f.err != nil {
		return healthmesh.Drain{}, f.err
	}
	dr := healthmesh.Drain{Target: target, Reason: reason, SetAt: t0, By: by}
	if d > 0 {
		dr.Until = t0.Add(d)
	}
	return dr, nil
}

func (f *fakeBackend) Undrain(target, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("undrain %s %s", target, by))
	return f.err
}

// testLog routes a server's log to t.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func newServer(t *testing.T, token string, b Backend) *Server {
	t.Helper()
	o := Options{Listen: "127.0.0.1:0", Log: testLog(t)}
	if token != "" {
		o.TokenFile = filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(o.TokenFile, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(o, b)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.Add(time.Minute) }
	return s
}

type call struct {
	method, path, body string
	remote             string            // default 127.0.0.1:40000
	header             map[string]string // extra request headers
}

func (c call) do(h http.Handler) *httptest.ResponseRecorder {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(c.method, c.path, body)
	r.Host = "127.0.0.1:8053"
	r.RemoteAddr = "127.0.0.1:40000"
	if c.remote != "" {
		r.RemoteAddr = c.remote
	}
	for k, v := range c.header {
		if k == "Host" {
			r.Host = v // net/http keeps it apart from the other headers
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// jsonOf decodes a reply body into a generic value for comparison.
func jsonOf(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("reply %q is not JSON: %v", s, err)
	}
	return v
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name      string
		call      call
		backErr   error
		wantCode  int
		wantJSON  string // exact JSON reply; empty: no body
		wantCalls []string
		wantHdr   map[string]string
	}{
		{name: "status", call: call{method: "GET", path: "/api/v1/status"}, wantCode: 200,
			wantJSON: `{"node":"n1","region":"eu","members":[
				{"name":"n1","region":"eu","addr":"127.0.0.1:7946","state":"alive","zone_set":{"digest":"3f2a9c0d11b2e4f5","count":1,"differs":false,"drifting":false}},
				{"name":"n2","region":"us","addr":"127.0.0.2:7946","state":"alive","zone_set":{"digest":"0000000000000000","count":1,"differs":true,"since":"2026-01-02T15:03:05Z","drifting":true}},
				{"name":"n3","region":"us","addr":"127.0.0.3:7946","state":"alive","zone_set":{"digest":"3f2a9c0d11b2e4f5","count":1,"differs":false,"drifting":false}},
				{"name":"n4","region":"ap","addr":"127.0.0.4:7946","state":"alive","zone_set":{"digest":"","count":0,"differs":false,"drifting":false},"meta_error":"meta: malformed zones field"}],
				"endpoints":[],"drains":[],
				"zone_set":{"digest":"3f2a9c0d11b2e4f5","count":1,"majority":"3f2a9c0d11b2e4f5","drifting":1,"drift_grace":30000000000,
					"zones":[{"origin":"example.com.","serial":1767366245,"hash":"abcdef012345"}]},
				"records":[],"reload":{"at":"2026-01-02T15:04:05Z","ok":true,"problems":[],"zones":1,"directory":"ok","pending":[]},
				"state":[],"auth":"loopback",
				"serving":{"failopen":[],"fallback":[],"decisions":{"pool":0,"fallback":0,"nearest":0,"failopen":0,"norule":0},"degraded":0},
				"now":"2026-01-02T15:05:05Z"}`},
		{name: "list drains empty", call: call{method: "GET", path: "/api/v1/drains"}, wantCode: 200,
			wantJSON: `{"drains":[]}`},
		{name: "drain for", call: call{method: "POST", path: "/api/v1/drains",
			body: `{"target":"198.51.100.1","for":"10m","reason":"kernel upgrade"}`}, wantCode: 201,
			wantJSON:  `{"target":"198.51.100.1","until":"2026-01-02T15:14:05Z","reason":"kernel upgrade","set_at":"2026-01-02T15:04:05Z","by":"api@127.0.0.1"}`,
			wantCalls: []string{`set 198.51.100.1 10m0s "kernel upgrade" api@127.0.0.1`},
			wantHdr:   map[string]string{"Location": "/api/v1/drains/198.51.100.1"}},
		{name: "drain pool until undone", call: call{method: "POST", path: "/api/v1/drains", body: `{"target":"pool:eu"}`},
			wantCode:  201,
			wantJSON:  `{"target":"pool:eu","set_at":"2026-01-02T15:04:05Z","by":"api@127.0.0.1"}`,
			wantCalls: []string{`set pool:eu 0s "" api@127.0.0.1`}},
		{name: "drain from ::1", call: call{method: "POST", path: "/api/v1/drains", body: `{"target":"2001:db8::1","for":"0s"}`,
			remote: "[::1]:5000"}, wantCode: 201,
			wantJSON:  `{"target":"2001:db8::1","set_at":"2026-01-02T15:04:05Z","by":"api@::1"}`,
			wantCalls: []string{`set 2001:db8::1 0s "" api@::1`}},
		{name: "drain backend error", call: call{method: "POST", path: "/api/v1/drains", body: `{"target":"x"}`},
			backErr: fmt.Errorf("mesh: boom"), wantCode: 500, wantJSON: `{"error":"mesh: boom"}`,
			wantCalls: []string{`set x 0s "" api@127.0.0.1`}},
		{name: "drain backend invalid", call: call{method: "POST", path: "/api/v1/drains", body: `{"target":"pool:zz"}`},
			backErr: fmt.Errorf("no pool zz: %w", ErrInvalid), wantCode: 400, wantJSON: `{"error":"no pool zz: invalid request"}`,
			wantCalls: []string{`set pool:zz 0s "" api@127.0.0.1`}},
		{name: "drain forced", call: call{method: "POST", path: "/api/v1/drains", body: `{"target":"cdn-new.example.net","force":true}`},
			wantCode:  201,
			wantJSON:  `{"target":"cdn-new.example.net","set_at":"2026-01-02T15:04:05Z","by":"api@127.0.0.1"}`,
			wantCalls: []string{`set cdn-new.example.net 0s "" api@127.0.0.1 force`}},
		{name: "drain of a reason at the limit", call: call{method: "POST", path: "/api/v1/drains",
			body: `{"target":"pool:eu","reason":"` + strings.Repeat("é", 100) + `"}`}, wantCode: 201,
			wantJSON:  `{"target":"pool:eu","reason":"` + strings.Repeat("é", 100) + `","set_at":"2026-01-02T15:04:05Z","by":"api@127.0.0.1"}`,
			wantCalls: []string{`set pool:eu 0s "` + strings.Repeat("é", 100) + `" api@127.0.0.1`}},
		{name: "drain of no served target", call: call{method: "POST", path: "/api/v1/drains", body: `{"target":"cdn-eu2.example.net"}`},
			backErr:  fmt.Errorf("cdn-eu2.example.net is no value; did you mean cdn-eu.example.net?: %w", ErrInvalid),
			wantCode: 400, wantJSON: `{"error":"cdn-eu2.example.net is no value; did you mean cdn-eu.example.net?: invalid request"}`,
			wantCalls: []string{`set cdn-eu2.example.net 0s "" api@127.0.0.1`}},
		{name: "undrain path", call: call{method: "DELETE", path: "/api/v1/drains/198.51.100.1"}, wantCode: 204,
			wantCalls: []string{"undrain 198.51.100.1 api@127.0.0.1"}},
		{name: "undrain escaped path", call: call{method: "DELETE", path: "/api/v1/drains/pool%3Aeu"}, wantCode: 204,
			wantCalls: []string{"undrain pool:eu api@127.0.0.1"}},
		{name: "undrain escaped ipv6", call: call{method: "DELETE", path: "/api/v1/drains/2001%3Adb8%3A%3A1"}, wantCode: 204,
			wantCalls: []string{"undrain 2001:db8::1 api@127.0.0.1"}},
		{name: "undrain query", call: call{method: "DELETE", path: "/api/v1/drains?target=pool%3Aeu"}, wantCode: 204,
			wantCalls: []string{"undrain pool:eu api@127.0.0.1"}},
		{name: "undrain no target", call: call{method: "DELETE", path: "/api/v1/drains"}, wantCode: 400,
			wantJSON: `{"error":"target is required"}`},
		{name: "undrain not found", call: call{method: "DELETE", path: "/api/v1/drains/x"},
			backErr: fmt.Errorf("x is not drained: %w", ErrNotFound), wantCode: 404, wantJSON: `{"error":"x is not drained: not found"}`,
			wantCalls: []string{"undrain x api@127.0.0.1"}},
		{name: "unknown route", call: call{method: "GET", path: "/api/v1/nope"}, wantCode: 404,
			wantJSON: `{"error":"no such endpoint: /api/v1/nope"}`},
		{name: "below root", call: call{method: "GET", path: "/index.html"}, wantCode: 404, wantJSON: `{"error":"no such endpoint: /index.html"}`},
		{name: "no such ui file", call: call{method: "GET", path: "/ui/nope.js"}, wantCode: 404, wantJSON: `{"error":"no such file: /ui/nope.js"}`},
		{name: "ui subdirectory", call: call{method: "GET", path: "/ui/x/app.js"}, wantCode: 404, wantJSON: `{"error":"no such endpoint: /ui/x/app.js"}`},
		{name: "reload", call: call{method: "POST", path: "/api/v1/reload"}, wantCode: 200,
			wantJSON: `{"at":"2026-01-02T15:04:05Z","ok":false,"problems":["zones/example.com.yaml:3: bad TTL"],
				"zones":1,"directory":"ok","pending":[]}`, wantCalls: []string{"reload"}},
		{name: "reload config error", call: call{method: "POST", path: "/api/v1/reload"},
			backErr: fmt.Errorf("meridian.yaml: dns.udp_size: 1 is below 512"), wantCode: 500,
			wantJSON:  `{"error":"reload failed; the running config is kept: meridian.yaml: dns.udp_size: 1 is below 512"}`,
			wantCalls: []string{"reload"}},
		{name: "reload by GET", call: call{method: "GET", path: "/api/v1/reload"}, wantCode: 405,
			wantJSON: `{"error":"method GET not allowed on /api/v1/reload"}`, wantHdr: map[string]string{"Allow": "POST"}},
		{name: "explain by POST", call: call{method: "POST", path: "/api/v1/explain?name=a&client=192.0.2.1"}, wantCode: 405,
			wantJSON: `{"error":"method POST not allowed on /api/v1/explain"}`, wantHdr: map[string]string{"Allow": "GET, HEAD"}},
		{name: "wrong method status", call: call{method: "POST", path: "/api/v1/status"}, wantCode: 405,
			wantJSON: `{"error":"method POST not allowed on /api/v1/status"}`, wantHdr: map[string]string{"Allow": "GET, HEAD"}},
		{name: "wrong method drain", call: call{method: "PUT", path: "/api/v1/drains/x"}, wantCode: 405,
			wantJSON: `{"error":"method PUT not allowed on /api/v1/drains/x"}`, wantHdr: map[string]string{"Allow": "DELETE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{err: tt.backErr}
			w := tt.call.do(newServer(t, "", b).Handler())
			if got := w.Code; got != tt.wantCode {
				t.Errorf("got status %d; want %d (body %s)", got, tt.wantCode, w.Body)
			}
			if tt.wantJSON == "" {
				if w.Body.Len() != 0 {
					t.Errorf("got body %q; want none", w.Body)
				}
			} else {
				if got := w.Header().Get("Content-Type"); got != "application/json" {
					t.Errorf("got Content-Type %q; want application/json", got)
				}
				if got, want := jsonOf(t, w.Body.String()), jsonOf(t, tt.wantJSON); !reflect.DeepEqual(got, want) {
					t.Errorf("got body %s; want %s", w.Body, tt.wantJSON)
				}
			}
			for k, want := range tt.wantHdr {
				if got := w.Header().Get(k); got != want {
					t.Errorf("got header %s %q; want %q", k, got, want)
				}
			}
			if !reflect.DeepEqual(b.calls, tt.wantCalls) {
				t.Errorf("got backend calls %q; want %q", b.calls, tt.wantCalls)
			}
		})
	}
}

func TestListDrains(t *testing.T) {
	b := &fakeBackend{drains: []healthmesh.Drain{
		{Target: "pool:eu", SetAt: t0, By: "n1"},
		{Target: "192.0.2.1", Until: t0.Add(time.Hour), Reason: "r", SetAt: t0, By: "api@127.0.0.1"},
	}}
	w := call{method: "GET", path: "/api/v1/drains"}.do(newServer(t, "", b).Handler())
	want := `{"drains":[{"target":"pool:eu","set_at":"2026-01-02T15:04:05Z","by":"n1"},
		{"target":"192.0.2.1","until":"2026-01-02T16:04:05Z","reason":"r","set_at":"2026-01-02T15:04:05Z","by":"api@127.0.0.1"}]}`
	if got := jsonOf(t, w.Body.String()); w.Code != 200 || !reflect.DeepEqual(got, jsonOf(t, want)) {
		t.Errorf("got %d %s; want 200 %s", w.Code, w.Body, want)
	}
}

func TestBadBodies(t *testing.T) {
	tests := []struct {
		name, body string
		wantCode   int
		wantErr    string // substring of the error message
	}{
		{"not json", `drain it`, 400, "bad JSON body"},
		{"empty", ``, 400, "bad JSON body"},
		{"array", `[]`, 400, "bad JSON body"},
		{"unknown field", `{"target":"x","until":"tomorrow"}`, 400, `unknown field "until"`},
		{"two values", `{"target":"x"}{"target":"y"}`, 400, "more than one value"},
		{"trailing junk", `{"target":"x"} x`, 400, "bad JSON body"},
		{"no target", `{"for":"1m"}`, 400, "target is required"},
		{"space in target", `{"target":"198.51.100.1 pool:eu"}`, 400, "contains spaces"},
		{"tab in target", `{"target":"a\tb"}`, 400, "contains spaces"},
		{"slash in target", `{"target":"a/b"}`, 400, "contains spaces"},
		{"pool without id", `{"target":"pool:"}`, 400, "needs a pool id"},
		{"long target", `{"target":"` + strings.Repeat("a", 256) + `"}`, 400, "longer than 255"},
		{"empty label", `{"target":"cdn..example.net"}`, 400, "not an address, a name or pool:ID"},
		{"address with zone", `{"target":"fe80::1%eth0"}`, 400, "zone"},
		{"long reason", `{"target":"x","reason":"` + strings.Repeat("a", 1500) + `"}`, 400, "reason is 1500 bytes; at most 200 are allowed"},
		{"reason one byte over", `{"target":"x","reason":"` + strings.Repeat("é", 100) + `a"}`, 400, "at most 200"},
		{"reason on two lines", `{"target":"x","reason":"a\nb"}`, 400, "control characters"},
		{"force not a bool", `{"target":"x","force":"yes"}`, 400, "bad JSON body"},
		{"bad duration", `{"target":"x","for":"10 minutes"}`, 400, "for: "},
		{"number duration", `{"target":"x","for":600}`, 400, "bad JSON body"},
		{"negative duration", `{"target":"x","for":"-1m"}`, 400, "negative"},
		{"too large", `{"target":"x","reason":"` + strings.Repeat("a", maxBody) + `"}`, 413, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{}
			w := call{method: "POST", path: "/api/v1/drains", body: tt.body}.do(newServer(t, "", b).Handler())
			var e struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("reply %q is not JSON: %v", w.Body, err)
			}
			if w.Code != tt.wantCode || !strings.Contains(e.Error, tt.wantErr) {
				t.Errorf("got %d %q; want %d containing %q", w.Code, e.Error, tt.wantCode, tt.wantErr)
			}
			if len(b.calls) != 0 {
				t.Errorf("got backend calls %q; want none", b.calls)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	const token = "s3cret-token"
	post := func(remote, auth string, extra ...string) call {
		c := call{method: "POST", path: "/api/v1/drains", body: `{"target":"x"}`, remote: remote, header: map[string]string{}}
		if auth != "" {
			c.header["Authorization"] = auth
		}
		for i := 0; i+1 < len(extra); i += 2 {
			c.header[extra[i]] = extra[i+1]
		}
		return c
	}
	del := call{method: "DELETE", path: "/api/v1/drains/x", remote: "192.0.2.7:1234"}
	tests := []struct {
		name     string
		token    string
		call     call
		wantCode int
		wantErr  string // substring of the error message
		wantBy   string // by passed to the backend, when the call gets there
	}{
		{"token: none", token, post("192.0.2.7:1234", ""), 401, "missing bearer token", ""},
		{"token: none from loopback", token, post("127.0.0.1:1", ""), 401, "missing bearer token", ""},
		{"token: wrong", token, post("192.0.2.7:1234", "Bearer nope"), 401, "invalid bearer token", ""},
		{"token: prefix", token, post("192.0.2.7:1234", "Bearer s3cret"), 401, "invalid bearer token", ""},
		{"token: basic scheme", token, post("192.0.2.7:1234", "Basic "+token), 401, "missing bearer token", ""},
		{"token: right", token, post("192.0.2.7:1234", "Bearer "+token), 201, "", "api@192.0.2.7"},
		{"token: right, lowercase scheme", token, post("192.0.2.7:1234", "bearer "+token), 201, "", "api@192.0.2.7"},
		{"token: right, with Origin", token, post("192.0.2.7:1234", "Bearer "+token, "Origin", "https://x"), 201, "", "api@192.0.2.7"},
		{"token: delete right", token, call{method: "DELETE", path: "/api/v1/drains/x", remote: "192.0.2.7:1234",
			header: map[string]string{"Authorization": "Bearer " + token}}, 204, "", "api@192.0.2.7"},
		{"token: delete none", token, del, 401, "missing bearer token", ""},
		{"no token: 127.0.0.1", "", post("127.0.0.1:1", ""), 201, "", "api@127.0.0.1"},
		{"no token: 127.9.9.9", "", post("127.9.9.9:1", ""), 201, "", "api@127.9.9.9"},
		{"no token: ::1", "", post("[::1]:1", ""), 201, "", "api@::1"},
		{"no token: mapped loopback", "", post("[::ffff:127.0.0.1]:1", ""), 201, "", "api@127.0.0.1"},
		{"no token: remote", "", post("192.0.2.7:1234", ""), 403, "set api.token_file", ""},
		{"no token: remote v6", "", post("[2001:db8::7]:1234", ""), 403, "set api.token_file", ""},
		{"no token: remote with a token", "", post("192.0.2.7:1234", "Bearer "+token), 403, "set api.token_file", ""},
		{"no token: delete remote", "", del, 403, "set api.token_file", ""},
		{"no token: browser on loopback", "", post("127.0.0.1:1", "", "Origin", "http://evil.example"), 403, "browsers", ""},
		{"no token: garbage remote", "", post("pipe", ""), 403, "set api.token_file", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{}
			w := tt.call.do(newServer(t, tt.token, b).Handler())
			if w.Code != tt.wantCode {
				t.Errorf("got status %d; want %d (body %s)", w.Code, tt.wantCode, w.Body)
			}
			if tt.wantErr != "" {
				var e struct{ Error string }
				json.Unmarshal(w.Body.Bytes(), &e)
				if !strings.Contains(e.Error, tt.wantErr) {
					t.Errorf("got error %q; want it to contain %q", e.Error, tt.wantErr)
				}
			}
			gotAuth := w.Header().Get("WWW-Authenticate")
			if wantAuth := w.Code == 401; (gotAuth != "") != wantAuth {
				t.Errorf("got WWW-Authenticate %q with status %d", gotAuth, w.Code)
			} else if wantAuth && !strings.HasPrefix(gotAuth, "Bearer") {
				t.Errorf("got WWW-Authenticate %q; want Bearer", gotAuth)
			}
			var gotBy string
			if len(b.calls) == 1 {
				f := strings.Fields(b.calls[0])
				gotBy = f[len(f)-1]
			}
			if gotBy != tt.wantBy || len(b.calls) > 1 {
				t.Errorf("got backend calls %q; want one by %q", b.calls, tt.wantBy)
			}
		})
	}
}

// GETs stay open whatever the token: the API listens on loopback by default
// and status is read-only.
func TestGetNeedsNoAuth(t *testing.T) {
	s := newServer(t, "tok", &fakeBackend{})
	for _, p := range []string{"/api/v1/status", "/api/v1/drains"} {
		w := call{method: "GET", path: p, remote: "192.0.2.7:1"}.do(s.Handler())
		if w.Code != 200 {
			t.Errorf("GET %s: got %d; want 200", p, w.Code)
		}
	}
}

func TestNewTokenFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" \n"), 0o600)
	tests := []struct {
		name, file, wantErr string
	}{
		{"missing", filepath.Join(dir, "nope"), filepath.Join(dir, "nope")},
		{"empty", empty, empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{TokenFile: tt.file}, &fakeBackend{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestServe runs the real listener: port 0, a call over TCP, shutdown.
func TestServe(t *testing.T) {
	b := &fakeBackend{}
	s := newServer(t, "", b)
	if got := s.Addr(); got != "" {
		t.Errorf("got Addr %q before Start; want empty", got)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("got nil error from a second Start; want one")
	}
	base := "http://" + s.Addr()
	resp, err := http.Post(base+"/api/v1/drains", "application/json", strings.NewReader(`{"target":"pool:eu","for":"1h"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("got %d; want 201", resp.StatusCode)
	}
	if want := []string{`set pool:eu 1h0m0s "" api@127.0.0.1`}; !reflect.DeepEqual(b.calls, want) {
		t.Errorf("got backend calls %q; want %q", b.calls, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/api/v1/status"); err == nil {
		t.Error("got nil error after Shutdown; want connection refused")
	}
}

func TestStartNoListen(t *testing.T) {
	s, err := New(Options{}, &fakeBackend{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		t.Error("got nil error; want one for an empty listen address")
	}
}

// stateBackend is a backend that keeps state files.
type stateBackend struct {
	fakeBackend
	files []StateFile
}

func (s *stateBackend) StateFiles() []StateFile { return s.files }

// TestStatusStateFiles: a backend that keeps state files has them in the
// status, a failing one with its error.
func TestStatusStateFiles(t *testing.T) {
	b := &stateBackend{files: []StateFile{
		{Name: "drains", Path: "/var/lib/meridian/mesh/drains.json", Error: "write: no space left on device", Since: t0, Failures: 3},
		{Name: "zone_serials", Path: "/var/lib/meridian/zone-serials.json", OK: true},
	}}
	w := call{method: "GET", path: "/api/v1/status"}.do(newServer(t, "", b).Handler())
	var got struct {
		State []map[string]any `json:"state"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"name": "drains", "path": "/var/lib/meridian/mesh/drains.json", "ok": false, "error": "write: no space left on device",
			"since": "2026-01-02T15:04:05Z", "failures": 3.0},
		{"name": "zone_serials", "path": "/var/lib/meridian/zone-serials.json", "ok": true, "failures": 0.0},
	}
	if !reflect.DeepEqual(got.State, want) {
		t.Errorf("state: got %v; want %v", got.State, want)
	}
}

// TestHostNames: the API answers requests addressed to an IP literal,
// localhost, its listen host or a configured name, and refuses any other
// Host with 421, on every path (metrics included): a DNS-rebound page
// cannot read it from the operator's browser.
func TestHostNames(t *testing.T) {
	s, err := New(Options{Listen: "node1.example.net:8053", AllowedHosts: []string{"Meridian.Internal."}, Log: testLog(t)}, &fakeBackend{})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }))
	for _, tt := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:8053", 200},
		{"127.0.0.1", 200},
		{"[::1]:8053", 200},
		{"192.0.2.7:8053", 200},
		{"[2001:db8::7]", 200},
		{"localhost:8053", 200},
		{"LOCALHOST.", 200},
		{"status.localhost:8053", 200},
		{"node1.example.net:8053", 200},
		{"meridian.internal", 200},
		{"MERIDIAN.internal.:80", 200},
		{"", 200},
		{"evil.example:8053", 421},
		{"evil.example", 421},
		{"127.0.0.1.evil.example", 421},
		{"localhost.evil.example", 421},
		{"node1.example.net.evil.example", 421},
		{"meridian", 421},
	} {
		for _, path := range []string{"/api/v1/status", "/metrics", "/", "/api/v1/drains/x"} {
			method := "GET"
			if path == "/api/v1/drains/x" {
				method = "DELETE"
			}
			w := call{method: method, path: path, header: map[string]string{"Host": tt.host}}.do(s.Handler())
			got := w.Code
			if got != 421 && tt.want == 200 {
				got = 200 // the host passed; what the path answers is not this test's
			}
			if got != tt.want {
				t.Errorf("Host %q, %s %s: got %d; want %d (%s)", tt.host, method, path, w.Code, tt.want, w.Body)
			}
			if w.Code == 421 && !strings.Contains(w.Body.String(), "api.allowed_hosts") {
				t.Errorf("Host %q: the refusal does not say what to do: %s", tt.host, w.Body)
			}
		}
	}
}

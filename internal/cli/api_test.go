package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/api"
	expl "github.com/meridiandns/meridian/internal/explain"
)

func TestKeygen(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run([]string{"keygen"}, &out, &errOut); code != 0 {
		t.Fatalf("got exit %d (%s); want 0", code, errOut.String())
	}
	s := out.String()
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("got %q; want one line", s)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(s, "\n"))
	if err != nil || len(key) != 32 {
		t.Errorf("got %q: %d bytes, err %v; want 32 bytes of std base64", s, len(key), err)
	}
	var again bytes.Buffer
	Run([]string{"keygen"}, &again, io.Discard)
	if again.String() == s {
		t.Errorf("got the same key twice: %q", s)
	}
	if code := Run([]string{"keygen", "x"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("keygen x: got exit %d; want 2", code)
	}
}

// recorded is one request the fake API saw.
type recorded struct {
	method, path, auth, body string
}

func (r recorded) String() string {
	return fmt.Sprintf("%s %s auth=%q %s", r.method, r.path, r.auth, r.body)
}

// fakeAPI records requests and answers with status and body.
func fakeAPI(t *testing.T, status int, body string) (*httptest.Server, *[]recorded) {
	var mu sync.Mutex
	var reqs []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, recorded{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), string(b)})
		mu.Unlock()
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &reqs
}

const drainReply = `{"target":"pool:eu","until":"2026-01-02T15:14:05Z","reason":"kernel upgrade","set_at":"2026-01-02T15:04:05Z","by":"api@127.0.0.1"}`

func TestDrain(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("tok123\n"), 0o600)
	tests := []struct {
		name       string
		args       []string // after drain --api URL
		status     int
		reply      string
		wantCode   int
		wantReq    string // the one request sent; empty: none
		wantOut    string
		wantStderr string // substring
	}{
		{name: "drain for reason", args: []string{"pool:eu", "--for", "10m", "--reason", "kernel upgrade"},
			status: 201, reply: drainReply, wantCode: 0,
			wantReq: `POST /api/v1/drains auth="" {"for":"10m0s","reason":"kernel upgrade","target":"pool:eu"}`,
			wantOut: "drained pool:eu until 2026-01-02T15:14:05Z (reason: kernel upgrade)\n"},
		{name: "flags first, = form", args: []string{"--reason=kernel upgrade", "--for=10m", "pool:eu"},
			status: 201, reply: drainReply, wantCode: 0,
			wantReq: `POST /api/v1/drains auth="" {"for":"10m0s","reason":"kernel upgrade","target":"pool:eu"}`,
			wantOut: "drained pool:eu until 2026-01-02T15:14:05Z (reason: kernel upgrade)\n"},
		{name: "until undone", args: []string{"198.51.100.1"},
			status: 201, reply: `{"target":"198.51.100.1","set_at":"2026-01-02T15:04:05Z","by":"api@127.0.0.1"}`, wantCode: 0,
			wantReq: `POST /api/v1/drains auth="" {"target":"198.51.100.1"}`,
			wantOut: "drained 198.51.100.1 until undone\n"},
		{name: "token file", args: []string{"--token-file", tokenFile, "198.51.100.1"},
			status: 201, reply: `{"target":"198.51.100.1"}`, wantCode: 0,
			wantReq: `POST /api/v1/drains auth="Bearer tok123" {"target":"198.51.100.1"}`,
			wantOut: "drained 198.51.100.1 until undone\n"},
		{name: "undo", args: []string{"--undo", "pool:eu"}, status: 204, wantCode: 0,
			wantReq: `DELETE /api/v1/drains/pool:eu auth="" `, wantOut: "undrained pool:eu\n"},
		{name: "undo after target, with token", args: []string{"2001:db8::1", "--token-file", tokenFile, "--undo"}, status: 204,
			wantCode: 0, wantReq: `DELETE /api/v1/drains/2001:db8::1 auth="Bearer tok123" `, wantOut: "undrained 2001:db8::1\n"},
		{name: "undo escapes", args: []string{"--undo", "a?b#c"}, status: 204, wantCode: 0,
			wantReq: `DELETE /api/v1/drains/a%3Fb%23c auth="" `, wantOut: "undrained a?b#c\n"},
		{name: "401", args: []string{"pool:eu"}, status: 401, reply: `{"error":"missing bearer token"}`, wantCode: 1,
			wantReq:    `POST /api/v1/drains auth="" {"target":"pool:eu"}`,
			wantStderr: "meridian drain: missing bearer token (HTTP 401)"},
		{name: "403", args: []string{"--undo", "x"}, status: 403,
			reply: `{"error":"changes are only accepted from loopback clients; set api.token_file to allow remote callers"}`, wantCode: 1,
			wantReq: `DELETE /api/v1/drains/x auth="" `, wantStderr: "set api.token_file to allow remote callers (HTTP 403)"},
		{name: "404 undo", args: []string{"--undo", "x"}, status: 404, reply: `{"error":"x is not drained"}`, wantCode: 1,
			wantReq: `DELETE /api/v1/drains/x auth="" `, wantStderr: "x is not drained (HTTP 404)"},
		{name: "non-JSON error", args: []string{"x"}, status: 502, reply: "bad gateway", wantCode: 1,
			wantReq: `POST /api/v1/drains auth="" {"target":"x"}`, wantStderr: "bad gateway (HTTP 502)"},
		{name: "no target", args: []string{"--for", "1m"}, wantCode: 2, wantStderr: "want exactly one TARGET"},
		{name: "two targets", args: []string{"a", "b"}, wantCode: 2, wantStderr: "want exactly one TARGET"},
		{name: "bad duration", args: []string{"x", "--for", "soon"}, wantCode: 2, wantStderr: `--for "soon"`},
		{name: "zero duration", args: []string{"x", "--for", "0s"}, wantCode: 2, wantStderr: `--for "0s"`},
		{name: "undo with for", args: []string{"--undo", "x", "--for", "1m"}, wantCode: 2, wantStderr: "--undo takes no"},
		{name: "force", args: []string{"cdn-new.example.net", "--force"},
			status: 201, reply: `{"target":"cdn-new.example.net"}`, wantCode: 0,
			wantReq: `POST /api/v1/drains auth="" {"force":true,"target":"cdn-new.example.net"}`,
			wantOut: "drained cdn-new.example.net until undone\n"},
		{name: "no such target", args: []string{"cdn-eu2.example.net"}, status: 400,
			reply:   `{"error":"cdn-eu2.example.net is no value or pool:ID of the dynamic records served; did you mean cdn-eu.example.net?"}`,
			wantReq: `POST /api/v1/drains auth="" {"target":"cdn-eu2.example.net"}`, wantCode: 1,
			wantStderr: "meridian drain: cdn-eu2.example.net is no value or pool:ID of the dynamic records served; did you mean cdn-eu.example.net? (HTTP 400)"},
		{name: "long reason", args: []string{"pool:eu", "--reason", strings.Repeat("r", 1500)}, wantCode: 2,
			wantStderr: "--reason: reason is 1500 bytes; at most 200 are allowed"},
		{name: "reason on two lines", args: []string{"pool:eu", "--reason", "a\nb"}, wantCode: 2, wantStderr: "control characters"},
		{name: "undo with force", args: []string{"--undo", "x", "--force"}, wantCode: 2, wantStderr: "--undo takes no"},
		{name: "unknown flag", args: []string{"x", "--forse"}, wantCode: 2, wantStderr: "unknown flag --forse"},
		{name: "flag without value", args: []string{"x", "--reason"}, wantCode: 2, wantStderr: "needs a value"},
		{name: "missing token file", args: []string{"x", "--token-file", filepath.Join(dir, "nope")}, wantCode: 1,
			wantStderr: "token file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, reqs := fakeAPI(t, tt.status, tt.reply)
			var out, errOut bytes.Buffer
			code := Run(append([]string{"drain", "--api", srv.URL}, tt.args...), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("got exit %d; want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if got := out.String(); got != tt.wantOut {
				t.Errorf("got stdout %q; want %q", got, tt.wantOut)
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("got stderr %q; want it to contain %q", errOut.String(), tt.wantStderr)
			}
			var got []string
			for _, r := range *reqs {
				got = append(got, r.String())
			}
			want := []string{tt.wantReq}
			if tt.wantReq == "" {
				want = nil
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got requests %q; want %q", got, want)
			}
		})
	}
}

// TestDrainFromConfig finds the API and the token through the config file:
// api.listen for the address, api.token_file relative to the file.
func TestDrainFromConfig(t *testing.T) {
	srv, reqs := fakeAPI(t, 204, "")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "api.token"), []byte("cfgtok"), 0o600)
	cfg := filepath.Join(dir, "meridian.yaml")
	listen := strings.TrimPrefix(srv.URL, "http://")
	os.WriteFile(cfg, []byte("api:\n  listen: "+listen+"\n  token_file: api.token\n"), 0o600)

	var out, errOut bytes.Buffer
	if code := Run([]string{"drain", "--undo", "--config", cfg, "pool:eu"}, &out, &errOut); code != 0 {
		t.Fatalf("got exit %d (%s); want 0", code, errOut.String())
	}
	want := `DELETE /api/v1/drains/pool:eu auth="Bearer cfgtok" `
	if len(*reqs) != 1 || (*reqs)[0].String() != want {
		t.Errorf("got requests %v; want [%s]", *reqs, want)
	}
	// --token-file wins over the config's.
	os.WriteFile(filepath.Join(dir, "other"), []byte("flagtok"), 0o600)
	Run([]string{"drain", "--undo", "--config", cfg, "--token-file", filepath.Join(dir, "other"), "pool:eu"}, io.Discard, io.Discard)
	if got := (*reqs)[len(*reqs)-1].auth; got != "Bearer flagtok" {
		t.Errorf("got auth %q; want Bearer flagtok", got)
	}
}

func TestDrainConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"api off", []string{"x", "--config", write("off.yaml", "api:\n  listen: \"\"\n")}, "api.listen is empty"},
		{"bad listen", []string{"x", "--config", write("bad.yaml", "api:\n  listen: nope\n")}, "api.listen"},
		{"missing config", []string{"x", "--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{"missing explicit config with --api", []string{"x", "--api", "http://127.0.0.1:1", "--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errOut bytes.Buffer
			if code := Run(append([]string{"drain"}, tt.args...), io.Discard, &errOut); code != 1 {
				t.Errorf("got exit %d; want 1", code)
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("got stderr %q; want it to contain %q", errOut.String(), tt.wantStderr)
			}
		})
	}
}

func TestDrainUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var errOut bytes.Buffer
	if code := Run([]string{"drain", "x", "--api", addr}, io.Discard, &errOut); code != 1 {
		t.Errorf("got exit %d; want 1", code)
	}
	if want := "cannot reach the API at http://" + addr; !strings.Contains(errOut.String(), want) {
		t.Errorf("got stderr %q; want it to contain %q", errOut.String(), want)
	}
}

func TestListenURL(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"127.0.0.1:8053", "http://127.0.0.1:8053"},
		{"0.0.0.0:8053", "http://127.0.0.1:8053"},
		{":8053", "http://127.0.0.1:8053"},
		{"[::]:8053", "http://[::1]:8053"},
		{"[2001:db8::1]:8053", "http://[2001:db8::1]:8053"},
	}
	for _, tt := range tests {
		if got := listenURL(tt.listen); got != tt.want {
			t.Errorf("listenURL(%q): got %q; want %q", tt.listen, got, tt.want)
		}
	}
}

// roundTripBackend is the least Backend that lets the drain command talk
// to the real API handler.
type roundTripBackend struct {
	mu    sync.Mutex
	calls []string
}

func (b *roundTripBackend) Status() healthmesh.Status  { return healthmesh.Status{} }
func (b *roundTripBackend) Reload() api.ReloadStatus   { return api.ReloadStatus{} }
func (b *roundTripBackend) Drains() []healthmesh.Drain { return nil }
func (b *roundTripBackend) Records() []api.Record      { return nil }
func (b *roundTripBackend) ReloadConfig() (api.ReloadStatus, error) {
	return api.ReloadStatus{}, api.ErrUnsupported
}
func (b *roundTripBackend) Explain(context.Context, expl.Query) (*expl.Report, error) {
	return nil, api.ErrUnsupported
}

func (b *roundTripBackend) SetDrain(target string, d time.Duration, reason, by string, force bool) (healthmesh.Drain, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf("set %s %s %q %s %v", target, d, reason, by, force))
	return healthmesh.Drain{Target: target, Until: time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC).Add(d), Reason: reason, By: by}, nil
}

func (b *roundTripBackend) Undrain(target, by string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, "undrain "+target+" "+by)
	return nil
}

// TestDrainAgainstAPI runs the command against the real API handler, so
// the client and server agree on paths, bodies, escaping and auth.
func TestDrainAgainstAPI(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("tok\n"), 0o600)
	b := &roundTripBackend{}
	s, err := api.New(api.Options{TokenFile: tokenFile}, b)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	steps := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"pool:eu", "--for", "1h", "--reason", "move", "--token-file", tokenFile}, 0,
			"drained pool:eu until 2026-01-02T16:00:00Z (reason: move)\n"},
		{[]string{"--undo", "2001:db8::1", "--token-file", tokenFile}, 0, "undrained 2001:db8::1\n"},
		{[]string{"--undo", "pool:eu"}, 1, ""}, // no token
		{[]string{"cdn-new.example.net", "--force", "--token-file", tokenFile}, 0, "drained cdn-new.example.net until 2026-01-02T15:00:00Z\n"},
		{[]string{"pool:eu", "--reason", strings.Repeat("r", 201), "--token-file", tokenFile}, 2, ""}, // refused before the call
	}
	for _, st := range steps {
		var out, errOut bytes.Buffer
		code := Run(append([]string{"drain", "--api", srv.URL}, st.args...), &out, &errOut)
		if code != st.wantCode || out.String() != st.wantOut {
			t.Errorf("drain %q: got %d %q (stderr %q); want %d %q", st.args, code, out.String(), errOut.String(), st.wantCode, st.wantOut)
		}
	}
	want := []string{`set pool:eu 1h0m0s "move" api@127.0.0.1 false`, "undrain 2001:db8::1 api@127.0.0.1",
		`set cdn-new.example.net 0s "" api@127.0.0.1 true`}
	if strings.Join(b.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("got backend calls %q; want %q", b.calls, want)
	}
}

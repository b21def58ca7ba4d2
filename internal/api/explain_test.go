package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/explain"
	"github.com/miekg/dns"
)

func TestExplainParams(t *testing.T) {
	v4 := netip.MustParseAddr("192.0.2.1")
	tests := []struct {
		name     string
		query    string
		backErr  error
		wantCode int
		wantErr  string         // substring of the error message
		wantQ    *explain.Query // what the backend is asked
	}{
		{name: "defaults", query: "name=app.example.com&client=192.0.2.1", wantCode: 200,
			wantQ: &explain.Query{Name: "app.example.com.", Type: dns.TypeA, Client: explain.Client{Addr: v4, Source: 32}}},
		{name: "type and ECS client", query: "name=App.Example.com.&type=aaaa&client=2001:db8:2::1/56", wantCode: 200,
			wantQ: &explain.Query{Name: "App.Example.com.", Type: dns.TypeAAAA,
				Client: explain.Client{Addr: netip.MustParseAddr("2001:db8:2::"), Source: 56, ECS: true}}},
		{name: "mapped address", query: "name=a.example&client=::ffff:192.0.2.1", wantCode: 200,
			wantQ: &explain.Query{Name: "a.example.", Type: dns.TypeA, Client: explain.Client{Addr: v4, Source: 32}}},
		{name: "no name", query: "client=192.0.2.1", wantCode: 400, wantErr: "name is required"},
		{name: "empty name", query: "name=&client=192.0.2.1", wantCode: 400, wantErr: "name is required"},
		{name: "bad name", query: "name=a..b&client=192.0.2.1", wantCode: 400, wantErr: `name "a..b" is not a domain name`},
		{name: "bad type", query: "name=a&type=QQ&client=192.0.2.1", wantCode: 400, wantErr: `type "QQ" is not a DNS record type`},
		{name: "no client", query: "name=a", wantCode: 400, wantErr: "client is required"},
		{name: "bad client", query: "name=a&client=nope", wantCode: 400, wantErr: `client "nope"`},
		{name: "bad prefix", query: "name=a&client=192.0.2.1/40", wantCode: 400, wantErr: `client "192.0.2.1/40"`},
		{name: "unknown parameter", query: "name=a&client=192.0.2.1&qtype=A", wantCode: 400, wantErr: `unknown parameter "qtype"`},
		{name: "repeated parameter", query: "name=a&name=b&client=192.0.2.1", wantCode: 400, wantErr: "parameter name given 2 times"},
		{name: "backend failure", query: "name=a&client=192.0.2.1", backErr: errors.New("boom"), wantCode: 500, wantErr: "boom",
			wantQ: &explain.Query{Name: "a.", Type: dns.TypeA, Client: explain.Client{Addr: v4, Source: 32}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{err: tt.backErr}
			w := call{method: "GET", path: "/api/v1/explain?" + tt.query}.do(newServer(t, "tok", b).Handler())
			if w.Code != tt.wantCode {
				t.Errorf("got status %d; want %d (body %s)", w.Code, tt.wantCode, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("got Content-Type %q; want application/json", ct)
			}
			var reply struct {
				Error string
				Name  string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil {
				t.Fatalf("reply %q is not JSON: %v", w.Body, err)
			}
			if !strings.Contains(reply.Error, tt.wantErr) || (tt.wantErr == "") != (reply.Error == "") {
				t.Errorf("got error %q; want one containing %q", reply.Error, tt.wantErr)
			}
			var want []explain.Query
			if tt.wantQ != nil {
				want = []explain.Query{*tt.wantQ}
			}
			if !reflect.DeepEqual(b.explained, want) {
				t.Errorf("got backend queries %+v; want %+v", b.explained, want)
			}
			if tt.wantCode == 200 && reply.Name != tt.wantQ.Name {
				t.Errorf("got report for %q; want %q", reply.Name, tt.wantQ.Name)
			}
		})
	}
}

func TestReloadAuth(t *testing.T) {
	tests := []struct {
		name, token string
		c           call
		wantCode    int
		wantCalls   []string
	}{
		{"token: none", "tok", call{method: "POST", path: "/api/v1/reload"}, 401, nil},
		{"token: wrong", "tok", call{method: "POST", path: "/api/v1/reload", header: map[string]string{"Authorization": "Bearer x"}}, 401, nil},
		{"token: right, remote browser", "tok", call{method: "POST", path: "/api/v1/reload", remote: "192.0.2.9:1",
			header: map[string]string{"Authorization": "Bearer tok", "Origin": "http://127.0.0.1:8053"}}, 200, []string{"reload"}},
		{"no token: loopback tool", "", call{method: "POST", path: "/api/v1/reload"}, 200, []string{"reload"}},
		{"no token: remote", "", call{method: "POST", path: "/api/v1/reload", remote: "192.0.2.9:1"}, 403, nil},
		{"no token: browser on loopback", "", call{method: "POST", path: "/api/v1/reload",
			header: map[string]string{"Origin": "http://127.0.0.1:8053"}}, 403, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{}
			w := tt.c.do(newServer(t, tt.token, b).Handler())
			if w.Code != tt.wantCode {
				t.Errorf("got status %d; want %d (body %s)", w.Code, tt.wantCode, w.Body)
			}
			if !reflect.DeepEqual(b.calls, tt.wantCalls) {
				t.Errorf("got backend calls %q; want %q", b.calls, tt.wantCalls)
			}
		})
	}
}

func TestStatusRecords(t *testing.T) {
	b := &fakeBackend{records: []Record{{Name: "app.example.com.", Zone: "example.com.", Type: "A",
		Rules: []Rule{{Pool: "eu", Geos: []string{"EU"}}, {Pool: "us"}},
		Pools: []Pool{{ID: "eu", Fallback: "us", Serviceable: 1, Values: []Value{{Value: "192.0.2.1", Weight: 1, Status: "obey",
			Endpoint: "192.0.2.1|HTTP|80|/", Verdict: "up", Serviceable: true}}}, {ID: "us", Drained: true}}}}}
	w := call{method: "GET", path: "/api/v1/status"}.do(newServer(t, "tok", b).Handler())
	var got struct {
		Records []Record `json:"records"`
		Auth    string   `json:"auth"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := b.records
	want[0].Values = []Value{}
	want[0].Pools[1].Values = []Value{}
	if !reflect.DeepEqual(got.Records, want) {
		t.Errorf("got records %+v; want %+v", got.Records, want)
	}
	// Empty lists are [] rather than null, so readers can iterate.
	for _, s := range []string{`"values": []`, `"pools": [`} {
		if !strings.Contains(w.Body.String(), s) {
			t.Errorf("got %s; want it to contain %s", w.Body, s)
		}
	}
	if got.Auth != "token" {
		t.Errorf("got auth %q; want token", got.Auth)
	}
}

func TestPage(t *testing.T) {
	s := newServer(t, "", &fakeBackend{})
	tests := []struct {
		path, wantType, wantBody string
	}{
		{"/", "text/html; charset=utf-8", `<script src="/ui/app.js" defer></script>`},
		{"/ui/index.html", "text/html; charset=utf-8", "<title>Meridian status</title>"},
		{"/ui/app.js", "text/javascript; charset=utf-8", "/api/v1/status"},
		{"/ui/app.css", "text/css; charset=utf-8", ".badge.drained"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := call{method: "GET", path: tt.path, remote: "192.0.2.9:1"}.do(s.Handler())
			if w.Code != 200 {
				t.Fatalf("got status %d; want 200 (%s)", w.Code, w.Body)
			}
			if got := w.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("got Content-Type %q; want %q", got, tt.wantType)
			}
			if got := w.Header().Get("Content-Security-Policy"); !strings.HasPrefix(got, "default-src 'self'") {
				t.Errorf("got Content-Security-Policy %q; want default-src 'self' first", got)
			}
			body := w.Body.String()
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("got body without %q", tt.wantBody)
			}
			// Nothing from elsewhere: the page must work on a node
			// without internet access, and the CSP would block it anyway.
			for _, bad := range []string{"http://", "https://", "//cdn", " style=", "onclick="} {
				if strings.Contains(body, bad) {
					t.Errorf("got %q in %s; want only the page's own files and no inline code", bad, tt.path)
				}
			}
		})
	}
}

// TestErrorsAreJSON checks that every failure the API can produce is a
// JSON object with an error message.
func TestErrorsAreJSON(t *testing.T) {
	s := newServer(t, "tok", &fakeBackend{err: fmt.Errorf("x: %w", ErrUnsupported)})
	for _, c := range []call{
		{method: "GET", path: "/api/v1/explain"},
		{method: "GET", path: "/api/v1/explain?name=a&client=192.0.2.1"},
		{method: "POST", path: "/api/v1/reload"},
		{method: "POST", path: "/api/v1/reload", header: map[string]string{"Authorization": "Bearer tok"}},
		{method: "PUT", path: "/"},
		{method: "GET", path: "/nope"},
	} {
		w := c.do(s.Handler())
		var e struct{ Error string }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || w.Code < 400 {
			t.Errorf("%s %s: got %d %q; want a 4xx/5xx JSON error", c.method, c.path, w.Code, w.Body)
		}
	}
	w := call{method: "GET", path: "/api/v1/explain?name=a&client=192.0.2.1"}.do(s.Handler())
	if w.Code != 501 {
		t.Errorf("unsupported explain: got %d; want 501", w.Code)
	}
}

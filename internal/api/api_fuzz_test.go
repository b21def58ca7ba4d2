package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
)

// newFuzzServer is newServer without a test's log: a fuzz run calls it
// millions of times.
func newFuzzServer(t testing.TB, b Backend) *Server {
	t.Helper()
	s, err := New(Options{Listen: "127.0.0.1:0"}, b)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.Add(time.Minute) }
	return s
}

// checkReply checks that a reply to bad input is the client's fault, not
// ours: any status below 500, and for the API a JSON body, with an error
// message when the status is an error.
func checkReply(t *testing.T, in any, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%q: got status %d (%s)", in, w.Code, w.Body)
	}
	if w.Body.Len() == 0 {
		return // 204, or a redirect to a cleaned path
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return // the status page and its assets
	}
	var reply struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &reply); err != nil {
		t.Fatalf("%q: status %d with a body that is not JSON: %v: %s", in, w.Code, err, w.Body)
	}
	if w.Code >= 400 && (reply.Error == nil || *reply.Error == "") {
		t.Fatalf("%q: status %d without an error message: %s", in, w.Code, w.Body)
	}
}

// FuzzDrainBody posts arbitrary bodies to POST /api/v1/drains. Each is
// either refused with a 4xx JSON error before the backend hears of it, or
// becomes exactly one drain of a well-formed target for a duration that is
// not negative, and the reply is that drain.
func FuzzDrainBody(f *testing.F) {
	for _, body := range []string{
		`{"target":"198.51.100.1","for":"10m","reason":"kernel upgrade"}`,
		`{"target":"pool:eu"}`,
		`{"target":"2001:db8::1","for":"0s"}`,
		`{"target":"app.example.com.","for":"1h30m","reason":"\u00e9t\u00e9 \ud83d\ude00"}`,
		`{"target":"pool:"}`,
		`{"target":"a b"}`,
		`{"target":"x","for":"-5m"}`,
		`{"target":"x","for":"soon"}`,
		`{"target":"x","until":"2026-01-01T00:00:00Z"}`,
		`{"target":"x"}{"target":"y"}`,
		`{"target":1}`,
		`[]`,
		`null`,
		``,
		`{"target":"` + strings.Repeat("x", 300) + `"}`,
		`{"target":"x","for":"9999999999h"}`,
		`{"target":"CDN.Example.NET.","force":true}`,
		`{"target":"x","reason":"` + strings.Repeat("<", 201) + `"}`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := &fakeBackend{}
		r := httptest.NewRequest("POST", "/api/v1/drains", bytes.NewReader(body))
		r.Host, r.RemoteAddr = "127.0.0.1:8053", "127.0.0.1:40000"
		w := httptest.NewRecorder()
		newFuzzServer(t, b).ServeHTTP(w, r)
		checkReply(t, body, w)
		if w.Code != http.StatusCreated {
			if w.Code < 400 || len(b.calls) != 0 {
				t.Fatalf("%q: got status %d and backend calls %q; want 201 or a 4xx refusal before the backend", body, w.Code, b.calls)
			}
			return
		}
		var req drainRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("%q: accepted, but it is not a drain request: %v", body, err)
		}
		if err := validTarget(req.Target); err != nil {
			t.Fatalf("%q: accepted target %q: %v", body, req.Target, err)
		}
		d := time.Duration(0)
		if req.For != "" {
			var err error
			if d, err = time.ParseDuration(req.For); err != nil || d < 0 {
				t.Fatalf("%q: accepted duration %q", body, req.For)
			}
		}
		if err := healthmesh.CheckDrainReason(req.Reason); err != nil {
			t.Fatalf("%q: accepted reason %q: %v", body, req.Reason, err)
		}
		want := fmt.Sprintf("set %s %s %q api@127.0.0.1", req.Target, d, req.Reason)
		if req.Force {
			want += " force"
		}
		if len(b.calls) != 1 || b.calls[0] != want {
			t.Fatalf("%q: got backend calls %q; want %q", body, b.calls, want)
		}
		var dr healthmesh.Drain
		if err := json.Unmarshal(w.Body.Bytes(), &dr); err != nil || dr.Target != req.Target || dr.Reason != req.Reason {
			t.Fatalf("%q: replied %s (%v); want the drain of %q", body, w.Body, err, req.Target)
		}
	})
}

// FuzzRequest sends arbitrary requests, as they arrive on the wire, to
// every route of the API from a loopback client: whatever the method,
// path, query or body, the reply is never a server error, and an error is
// JSON with a message.
func FuzzRequest(f *testing.F) {
	for _, c := range []struct{ method, target, body string }{
		{"GET", "/api/v1/status", ""},
		{"GET", "/api/v1/drains", ""},
		{"POST", "/api/v1/drains", `{"target":"pool:eu","for":"10m"}`},
		{"DELETE", "/api/v1/drains/pool%3Aeu", ""},
		{"DELETE", "/api/v1/drains?target=198.51.100.1", ""},
		{"DELETE", "/api/v1/drains?target=", ""},
		{"GET", "/api/v1/explain?name=app.example.com&type=AAAA&client=198.51.100.7", ""},
		{"GET", "/api/v1/explain?name=app.example.com&client=2001:db8::/48", ""},
		{"GET", "/api/v1/explain?name=..&client=x&client=y", ""},
		{"GET", "/api/v1/explain?name=a%00b&type=TYPE65535&client=192.0.2.1/33", ""},
		{"POST", "/api/v1/reload", ""},
		{"GET", "/", ""},
		{"GET", "/ui/app.js", ""},
		{"GET", "/ui/../../etc/passwd", ""},
		{"PUT", "/api/v1/drains/x", "{}"},
		{"GET", "//api/v1/status", ""},
	} {
		f.Add(c.method, c.target, []byte(c.body))
	}
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		raw := method + " " + target + " HTTP/1.1\r\nHost: localhost:8053\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 itself
		}
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		newFuzzServer(t, &fakeBackend{}).ServeHTTP(w, r)
		checkReply(t, raw, w)
	})
}

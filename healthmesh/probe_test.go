package healthmesh

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testorigin"
)

const probeTimeout = 200 * time.Millisecond

// fakeResolver stands in for DNS only; the probes themselves go over real
// sockets. Names it does not hold fail as "no such host".
type fakeResolver struct {
	addrs map[string][]netip.Addr
	calls atomic.Int64
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	if network != "ip" {
		return nil, errors.New("unexpected network " + network)
	}
	if a, ok := r.addrs[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// splitAddr returns the IP and port of a host:port origin address.
func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, p
}

// endpoint is an endpoint for the origin at addr with a default check of
// the given protocol, adjusted by edit.
func endpoint(t *testing.T, proto, addr string, edit func(*Check)) Endpoint {
	t.Helper()
	ip, port := splitAddr(t, addr)
	c := Check{Protocol: proto, Path: "/health", Port: port, Timeout: probeTimeout}
	if edit != nil {
		edit(&c)
	}
	return Endpoint{Address: ip, Check: c}
}

func TestProbeHTTP(t *testing.T) {
	tests := []struct {
		name       string
		mode       testorigin.Mode
		edit       func(*Check)
		wantOK     bool
		wantReason string
		wantStatus int
	}{
		{"ok", testorigin.OK, nil, true, "status 200", 200},
		{"500", testorigin.Status500, nil, false, "status 500", 500},
		{"500 expected", testorigin.Status500, func(c *Check) { c.Expect = []StatusRange{{Lo: 500, Hi: 500}} }, true, "status 500", 500},
		{"200 not expected", testorigin.OK, func(c *Check) { c.Expect = []StatusRange{{Lo: 204, Hi: 204}, {Lo: 300, Hi: 302}} }, false, "status 200", 200},
		{"hang", testorigin.Hang, nil, false, "timeout", 0},
		// The origin has read the whole request when it closes, so the
		// kernel sends FIN, not RST: the client sees EOF every time.
		{"close", testorigin.Close, nil, false, "eof", 0},
		{"body ok", testorigin.OK, func(c *Check) { c.Body = "alive" }, true, "status 200", 200},
		{"wrong body", testorigin.WrongBody, func(c *Check) { c.Body = "alive" }, false, `body does not contain "alive"`, 200},
		{"wrong body unchecked", testorigin.WrongBody, nil, true, "status 200", 200},
		{"refused", testorigin.Refuse, nil, false, "connection refused", 0},
	}
	var p Prober
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testorigin.NewHTTP(t, "127.0.0.2:0", "i am alive\n")
			o.SetMode(tt.mode)
			ep := endpoint(t, "HTTP", o.Addr, tt.edit)
			start := time.Now()
			got := p.Probe(context.Background(), ep)
			if got.OK != tt.wantOK || got.Reason != tt.wantReason || got.Status != tt.wantStatus {
				t.Errorf("got %v %q %d; want %v %q %d", got.OK, got.Reason, got.Status, tt.wantOK, tt.wantReason, tt.wantStatus)
			}
			if got.At.Before(start) || got.Latency <= 0 || got.Latency > time.Since(start) {
				t.Errorf("got At %v Latency %v; want At >= %v and 0 < Latency <= elapsed", got.At, got.Latency, start)
			}
			if tt.mode == testorigin.Hang && (got.Latency < probeTimeout || got.Latency > probeTimeout+500*time.Millisecond) {
				t.Errorf("got latency %v; want about %v", got.Latency, probeTimeout)
			}
		})
	}
}

// TestProbeCloseDeterministic guards the "eof" reason against becoming
// "connection reset" some of the time.
func TestProbeCloseDeterministic(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.2:0", "x")
	o.SetMode(testorigin.Close)
	ep := endpoint(t, "HTTP", o.Addr, nil)
	var p Prober
	for i := 0; i < 50; i++ {
		if got := p.Probe(context.Background(), ep); got.Reason != "eof" {
			t.Fatalf("probe %d: got %q; want %q", i, got.Reason, "eof")
		}
	}
}

func TestProbeRedirectNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusMovedPermanently)
	}))
	defer srv.Close()
	var p Prober
	got := p.Probe(context.Background(), endpoint(t, "HTTP", srv.Listener.Addr().String(), nil))
	if !got.OK || got.Reason != "status 301" {
		t.Errorf("got %v %q; want true %q", got.OK, got.Reason, "status 301")
	}
}

func TestProbeRequest(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.3:0", "ok")
	ip, port := splitAddr(t, o.Addr)
	res := &fakeResolver{addrs: map[string][]netip.Addr{"app.example.com": {netip.MustParseAddr(ip)}}}
	tests := []struct {
		name     string
		ep       Endpoint
		wantHost string
		wantHdr  map[string]string
	}{
		{"ip", endpoint(t, "HTTP", o.Addr, nil), ip, nil},
		{"check host", endpoint(t, "HTTP", o.Addr, func(c *Check) { c.Host = "www.example.com" }), "www.example.com", nil},
		{"host name", Endpoint{Address: "app.example.com.", Check: Check{Protocol: "HTTP", Path: "/health", Port: port, Timeout: probeTimeout}}, "app.example.com", nil},
		{"headers", endpoint(t, "HTTP", o.Addr, func(c *Check) { c.Headers = map[string]string{"X-Probe": "1", "Authorization": "Bearer t"} }),
			ip, map[string]string{"X-Probe": "1", "Authorization": "Bearer t"}},
		{"target", Endpoint{Address: "192.0.2.7", Check: Check{Protocol: "HTTP", Path: "/health", Port: 80, Target: o.Addr, Timeout: probeTimeout}}, "192.0.2.7", nil},
	}
	p := Prober{Resolver: res}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Probe(context.Background(), tt.ep); !got.OK {
				t.Fatalf("got %v %q; want ok", got.OK, got.Reason)
			}
			host, path, hdr := o.LastRequest()
			if host != tt.wantHost || path != "/health" {
				t.Errorf("got Host %q path %q; want %q %q", host, path, tt.wantHost, "/health")
			}
			if got := hdr.Get("User-Agent"); got != "meridian-healthcheck" {
				t.Errorf("got User-Agent %q; want %q", got, "meridian-healthcheck")
			}
			for k, want := range tt.wantHdr {
				if got := hdr.Get(k); got != want {
					t.Errorf("got %s %q; want %q", k, got, want)
				}
			}
		})
	}
}

func TestProbeHostName(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.4:0", "ok")
	_, port := splitAddr(t, o.Addr)
	res := &fakeResolver{addrs: map[string][]netip.Addr{
		"up.example.com":     {netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("127.0.0.9")},
		"mapped.example.com": {netip.MustParseAddr("::ffff:127.0.0.4")},
		"empty.example.com":  {},
	}}
	tests := []struct {
		host       string
		wantReason string
	}{
		{"up.example.com.", "status 200"},
		{"mapped.example.com", "status 200"},
		{"gone.example.com.", "resolve: no such host"},
		{"empty.example.com.", "resolve: no addresses"},
	}
	p := Prober{Resolver: res}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			ep := Endpoint{Address: tt.host, Check: Check{Protocol: "HTTP", Path: "/", Port: port, Timeout: probeTimeout}}
			if got := p.Probe(context.Background(), ep); got.Reason != tt.wantReason {
				t.Errorf("got %q; want %q", got.Reason, tt.wantReason)
			}
		})
	}
	// Host names are resolved at every probe, so a changed answer is used.
	before := res.calls.Load()
	ep := Endpoint{Address: "up.example.com.", Check: Check{Protocol: "HTTP", Path: "/", Port: port, Timeout: probeTimeout}}
	p.Probe(context.Background(), ep)
	p.Probe(context.Background(), ep)
	if got := res.calls.Load() - before; got != 2 {
		t.Errorf("got %d lookups for 2 probes; want 2", got)
	}
}

func TestProbeHTTPS(t *testing.T) {
	o := testorigin.NewHTTPS(t, "127.0.0.5:0", "secure")
	ip, _ := splitAddr(t, o.Addr)
	tests := []struct {
		name       string
		edit       func(*Check)
		wantReason string
		wantSNI    string
	}{
		{"verify self-signed", func(c *Check) { c.TLSVerify = true }, "tls: unknown authority", ""},
		{"verify self-signed host", func(c *Check) { c.TLSVerify, c.Host = true, "localhost" }, "tls: unknown authority", "localhost"},
		{"no verify", nil, "status 200", ""},
		{"sni is host", func(c *Check) { c.Host = "secure.example.com" }, "status 200", "secure.example.com"},
		{"https to http", func(c *Check) { c.Protocol = "HTTPS"; c.Target = testorigin.NewHTTP(t, "127.0.0.5:0", "plain").Addr }, "tls: not a tls server", ""},
	}
	var p Prober
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A TLS handshake under -race on a busy machine can take longer
			// than probeTimeout; these cases are about the outcome, not time.
			got := p.Probe(context.Background(), endpoint(t, "HTTPS", o.Addr, func(c *Check) {
				c.Timeout = 5 * time.Second
				if tt.edit != nil {
					tt.edit(c)
				}
			}))
			if got.Reason != tt.wantReason {
				t.Errorf("got %q; want %q", got.Reason, tt.wantReason)
			}
			if tt.wantReason == "status 200" != got.OK {
				t.Errorf("got ok %v for %q", got.OK, got.Reason)
			}
			if strings.HasPrefix(tt.wantReason, "tls:") && tt.name != "https to http" || got.OK {
				if sni := o.LastSNI(); sni != tt.wantSNI {
					t.Errorf("got SNI %q; want %q", sni, tt.wantSNI)
				}
			}
			if got.OK {
				if host, _, _ := o.LastRequest(); host != ip && host != tt.wantSNI {
					t.Errorf("got Host %q; want %q", host, tt.wantSNI)
				}
			}
		})
	}
}

func TestProbeTCP(t *testing.T) {
	o := testorigin.NewTCP(t, "127.0.0.6:0")
	ep := endpoint(t, "TCP", o.Addr, nil)
	var p Prober
	steps := []struct {
		name       string
		do         func()
		wantOK     bool
		wantReason string
		wantHits   int64
	}{
		{"up", func() {}, true, "connected", 1},
		{"stopped", o.Stop, false, "connection refused", 1},
		{"restarted", o.Start, true, "connected", 2},
	}
	for _, s := range steps {
		s.do()
		if got := p.Probe(context.Background(), ep); got.OK != s.wantOK || got.Reason != s.wantReason {
			t.Errorf("%s: got %v %q; want %v %q", s.name, got.OK, got.Reason, s.wantOK, s.wantReason)
		}
		// The origin accepts after the prober has connected (and left);
		// wait, or Stop could drop the connection from the accept queue.
		for deadline := time.Now().Add(2 * time.Second); o.Hits() < s.wantHits && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if got := o.Hits(); got != s.wantHits {
			t.Errorf("%s: got %d connections; want %d", s.name, got, s.wantHits)
		}
	}
}

func TestProbeStopStart(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.7:0", "ok")
	ep := endpoint(t, "HTTP", o.Addr, nil)
	var p Prober
	steps := []struct {
		name       string
		do         func()
		wantReason string
	}{
		{"up", func() {}, "status 200"},
		{"stopped", o.Stop, "connection refused"},
		{"restarted", o.Start, "status 200"},
		{"refuse mode", func() { o.SetMode(testorigin.Refuse) }, "connection refused"},
		{"ok mode", func() { o.SetMode(testorigin.OK) }, "status 200"},
	}
	for _, s := range steps {
		s.do()
		if got := p.Probe(context.Background(), ep); got.Reason != s.wantReason {
			t.Errorf("%s: got %q; want %q", s.name, got.Reason, s.wantReason)
		}
	}
}

func TestProbeContextCanceled(t *testing.T) {
	o := testorigin.NewHTTP(t, "127.0.0.8:0", "ok")
	o.SetMode(testorigin.Hang)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var p Prober
	if got := p.Probe(ctx, endpoint(t, "HTTP", o.Addr, nil)); got.OK || got.Reason != "canceled" {
		t.Errorf("got %v %q; want false %q", got.OK, got.Reason, "canceled")
	}
}

func TestProbeNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	o := testorigin.NewHTTP(t, "127.0.0.9:0", "ok")
	o.SetMode(testorigin.Hang)
	var p Prober
	for _, proto := range []string{"HTTP", "TCP", "HTTP"} {
		p.Probe(context.Background(), endpoint(t, proto, o.Addr, nil))
	}
	https := testorigin.NewHTTPS(t, "127.0.0.9:0", "ok")
	https.SetMode(testorigin.Hang)
	p.Probe(context.Background(), endpoint(t, "HTTPS", https.Addr, nil))
	o.Stop()
	https.Stop()

	var got int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = runtime.NumGoroutine(); got <= before {
			return
		}
	}
	buf := make([]byte, 1<<20)
	t.Errorf("got %d goroutines; want <= %d\n%s", got, before, buf[:runtime.Stack(buf, true)])
}

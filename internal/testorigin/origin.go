// Package testorigin runs real HTTP, HTTPS and TCP servers on loopback for tests:
// origins whose behaviour (healthy, erroring, hanging, closing, refusing) can
// be switched at run time, so that probers are exercised over real sockets.
//
// Linux routes all of 127.0.0.0/8 to lo, so tests that need several origins
// can give each its own 127.0.0.x address.
package testorigin

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// Mode is how an HTTP origin answers.
type Mode int

const (
	OK        Mode = iota // 200 with the configured body
	Status500             // 500 with a short error body
	Hang                  // read the request, never answer (until Stop)
	Close                 // read the request, then close the connection without a response
	WrongBody             // 200 with a body other than the configured one
	Refuse                // not listening: connections are refused
)

func (m Mode) String() string {
	switch m {
	case OK:
		return "OK"
	case Status500:
		return "Status500"
	case Hang:
		return "Hang"
	case Close:
		return "Close"
	case WrongBody:
		return "WrongBody"
	case Refuse:
		return "Refuse"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// WrongBodyText is what a WrongBody origin serves.
const WrongBodyText = "this is not the page you are looking for\n"

// HTTP is an HTTP or HTTPS origin. Its methods are safe for concurrent use.
type HTTP struct {
	URL  string            // "http://host:port" or "https://host:port", without a trailing slash
	Addr string            // host:port it listens on; fixed for its lifetime, across Stop/Start
	Cert *x509.Certificate // HTTPS only: the self-signed certificate (for "localhost" and the IP)

	t    testing.TB
	body string
	tls  *tls.Config // nil for plain HTTP
	mode atomic.Int64
	hits atomic.Int64

	life sync.Mutex // serialises Start and Stop

	mu       sync.Mutex     // guards the fields below
	srv      *http.Server   // nil while stopped
	stop     chan struct{}  // closed by Stop to release hanging handlers
	served   chan struct{}  // closed when srv.Serve returns
	handlers sync.WaitGroup // running handlers; Add only while srv != nil
	lastHost string
	lastPath string
	lastHdr  http.Header
	lastSNI  string
}

// NewHTTP starts a plain HTTP origin on addr ("" means "127.0.0.1:0") that
// serves body (in mode OK) at every path. It is stopped when the test ends.
func NewHTTP(t testing.TB, addr string, body string) *HTTP {
	t.Helper()
	return newHTTP(t, addr, body, false)
}

// NewHTTPS is NewHTTP over TLS, with a freshly generated self-signed
// certificate that nothing trusts.
func NewHTTPS(t testing.TB, addr string, body string) *HTTP {
	t.Helper()
	return newHTTP(t, addr, body, true)
}

func newHTTP(t testing.TB, addr, body string, useTLS bool) *HTTP {
	t.Helper()
	ln, err := listen(defaultAddr(addr))
	if err != nil {
		t.Fatalf("origin: %v", err)
	}
	h := &HTTP{t: t, body: body, Addr: ln.Addr().String(), URL: "http://" + ln.Addr().String()}
	if useTLS {
		ip := ln.Addr().(*net.TCPAddr).IP
		cert, tlsCert, err := selfSigned(ip)
		if err != nil {
			ln.Close()
			t.Fatalf("origin: %v", err)
		}
		h.Cert = cert
		h.URL = "https://" + h.Addr
		h.tls = &tls.Config{
			// GetCertificate sees every ClientHello, so the SNI is recorded
			// even when the client later rejects the certificate.
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
				h.mu.Lock()
				h.lastSNI = hello.ServerName
				h.mu.Unlock()
				return tlsCert, nil
			},
		}
	}
	h.serve(ln)
	t.Cleanup(h.Stop)
	return h
}

// SetMode switches how the origin answers from the next request on.
// Refuse stops listening (like Stop); any other mode starts listening again
// if the origin is stopped.
func (h *HTTP) SetMode(m Mode) {
	if m == Refuse {
		h.Stop()
		return
	}
	h.mode.Store(int64(m))
	h.Start()
}

// Hits is the number of requests the origin has received, whatever it
// answered.
func (h *HTTP) Hits() int64 { return h.hits.Load() }

// LastRequest returns the Host header, URL path and headers of the latest
// request ("" and nil before the first).
func (h *HTTP) LastRequest() (host, path string, header http.Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastHost, h.lastPath, h.lastHdr.Clone()
}

// LastSNI returns the server name of the latest TLS ClientHello ("" when
// the client sent none, as for IP addresses).
func (h *HTTP) LastSNI() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastSNI
}

// Stop stops listening, closes every open connection and waits for the
// handlers to return. Afterwards connections to Addr are refused.
func (h *HTTP) Stop() {
	h.life.Lock()
	defer h.life.Unlock()
	h.mu.Lock()
	srv, stop, served := h.srv, h.stop, h.served
	h.srv = nil
	h.mu.Unlock()
	if srv == nil {
		return
	}
	close(stop)
	srv.Close()
	<-served
	h.handlers.Wait()
}

// Start listens again on the same Addr after Stop; it does nothing if the
// origin is running. A failure to bind is reported with t.Errorf.
func (h *HTTP) Start() {
	h.life.Lock()
	defer h.life.Unlock()
	h.mu.Lock()
	running := h.srv != nil
	h.mu.Unlock()
	if running {
		return
	}
	ln, err := listen(h.Addr)
	if err != nil {
		h.t.Errorf("origin: restart: %v", err)
		return
	}
	h.serve(ln)
}

// serve runs a server on ln. The caller holds h.life (or owns h alone).
func (h *HTTP) serve(ln net.Listener) {
	if h.tls != nil {
		ln = tls.NewListener(ln, h.tls)
	}
	srv := &http.Server{
		Handler:  http.HandlerFunc(h.handle),
		ErrorLog: log.New(io.Discard, "", 0), // handshake failures are expected
	}
	served := make(chan struct{})
	h.mu.Lock()
	h.srv, h.stop, h.served = srv, make(chan struct{}), served
	h.mu.Unlock()
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
}

// enter registers a running handler; false means the origin is stopping.
func (h *HTTP) enter(r *http.Request) (stop <-chan struct{}, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv == nil {
		return nil, false
	}
	h.handlers.Add(1)
	h.lastHost, h.lastPath, h.lastHdr = r.Host, r.URL.Path, r.Header.Clone()
	return h.stop, true
}

func (h *HTTP) handle(w http.ResponseWriter, r *http.Request) {
	stop, ok := h.enter(r)
	if !ok {
		panic(http.ErrAbortHandler) // closes the connection quietly
	}
	defer h.handlers.Done()
	h.hits.Add(1)
	switch Mode(h.mode.Load()) {
	case OK:
		io.WriteString(w, h.body)
	case Status500:
		http.Error(w, "internal server error", http.StatusInternalServerError)
	case WrongBody:
		io.WriteString(w, WrongBodyText)
	case Hang:
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	case Close:
		// The request has been read in full, so closing sends a FIN rather
		// than a RST: the client deterministically sees EOF.
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	}
}

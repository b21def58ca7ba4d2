package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Options configures a Server.
type Options struct {
	// Listen is the host:port Start binds; port 0 picks a free port.
	Listen string
	// TokenFile holds the bearer token that POST and DELETE calls must
	// present. Empty means mutating calls are accepted from loopback
	// clients only.
	TokenFile string
	// Log receives one line per mutating call; nil discards.
	Log *slog.Logger
	// AllowedHosts are the host names, besides IP literals, localhost and
	// the host of Listen, that requests may name in their Host header;
	// others get 421 (see host.go).
	AllowedHosts []string
}

// maxBody bounds request bodies; a drain request is a few hundred bytes.
const maxBody = 64 << 10

// Server is the HTTP API of one node. Handler is usable without Start.
type Server struct {
	b     Backend
	log   *slog.Logger
	token []byte // nil: no token file, loopback clients only
	hosts hostPolicy
	mux   *http.ServeMux
	srv   *http.Server
	now   func() time.Time // the clock status reports; replaced in tests

	mu sync.Mutex   // guards ln
	ln net.Listener // set by Start
}

// New returns a server for b. It reads the token file, if any, now: a
// missing or empty token file is an error rather than an open API.
func New(o Options, b Backend) (*Server, error) {
	s := &Server{b: b, log: o.Log, mux: http.NewServeMux(), now: time.Now, hosts: newHostPolicy(o.Listen, o.AllowedHosts)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.TokenFile != "" {
		data, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("api: token file: %w", err)
		}
		tok := strings.TrimSpace(string(data))
		if tok == "" {
			return nil, fmt.Errorf("api: token file %s is empty", o.TokenFile)
		}
		s.token = []byte(tok)
	}
	s.routes()
	s.srv = &http.Server{
		Addr:              o.Listen,
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.HandleFunc("GET /ui/{file}", s.asset)
	s.mux.HandleFunc("GET /api/v1/status", s.status)
	s.mux.HandleFunc("GET /api/v1/explain", s.explain)
	s.mux.HandleFunc("POST /api/v1/reload", s.mutating(s.reload))
	s.mux.HandleFunc("GET /api/v1/drains", s.listDrains)
	s.mux.HandleFunc("POST /api/v1/drains", s.mutating(s.setDrain))
	s.mux.HandleFunc("DELETE /api/v1/drains/{target}", s.mutating(s.undrain))
	s.mux.HandleFunc("DELETE /api/v1/drains", s.mutating(s.undrain))
}

// Handle serves pattern (a net/http mux pattern such as "GET /metrics")
// with h on the API listener. Call it before Start; h answers as it is,
// without the API's authentication (it must only read).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the API's handler, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s }

// Start binds the listen address and serves in the background until
// Shutdown.
func (s *Server) Start() error {
	if s.srv.Addr == "" {
		return errors.New("api: no listen address")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("api: already started")
	}
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api stopped", "err", err)
		}
	}()
	return nil
}

// Addr is the bound host:port, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting calls and waits for those in flight until ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.srv.Shutdown(ctx)
}

// ServeHTTP serves the API. The mux's own 404 and 405 replies are plain
// text; they are rewritten as JSON errors so clients parse one shape.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !s.hosts.allows(r.Host) {
		s.log.Debug("api call refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "host", r.Host, "status", http.StatusMisdirectedRequest)
		writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf(
			"host %q is not a name this API answers to: use an IP address or localhost, or add the name to api.allowed_hosts", r.Host))
		return
	}
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	cw := &captureWriter{h: make(http.Header)}
	s.mux.ServeHTTP(cw, r)
	switch cw.code {
	case http.StatusNotFound:
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", cw.h.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
	default: // redirects to a cleaned path
		for k, v := range cw.h {
			w.Header()[k] = v
		}
		w.WriteHeader(cw.code)
		w.Write(cw.body.Bytes())
	}
}

// captureWriter records a reply of the mux's fallback handlers.
type captureWriter struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.h }

func (c *captureWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *captureWriter) Write(p []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(p)
}

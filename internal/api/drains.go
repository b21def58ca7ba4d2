package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/meridiandns/meridian/healthmesh"
)

// Errors a Backend may wrap so the API answers with a precise status;
// any other error is a 500.
var (
	ErrInvalid  = errors.New("invalid request") // 400: e.g. an unknown pool
	ErrNotFound = errors.New("not found")       // 404: e.g. undrain of a target that is not drained
	// ErrUnsupported is a call the Backend cannot serve (a tool's backend
	// without zones, say): 501.
	ErrUnsupported = errors.New("not supported by this server")
)

func (s *Server) listDrains(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Drains []healthmesh.Drain `json:"drains"`
	}{nonNil(s.b.Drains())})
}

// drainRequest is the body of POST /api/v1/drains.
type drainRequest struct {
	Target string `json:"target"`           // "198.51.100.1" or "pool:eu"
	For    string `json:"for,omitempty"`    // Go duration; empty or "0s": until undone
	Reason string `json:"reason,omitempty"` // free text, at most healthmesh.MaxDrainReason bytes
	// Force drains a target that no value or pool of the zones served
	// names (yet).
	Force bool `json:"force,omitempty"`
}

func (s *Server) setDrain(w http.ResponseWriter, r *http.Request, c caller) {
	var req drainRequest
	d, err := decodeDrain(r.Body, &req)
	if err != nil {
		s.refuse(w, r, c, req.Target, err)
		return
	}
	dr, err := s.b.SetDrain(req.Target, d, req.Reason, c.by(), req.Force)
	if err != nil {
		s.refuse(w, r, c, req.Target, err, "for", d, "reason", req.Reason)
		return
	}
	s.log.Info("api drain set", "remote", c.remote, "auth", c.auth, "method", r.Method,
		"target", dr.Target, "for", d, "reason", req.Reason, "status", http.StatusCreated)
	w.Header().Set("Location", "/api/v1/drains/"+url.PathEscape(dr.Target))
	writeJSON(w, http.StatusCreated, dr)
}

func (s *Server) undrain(w http.ResponseWriter, r *http.Request, c caller) {
	target := r.PathValue("target")
	if target == "" {
		target = r.URL.Query().Get("target")
	}
	if err := validTarget(target); err != nil {
		s.refuse(w, r, c, target, err)
		return
	}
	if err := s.b.Undrain(target, c.by()); err != nil {
		s.refuse(w, r, c, target, err)
		return
	}
	s.log.Info("api drain removed", "remote", c.remote, "auth", c.auth, "method", r.Method,
		"target", target, "status", http.StatusNoContent)
	w.WriteHeader(http.StatusNoContent)
}

// refuse logs a failed mutating call and answers it with the status err
// maps to.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, c caller, target string, err error, attrs ...any) {
	code := errStatus(err)
	s.log.Info("api call failed", append([]any{"remote", c.remote, "auth", c.auth, "method", r.Method,
		"target", target, "status", code, "err", err}, attrs...)...)
	writeError(w, code, err.Error())
}

// badRequest marks an error as the client's fault.
type badRequest struct{ error }

func (e badRequest) Unwrap() error { return ErrInvalid }

func errStatus(err error) int {
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrUnsupported):
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// decodeDrain reads exactly one drainRequest from body into req and
// returns its duration.
func decodeDrain(body io.Reader, req *drainRequest) (time.Duration, error) {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return 0, fmt.Errorf("body larger than %d bytes: %w", maxBody, err)
		}
		return 0, badRequest{fmt.Errorf("bad JSON body: %v", err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, badRequest{errors.New("bad JSON body: more than one value")}
	}
	if err := validTarget(req.Target); err != nil {
		return 0, err
	}
	if err := healthmesh.CheckDrainReason(req.Reason); err != nil {
		return 0, badRequest{err}
	}
	var d time.Duration
	if req.For != "" {
		var err error
		if d, err = time.ParseDuration(req.For); err != nil {
			return 0, badRequest{fmt.Errorf("for: %v", err)}
		}
		if d < 0 {
			return 0, badRequest{fmt.Errorf("for: %s is negative", req.For)}
		}
	}
	return d, nil
}

// validTarget checks the shape of a drain target; whether it names
// anything served is the Backend's business.
func validTarget(t string) error {
	switch {
	case t == "":
		return badRequest{errors.New("target is required")}
	case len(t) > 255:
		return badRequest{errors.New("target is longer than 255 bytes")}
	case strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }):
		return badRequest{fmt.Errorf("target %q contains spaces, control characters or /", t)}
	case t == "pool:":
		return badRequest{errors.New(`target "pool:" needs a pool id, as in pool:eu`)}
	}
	if _, err := healthmesh.CanonicalTarget(t); err != nil {
		return badRequest{err}
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) // the status is sent; a write error only means the client left
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

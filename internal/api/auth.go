package api

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// caller is who made a mutating call that passed authorization.
type caller struct {
	remote string // RemoteAddr as received
	ip     string // remote IP, for the by field of drains
	auth   string // "token" or "loopback"
}

// by is the writer name recorded on drains.
func (c caller) by() string { return "api@" + c.ip }

// mutating wraps a POST or DELETE handler with authorization. With a token
// configured every caller must present it; without one only loopback
// clients may change state, since anyone who can reach the port could
// otherwise drain the fleet.
func (s *Server) mutating(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := caller{remote: r.RemoteAddr, ip: remoteIP(r.RemoteAddr)}
		code, msg := s.authorize(r, &c)
		if code != 0 {
			s.log.Info("api call refused", "remote", c.remote, "method", r.Method, "path", r.URL.Path,
				"status", code, "err", msg)
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
			}
			writeError(w, code, msg)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		h(w, r, c)
	}
}

// authorize returns 0 when r may proceed (and sets c.auth), else the
// status and message to refuse it with.
func (s *Server) authorize(r *http.Request, c *caller) (int, string) {
	if s.token != nil {
		tok, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			return http.StatusUnauthorized, "missing bearer token"
		}
		if subtle.ConstantTimeCompare([]byte(tok), s.token) != 1 {
			return http.StatusUnauthorized, "invalid bearer token"
		}
		c.auth = "token"
		return 0, ""
	}
	if !isLoopback(r.RemoteAddr) {
		return http.StatusForbidden, "changes are only accepted from loopback clients; set api.token_file to allow remote callers"
	}
	// Browsers send Origin on every POST and DELETE; tools do not.
	// Refusing it stops a web page (or a DNS-rebound name) from riding
	// the loopback exemption behind the operator's back.
	if r.Header.Get("Origin") != "" {
		return http.StatusForbidden, "requests from browsers need api.token_file to be set"
	}
	c.auth = "loopback"
	return 0, ""
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// isLoopback reports whether remote (an http.Request RemoteAddr) is in
// 127.0.0.0/8 or ::1, including IPv4-mapped forms.
func isLoopback(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}

// remoteIP is the IP of remote, or remote itself when it has no port.
func remoteIP(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("").String()
	}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

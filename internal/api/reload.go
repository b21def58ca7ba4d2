package api

import (
	"net/http"
)

// reload answers POST /api/v1/reload: re-read the config and zones as
// SIGHUP does. Zone problems are a successful call whose result says
// ok=false (the zones that loaded are served); a config that fails to load
// is an error, and the running config stays.
func (s *Server) reload(w http.ResponseWriter, r *http.Request, c caller) {
	rs, err := s.b.ReloadConfig()
	if err != nil {
		code := errStatus(err)
		s.log.Info("api reload failed", "remote", c.remote, "auth", c.auth, "method", r.Method,
			"status", code, "err", err)
		writeError(w, code, "reload failed; the running config is kept: "+err.Error())
		return
	}
	rs.Problems, rs.Pending = nonNil(rs.Problems), nonNil(rs.Pending)
	s.log.Info("api reload", "remote", c.remote, "auth", c.auth, "method", r.Method,
		"ok", rs.OK, "problems", len(rs.Problems), "status", http.StatusOK)
	writeJSON(w, http.StatusOK, rs)
}

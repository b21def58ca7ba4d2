package daemon

import (
	"context"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/meridiandns/meridian/internal/api"
)

// mountPprof serves Go's profiler under /debug/pprof/ on the API listener.
// The handlers are mounted on the API's own mux, never on
// http.DefaultServeMux, so nothing else can expose them by accident.
func mountPprof(a *api.Server) {
	a.Handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	a.Handle("GET /debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	a.Handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	a.Handle("POST /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	a.Handle("GET /debug/pprof/profile", longRunning(pprof.Profile))
	a.Handle("GET /debug/pprof/trace", longRunning(pprof.Trace))
}

// maxProfile bounds ?seconds= for CPU profiles and traces.
const maxProfile = 5 * time.Minute

// longRunning lets a CPU profile or trace run for its ?seconds= (30 by
// default, as go tool pprof asks) although the API's write timeout is
// shorter: it moves this response's write deadline, and hides the server's
// timeout from pprof, which refuses durations beyond it.
func longRunning(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := 30 * time.Second
		if s, err := strconv.ParseFloat(r.FormValue("seconds"), 64); err == nil && s > 0 {
			d = time.Duration(s * float64(time.Second))
		}
		if d > maxProfile {
			http.Error(w, "seconds: at most "+maxProfile.String(), http.StatusBadRequest)
			return
		}
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + 10*time.Second)); err != nil {
			http.Error(w, "cannot extend the write deadline: "+err.Error(), http.StatusInternalServerError)
			return
		}
		ctx := context.WithValue(r.Context(), http.ServerContextKey, &http.Server{})
		h(w, r.WithContext(ctx))
	})
}

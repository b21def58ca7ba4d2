package daemon

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
)

// shutdownFilter passes records on to its handler, except memberlist's
// complaints about its own sockets being closed once the node is shutting
// down (closing is set): a gossip round or a packet read that races the
// close is how memberlist stops, not a fault, so it is logged at debug.
type shutdownFilter struct {
	slog.Handler
	closing *atomic.Bool
}

func (f shutdownFilter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level > slog.LevelDebug && f.closing.Load() && r.Message == "memberlist" && closedConn(r) {
		if !f.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return f.Handler.Handle(ctx, r)
}

func (f shutdownFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return shutdownFilter{f.Handler.WithAttrs(as), f.closing}
}

func (f shutdownFilter) WithGroup(name string) slog.Handler {
	return shutdownFilter{f.Handler.WithGroup(name), f.closing}
}

// closedConn reports whether r's line says a socket was used after it was
// closed.
func closedConn(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "line" && strings.Contains(a.Value.String(), "use of closed network connection") {
			found = true
			return false
		}
		return true
	})
	return found
}

// closeHealth stops the health node; memberlist's noise about its closed
// sockets is logged at debug from then on.
func (d *Daemon) closeHealth() {
	d.closing.Store(true)
	d.health.Close()
}

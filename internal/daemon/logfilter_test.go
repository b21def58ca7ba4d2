package daemon

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

// TestShutdownFilter: memberlist's complaint about a closed socket is a
// warning while the node runs and debug once it is closing; other lines
// keep their level.
func TestShutdownFilter(t *testing.T) {
	var b bytes.Buffer
	var closing atomic.Bool
	log := slog.New(shutdownFilter{slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelInfo}), &closing}).With("node", "n1")
	closed := "[ERR] memberlist: Failed to send gossip to 127.0.0.1:7946: write udp 127.0.0.2:7946->127.0.0.1:7946: use of closed network connection"
	other := "[ERR] memberlist: Failed to send gossip to 127.0.0.1:7946: write udp: no route to host"

	log.Warn("memberlist", "line", closed)
	closing.Store(true)
	log.Warn("memberlist", "line", closed)
	log.Warn("memberlist", "line", other)
	log.Warn("mesh leave", "err", "use of closed network connection")

	got := b.String()
	if n := strings.Count(got, "use of closed network connection"); n != 2 {
		t.Errorf("got %d lines about the closed socket; want 2 (before closing, and one not from memberlist):\n%s", n, got)
	}
	if !strings.Contains(got, "no route to host") || !strings.Contains(got, "node=n1") {
		t.Errorf("got:\n%s\nwant other memberlist lines kept, with the logger's attributes", got)
	}

	b.Reset()
	debug := slog.New(shutdownFilter{slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}), &closing})
	debug.Warn("memberlist", "line", closed)
	if !strings.HasPrefix(b.String(), "time=") || !strings.Contains(b.String(), "level=DEBUG msg=memberlist") {
		t.Errorf("at debug level: got %q; want the line kept at debug", b.String())
	}
}

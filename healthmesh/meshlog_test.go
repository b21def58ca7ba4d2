package healthmesh

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recordHandler keeps the records logged through it.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// TestUnauthenticatedLog: a flood of packets and streams not sealed with
// the mesh key gives one warning, then one line a minute with a count,
// while every one is counted; other memberlist lines are logged as they
// come.
func TestUnauthenticatedLog(t *testing.T) {
	h := &recordHandler{}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	u := &unauthLog{now: func() time.Time { return now }}
	w := &slogWriter{log: slog.New(h), unauth: u}
	refusals := []string{
		"[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=192.0.2.7:7946",
		"[ERR] memberlist: failed to receive: encryption is configured but remote state is not encrypted from=192.0.2.7:50000",
		"[ERR] memberlist: failed to receive: no installed keys could decrypt the message from=192.0.2.7:50001",
		"[ERR] memberlist: Decrypt packet failed: unsupported encryption version 7 from=192.0.2.7:7946",
	}
	// 1000 refusals a minute for two and a half minutes.
	for i := range 2500 {
		now = t0.Add(time.Duration(i) * 60 * time.Millisecond)
		w.Write([]byte(refusals[i%len(refusals)] + "\n"))
	}
	w.Write([]byte("[ERR] memberlist: Failed to send ack: broken pipe from=192.0.2.8:7946\n"))
	if got := u.total.Load(); got != 2500 {
		t.Errorf("counted %d refusals; want 2500", got)
	}
	var lines []string
	counts := []int64{}
	for _, r := range h.recs {
		lines = append(lines, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "count" {
				counts = append(counts, a.Value.Int64())
			}
			return true
		})
	}
	// The first at 0 s, summaries at 60 s and 120 s (each the minute's
	// count), then the unrelated error.
	if len(lines) != 4 {
		t.Fatalf("got %d lines; want 4:\n%q", len(lines), lines)
	}
	if want := []int64{1000, 1000}; len(counts) != 2 || counts[0] != want[0] || counts[1] != want[1] {
		t.Errorf("summary counts: got %v; want %v", counts, want)
	}
	if h.recs[3].Level != slog.LevelWarn || h.recs[3].Message != "memberlist" {
		t.Errorf("other errors: got %v %q; want them logged as before", h.recs[3].Level, h.recs[3].Message)
	}
}

// TestShutdownQuiet: once the mesh is leaving, memberlist's goroutines
// writing to its closed sockets are not warnings.
func TestShutdownQuiet(t *testing.T) {
	var buf bytes.Buffer
	var closing atomic.Bool
	w := &slogWriter{log: slog.New(slog.NewTextHandler(&buf, nil)), closing: &closing}
	line := "[ERR] memberlist: Failed to send gossip to 127.0.0.38:51314: write udp 127.0.0.34:50180->127.0.0.38:51314: use of closed network connection"
	fmt.Fprintln(w, line)
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("while serving: %q; want a warning", buf.String())
	}
	buf.Reset()
	closing.Store(true)
	fmt.Fprintln(w, line)
	if buf.Len() != 0 {
		t.Errorf("while leaving: %q; want nothing at info level or above", buf.String())
	}
}

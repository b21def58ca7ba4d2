package healthmesh

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/meridiandns/meridian/internal/atomicfile"
)

// drainWriter persists the drains apart from whatever changes them: a
// change marks the file dirty and wakes the writer, which writes the
// drains as they are then (a burst of changes is one write) and retries
// every drainRetry while writing fails. Nothing that gossip or the API
// calls waits on the disk, and what is written is either the whole
// encoded list, atomically, or nothing: a list that does not encode is
// an error, never an empty file.
type drainWriter struct {
	path string
	log  *slog.Logger
	list func() []Drain // the drains to write; read when writing
	kick chan struct{}  // wakes run; holds one

	mu       sync.Mutex   // guards everything below
	dirty    bool         // changed since the last write began
	waiters  []chan error // told the outcome of the next write
	err      error        // of the last write; nil when it succeeded
	since    time.Time    // when the writes began failing; zero while they succeed
	failures uint64       // failed writes since the node started
	loadErr  error        // reading the file at start failed
}

func newDrainWriter(path string, log *slog.Logger, list func() []Drain) *drainWriter {
	return &drainWriter{path: path, log: log, list: list, kick: make(chan struct{}, 1)}
}

// changed marks the drains changed. The channel is told the outcome of
// the write that includes the change (nil at once without a file).
func (w *drainWriter) changed() <-chan error {
	done := make(chan error, 1)
	if w.path == "" {
		done <- nil
		return done
	}
	w.mu.Lock()
	w.dirty = true
	w.waiters = append(w.waiters, done)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return done
}

// run writes until stop is closed, then writes what is still dirty.
func (w *drainWriter) run(stop <-chan struct{}) {
	if w.path == "" {
		return
	}
	t := time.NewTicker(drainRetry)
	defer t.Stop()
	for {
		select {
		case <-stop:
			w.flush()
			return
		case <-w.kick:
		case <-t.C:
		}
		w.flush()
	}
}

// flush writes the drains if they changed, or if the last write failed
// (a retry, which logs only the recovery).
func (w *drainWriter) flush() {
	w.mu.Lock()
	if !w.dirty && w.err == nil {
		w.mu.Unlock()
		return
	}
	retry := !w.dirty
	w.dirty = false
	waiters := w.waiters
	w.waiters = nil
	w.mu.Unlock()

	err := w.write(w.list())
	now := time.Now()
	w.mu.Lock()
	failing := w.err != nil
	w.err = err
	switch {
	case err != nil:
		w.failures++
		if !failing {
			w.since = now
		}
		if !retry {
			w.log.Error("cannot persist drains; they apply in memory and on the mesh", "err", err)
		}
	case failing:
		w.since = time.Time{}
		w.log.Info("drains persisted again", "path", w.path)
	}
	w.mu.Unlock()
	for _, c := range waiters {
		c <- err
	}
}

// write replaces the file with list, sorted by target.
func (w *drainWriter) write(list []Drain) error {
	sort.Slice(list, func(i, j int) bool { return list[i].Target < list[j].Target })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("drains: encoding: %w", err) // never write what did not encode
	}
	return atomicfile.Write(w.path, data)
}

// status reports how keeping the file is going.
func (w *drainWriter) status() PersistStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return PersistStatus{Path: w.path, Err: w.err, Since: w.since, Failures: w.failures, LoadErr: w.loadErr}
}

package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watcher turns bursts of file events under a directory into one reload,
// after the writes have settled for the debounce period.
type watcher struct {
	fs       *fsnotify.Watcher
	debounce time.Duration
	log      *slog.Logger
}

// newWatcher watches dir and its immediate subdirectories (targets of
// $INCLUDE).
func newWatcher(dir string, debounce time.Duration, log *slog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(dir); err != nil {
		fw.Close()
		return nil, err
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				fw.Add(filepath.Join(dir, e.Name()))
			}
		}
	}
	return &watcher{fs: fw, debounce: debounce, log: log}, nil
}

// run calls reload after each settled burst of changes until ctx ends.
func (w *watcher) run(ctx context.Context, reload func()) {
	defer w.fs.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write) {
				continue
			}
			timer.Reset(w.debounce)
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.log.Warn("zone watcher", "err", err)
		case <-timer.C:
			w.log.Info("zone files changed; reloading")
			reload()
		}
	}
}

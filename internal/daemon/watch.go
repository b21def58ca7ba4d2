package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watcher turns bursts of file events in a few directories into one
// reload, after the writes have settled for the debounce period. It
// watches the GeoIP databases' directories; the zones directory has a
// watch of its own (zoneWatch), which survives the directory being
// replaced.
type watcher struct {
	fs       *fsnotify.Watcher
	debounce time.Duration
	log      *slog.Logger
}

// newWatcher watches the given directories (not recursively).
func newWatcher(dirs []string, debounce time.Duration, log *slog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		if err := fw.Add(dir); err != nil {
			fw.Close()
			return nil, err
		}
	}
	return &watcher{fs: fw, debounce: debounce, log: log}, nil
}

// parentDirs is the distinct directories holding files.
func parentDirs(files []string) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, f := range files {
		if d := filepath.Dir(f); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
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
			reload()
		}
	}
}

package daemon

import (
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
)

// drainsLogged is how many drains the start-up line names; the rest are
// counted.
const drainsLogged = 10

// logDrains says at start which drains read from the state dir are in
// force, so that an operator reading the log knows why a value is out of
// answers before the node has said anything else.
func logDrains(log *slog.Logger, ds []healthmesh.Drain, stateDir string) {
	if len(ds) == 0 {
		return
	}
	names := make([]string, 0, min(len(ds), drainsLogged))
	for _, d := range ds[:min(len(ds), drainsLogged)] {
		s := d.Target
		if !d.Until.IsZero() {
			s += " until " + d.Until.UTC().Format(time.RFC3339)
		}
		if d.Reason != "" {
			s += " (" + d.Reason + ")"
		}
		names = append(names, s)
	}
	attrs := []any{"count", len(ds), "drains", strings.Join(names, ", ")}
	if more := len(ds) - len(names); more > 0 {
		attrs = append(attrs, "more", more)
	}
	attrs = append(attrs, "file", filepath.Join(stateDir, "drains.json"))
	log.Info("drains in force from the state dir", attrs...)
}

package zones

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/meridiandns/meridian/internal/atomicfile"
)

// serials remembers, per zone, the serial handed out and the content hash
// it was handed out for. A zone whose content changes gets
// max(previous+1, unix time); unchanged content keeps its serial. With a
// state file the memory survives restarts, so serials never go down.
type serials struct {
	path string // state file; "" keeps serials in memory only

	mu    sync.Mutex // guards m and dirty
	m     map[string]serialEntry
	dirty bool // m has entries the state file lacks: the last write failed
}

type serialEntry struct {
	Serial uint32 `json:"serial"`
	Hash   string `json:"hash"`
}

const serialFile = "zone-serials.json"

// newSerials reads the state file in dir, if dir is set. A missing file is
// a fresh start; an unreadable one is an error the caller reports.
func newSerials(dir string) (*serials, error) {
	s := &serials{m: make(map[string]serialEntry)}
	if dir == "" {
		return s, nil
	}
	s.path = filepath.Join(dir, serialFile)
	data, err := os.ReadFile(s.path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("zone serials: %w", err)
	}
	if err := json.Unmarshal(data, &s.m); err != nil {
		s.m = make(map[string]serialEntry)
		return s, fmt.Errorf("zone serials: %s: %w", s.path, err)
	}
	return s, nil
}

// next returns the serial for origin with content hash h, without
// recording it.
func (s *serials) next(origin string, h [32]byte, now time.Time) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := hex.EncodeToString(h[:])
	e, ok := s.m[origin]
	if ok && e.Hash == hs {
		return e.Serial
	}
	serial := uint32(now.Unix())
	if ok && int32(serial-e.Serial) <= 0 { // RFC 1982 comparison
		serial = e.Serial + 1
	}
	return serial
}

// commit records the serials of the zones now serving and writes the state
// file atomically.
func (s *serials) commit(zs []*Zone) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := s.dirty
	for _, z := range zs {
		e := serialEntry{Serial: z.SOA.Serial, Hash: hex.EncodeToString(z.hash[:])}
		if s.m[z.Origin] != e {
			s.m[z.Origin] = e
			changed = true
		}
	}
	if s.path == "" || !changed {
		return nil
	}
	data, err := json.MarshalIndent(s.m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, data); err != nil {
		s.dirty = true // retried by the next commit, changed or not
		return fmt.Errorf("zone serials: %w", err)
	}
	s.dirty = false
	return nil
}

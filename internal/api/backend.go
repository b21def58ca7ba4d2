// Package api serves Meridian's HTTP API for operators and tools.
package api

import (
	"time"

	"github.com/meridiandns/meridian/healthmesh"
)

// Backend is what the API reads and changes. Implementations must be safe
// for concurrent use.
type Backend interface {
	// Status is the node's view of the mesh and its endpoints.
	Status() healthmesh.Status
	// Reload is the result of the last zone reload.
	Reload() ReloadStatus
	// Drains lists the active drains.
	Drains() []healthmesh.Drain
	// SetDrain takes target ("198.51.100.1" or "pool:eu") out of service,
	// for d (0 = until undone), and replicates it to the mesh.
	SetDrain(target string, d time.Duration, reason, by string) (healthmesh.Drain, error)
	// Undrain puts target back.
	Undrain(target, by string) error
}

// ReloadStatus is the outcome of the last zone reload.
type ReloadStatus struct {
	At       time.Time `json:"at"`
	OK       bool      `json:"ok"`
	Problems []string  `json:"problems"`
}

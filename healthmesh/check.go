// Package healthmesh probes the origins behind dynamic records and decides,
// per endpoint, whether it is up. This file holds the vocabulary shared by
// the prober, the scheduler and (later) the gossip mesh: checks, endpoints,
// probe results, observations and verdicts.
package healthmesh

import (
	"fmt"
	"strings"
	"time"

	"github.com/meridiandns/meridian/pools"
)

// Check and StatusRange are defined with the records they belong to; the
// aliases keep this package's vocabulary short.
type (
	Check       = pools.Check
	StatusRange = pools.StatusRange
)

// Endpoint is one (value, check) pair: the unit that is probed, has a
// verdict and (later) is gossiped about.
type Endpoint struct {
	// Address is the value: an IP address, or a host name for dynamic
	// CNAME records (resolved with the system resolver at every probe).
	Address string
	Check   Check
}

// ID identifies the endpoint across records, reloads and nodes.
func (e Endpoint) ID() string { return pools.EndpointID(e.Address, &e.Check) }

// String is a short human name: protocol://address:port/path.
func (e Endpoint) String() string {
	switch e.Check.Protocol {
	case "TCP":
		return fmt.Sprintf("tcp://%s", hostPort(e.Address, e.Check.Port))
	default:
		return fmt.Sprintf("%s://%s%s", strings.ToLower(e.Check.Protocol), hostPort(e.Address, e.Check.Port), e.Check.Path)
	}
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return fmt.Sprintf("[%s]:%d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// Result is the outcome of one probe.
type Result struct {
	OK      bool          `json:"ok"`
	Reason  string        `json:"reason"`           // why it failed ("status 500", "timeout", "connection refused", ...) or what passed ("status 200")
	Status  int           `json:"status,omitempty"` // HTTP status; 0 for TCP or when none was received
	Latency time.Duration `json:"latency"`          // time to the verdict of this probe
	At      time.Time     `json:"at"`               // when the probe started
}

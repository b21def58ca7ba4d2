//go:build !linux

package server

import (
	"errors"
	"syscall"
)

// reusePort is Linux-only here; elsewhere use dns.udp_sockets: 1.
func reusePort(_, _ string, _ syscall.RawConn) error {
	return errors.New("several UDP sockets per address need Linux (set dns.udp_sockets: 1)")
}

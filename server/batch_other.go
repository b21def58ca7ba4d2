//go:build !linux

package server

import "net"

// serve reads and answers queries on c until it is closed.
func (l *udpListener) serve(c *net.UDPConn) { l.serveSimple(c) }

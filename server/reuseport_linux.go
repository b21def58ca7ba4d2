package server

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePort lets several sockets bind one UDP port; the kernel spreads
// incoming flows over them.
func reusePort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	return errors.Join(err, serr)
}

//go:build unix

package daemon

import "golang.org/x/sys/unix"

// writableDir reports why files cannot be created in dir by this process,
// nil when they can. It asks the kernel (access(2)) rather than write a
// file: check must leave no trace.
func writableDir(dir string) error {
	return unix.Access(dir, unix.W_OK|unix.X_OK)
}

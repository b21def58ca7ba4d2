package zones

import (
	"errors"
	"os"
	"path/filepath"
)

// Files are read from the zones directory through an os.Root of it: a
// symbolic link is followed only while it stays inside. What a zone file
// holds can end up in problems, which the status API shows to anyone, so
// a link to a file elsewhere must not be read at all. The directory
// itself may be a link (a Kubernetes ConfigMap mount swaps one); the root
// is opened at it, and confinement begins below.

var (
	errLinkOutside  = errors.New("symbolic link leads outside the zones directory")
	errLinkAbsolute = errors.New("symbolic link is absolute; only relative links that stay in the zones directory are followed")
)

// readInRoot reads the file at name, slash separated and relative to root.
func readInRoot(root *os.Root, name string) ([]byte, error) {
	data, err := root.ReadFile(name)
	if err == nil {
		return data, nil
	}
	// os.Root does not export the error of a path that escapes it; ".."
	// always does.
	if _, esc := root.Lstat(".."); esc != nil && errors.Is(err, unwrapPath(esc)) {
		if target, lerr := root.Readlink(name); lerr == nil && filepath.IsAbs(target) {
			return nil, errLinkAbsolute
		}
		return nil, errLinkOutside
	}
	return nil, unwrapPath(err)
}

// readZoneFile reads a zone file of dir, named by its base name.
func readZoneFile(dir, name string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer root.Close()
	return readInRoot(root, name)
}

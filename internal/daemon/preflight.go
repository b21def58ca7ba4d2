package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/config"
)

// KeyError is a problem with what a config key names: a file that cannot
// be read, a directory that cannot be written, a port that is taken. Its
// message starts with the key, as config errors do.
type KeyError struct {
	Key string // as written in the config: "mesh.keyfile"
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

func keyError(key, format string, args ...any) *KeyError {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}

// Preflight opens, and closes again, everything New opens at start that
// can fail: the mesh key, the API token, the GeoIP databases, the query
// log file and the state directories. It returns one error per problem,
// each a *KeyError naming the key at fault. New runs it first and refuses
// to start on any problem; `meridian check` runs it too, so a config that
// passes check does not fail at start (the systemd unit runs check as
// ExecStartPre).
//
// It writes nothing: a file or directory that does not exist yet, and
// that serve would create, must have a parent it could be created in.
// Listeners are not bound, since check runs beside a node that holds them;
// serve names the key of a listener it cannot bind (listenError).
func Preflight(c *config.Config) []error { return preflight(c, true) }

// preflight is Preflight; New leaves the GeoIP databases out (withGeo
// false), since it opens them for good a moment later and reports a
// failure with the same words (geoError), rather than read them twice.
func preflight(c *config.Config, withGeo bool) []error {
	var errs []error
	add := func(err *KeyError) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkMeshKey(c.Mesh))
	if c.API.Listen != "" && c.API.TokenFile != "" {
		add(checkToken(c.API.TokenFile))
	}
	if withGeo && len(c.GeoIP.Databases) > 0 {
		g, err := geo.Open(c.GeoIP.Databases)
		if err != nil {
			add(geoError(err))
		} else {
			g.Close()
		}
	}
	if q := c.Log.Queries; q.Enabled && q.Path != "" && q.Path != "-" {
		add(checkAppendable("log.queries.path", q.Path))
	}
	if c.StateDir != "" {
		add(checkStateDir("state_dir", c.StateDir))
	}
	if c.Mesh.StateDir != "" {
		add(checkStateDir("mesh.state_dir", c.Mesh.StateDir))
	}
	return errs
}

// checkMeshKey reads mesh.keyfile as New does, and refuses a mesh that
// joins peers without a key (unless mesh.insecure), as the mesh would.
func checkMeshKey(m config.Mesh) *KeyError {
	if m.Bind == "" {
		return nil
	}
	if m.Keyfile == "" {
		if len(m.Join) > 0 && !m.Insecure {
			return keyError("mesh.keyfile", "not set while mesh.join is: gossip would travel unencrypted; "+
				"make a key with meridian keygen, or set mesh.insecure: true (for tests only)")
		}
		return nil
	}
	if _, err := healthmesh.ReadKey(m.Keyfile); err != nil {
		return meshKeyError(m.Keyfile, err)
	}
	return nil
}

// meshKeyError is a failure of healthmesh.ReadKey in the terms of the
// config key.
func meshKeyError(path string, err error) *KeyError {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &KeyError{Key: "mesh.keyfile", Err: fmt.Errorf("cannot read %s: %w", path, pe.Err)}
	}
	msg := strings.TrimPrefix(err.Error(), "mesh key ")
	return &KeyError{Key: "mesh.keyfile", Err: errors.New(msg)}
}

// checkToken reads api.token_file by the rules of the API: a file that
// cannot be read, or holds only white space, stops the node rather than
// leave the API open.
func checkToken(path string) *KeyError {
	data, err := os.ReadFile(path)
	if err != nil {
		return &KeyError{Key: "api.token_file", Err: fmt.Errorf("cannot read %s: %w", path, unwrapPathErr(err))}
	}
	if strings.TrimSpace(string(data)) == "" {
		return keyError("api.token_file", "%s is empty", path)
	}
	return nil
}

// geoError names geoip.databases in a failure of geo.Open.
func geoError(err error) *KeyError {
	return &KeyError{Key: "geoip.databases", Err: errors.New(strings.TrimPrefix(err.Error(), "geo: "))}
}

// checkAppendable checks that path can be opened for appending, as the
// query log is: an existing file must open for writing, a missing one
// must have a writable directory to be created in.
func checkAppendable(key, path string) *KeyError {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return keyError(key, "%s is a directory", path)
	case err == nil:
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return &KeyError{Key: key, Err: fmt.Errorf("cannot write %s: %w", path, unwrapPathErr(err))}
		}
		f.Close()
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return &KeyError{Key: key, Err: fmt.Errorf("cannot use %s: %w", path, unwrapPathErr(err))}
	}
	dir := filepath.Dir(path)
	fi, err = os.Stat(dir)
	switch {
	case err != nil:
		return &KeyError{Key: key, Err: fmt.Errorf("cannot create %s: %w", path, unwrapPathErr(err))}
	case !fi.IsDir():
		return keyError(key, "cannot create %s: %s is not a directory", path, dir)
	}
	if err := writableDir(dir); err != nil {
		return &KeyError{Key: key, Err: fmt.Errorf("cannot create %s: %w", path, err)}
	}
	return nil
}

// checkStateDir checks that dir is a directory the node can write its
// state files in, or, when it does not exist yet, that it can be made:
// its nearest existing parent must be a writable directory.
func checkStateDir(key, dir string) *KeyError {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return keyError(key, "%s is not a directory", dir)
	case err == nil:
		if err := writableDir(dir); err != nil {
			return &KeyError{Key: key, Err: fmt.Errorf("cannot write in %s: %w", dir, err)}
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return &KeyError{Key: key, Err: fmt.Errorf("cannot use %s: %w", dir, unwrapPathErr(err))}
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			return keyError(key, "cannot create %s: %s is not a directory", dir, p)
		case err == nil:
			if err := writableDir(p); err != nil {
				return &KeyError{Key: key, Err: fmt.Errorf("cannot create %s: %w", dir, err)}
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return &KeyError{Key: key, Err: fmt.Errorf("cannot create %s: %w", dir, unwrapPathErr(err))}
		}
		if p == filepath.Dir(p) {
			return keyError(key, "cannot create %s", dir)
		}
	}
}

// listenError names the config key of a listener that could not bind and
// says the cause once: "dns.listen: cannot listen on 127.0.0.1:53 (tcp):
// bind: address already in use".
func listenError(key string, err error) error {
	var op *net.OpError
	if !errors.As(err, &op) {
		return &KeyError{Key: key, Err: err}
	}
	addr := ""
	if op.Addr != nil {
		addr = op.Addr.String()
	}
	return &KeyError{Key: key, Err: fmt.Errorf("cannot listen on %s (%s): %w", addr, op.Net, op.Err)}
}

// checkBind binds addr on TCP and UDP and lets go at once, so that a
// taken mesh port is reported with its key before memberlist reports it
// in its own terms. Port 0 always binds.
func checkBind(key, addr string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return listenError(key, err)
	}
	l.Close()
	p, err := net.ListenPacket("udp", addr)
	if err != nil {
		return listenError(key, err)
	}
	p.Close()
	return nil
}

// inConfig joins errs, each on its own line after the config file's path,
// as config errors read: "/etc/meridian/meridian.yaml: mesh.keyfile: ...".
func inConfig(c *config.Config, errs ...error) error {
	out := make([]error, len(errs))
	for i, err := range errs {
		out[i] = fmt.Errorf("%s: %w", c.Path, err)
	}
	return errors.Join(out...)
}

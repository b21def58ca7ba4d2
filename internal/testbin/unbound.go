package testbin

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Unbound is a real recursive resolver (Debian's unbound) on loopback,
// with stub zones pointing at our servers and ECS forwarding on.
type Unbound struct {
	Addr string // host:port it answers on
	cmd  *exec.Cmd
	logs *syncBuffer
}

// StartUnbound starts unbound with a stub zone for each zone → address
// ("127.0.0.1:5353") pair, sending client subnets to those addresses. It
// skips the test when unbound is not installed, unless requireTools.
func StartUnbound(t testing.TB, stubs map[string]string, requireTools bool) *Unbound {
	t.Helper()
	bin, err := exec.LookPath("unbound")
	if err != nil {
		for _, p := range []string{"/usr/sbin/unbound", "/usr/local/sbin/unbound"} {
			if _, err2 := os.Stat(p); err2 == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if requireTools {
			t.Fatal("unbound not installed but required")
		}
		t.Skip("unbound not installed (apt-get install unbound); skipping")
	}
	port := FreePort(t, "127.0.0.1")
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  use-syslog: no
  logfile: ""
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  num-threads: 1
  verbosity: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  qname-minimisation: no
  module-config: "subnetcache iterator"
  max-client-subnet-ipv4: 24
  max-client-subnet-ipv6: 56
`, port, dir, filepath.Join(dir, "unbound.pid"))
	for _, addr := range stubs {
		host, _, _ := net.SplitHostPort(addr)
		fmt.Fprintf(&b, "  send-client-subnet: %s\n", host)
	}
	for zone, addr := range stubs {
		host, p, _ := net.SplitHostPort(addr)
		fmt.Fprintf(&b, "stub-zone:\n  name: %q\n  stub-addr: %s@%s\n", zone, host, p)
	}
	b.WriteString("remote-control:\n  control-enable: no\n")
	conf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	u := &Unbound{Addr: fmt.Sprintf("127.0.0.1:%d", port), logs: &syncBuffer{}}
	u.cmd = exec.Command(bin, "-d", "-c", conf)
	u.cmd.Stdout, u.cmd.Stderr = u.logs, u.logs
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		u.cmd.Process.Kill()
		u.cmd.Wait()
	})
	Eventually(t, 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", u.Addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "unbound to listen\n%s\n%s", b.String(), u.logs.String)
	return u
}

// Logs returns what unbound printed.
func (u *Unbound) Logs() string { return u.logs.String() }

// FreePort returns a port free on host for both UDP and TCP.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", host+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

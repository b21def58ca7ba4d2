// Package testbin builds the meridian binary once per test process and runs
// it as a real server on loopback, for integration tests.
package testbin

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// Build compiles ./cmd/meridian (once per process) and returns its path.
func Build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "meridian-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(buildDir, "meridian")
		cmd := exec.Command("go", "build", "-ldflags", "-X github.com/meridiandns/meridian/internal/version.Version=v0.0.0-test",
			"-o", binPath, "./cmd/meridian")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Cleanup removes the built binary; call it from TestMain after m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the meridian module")
	}
	return filepath.Dir(mod), nil
}

// Node is a running `meridian serve` process.
type Node struct {
	Addr   string // the first DNS listen address, host:port
	API    string // the API address, host:port ("" when the API is off)
	Dir    string // the node's directory: meridian.yaml, zones/
	Config string // path of the config file

	t     testing.TB
	bin   string
	netns string   // run inside this network namespace ("" = the test's own)
	env   []string // added to the test's environment, "KEY=value"
	cmd   *exec.Cmd
	logs  *syncBuffer
	done  chan struct{}
	err   error // exit status, valid after done is closed
}

// Config is the YAML written as the node's meridian.yaml. "%ZONES%" is
// replaced with the zones directory; when Config has no dns section a
// listener on 127.0.0.1 with a kernel-chosen port is added.
type Config string

// Start writes files (paths relative to a new temp dir) and the config,
// starts `meridian serve` and waits until it listens.
func Start(t testing.TB, cfg Config, files map[string]string) *Node {
	t.Helper()
	return StartIn(t, "", cfg, files)
}

// StartIn is Start inside the named network namespace (ip netns exec).
func StartIn(t testing.TB, netns string, cfg Config, files map[string]string) *Node {
	t.Helper()
	return startNode(t, netns, nil, cfg, files)
}

// StartEnv is Start with env ("KEY=value") added to the process's
// environment.
func StartEnv(t testing.TB, env []string, cfg Config, files map[string]string) *Node {
	t.Helper()
	return startNode(t, "", env, cfg, files)
}

func startNode(t testing.TB, netns string, env []string, cfg Config, files map[string]string) *Node {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		WriteFile(t, filepath.Join(dir, name), body)
	}
	text := string(cfg)
	if !strings.Contains(text, "dns:") {
		text += "\ndns: {listen: [\"127.0.0.1:0\"]}\n"
	}
	if !strings.Contains(text, "zones:") {
		text += "\nzones: {dir: zones, debounce: 50ms}\n"
	}
	if !strings.Contains(text, "api:") {
		text += "\napi: {listen: \"127.0.0.1:0\"}\n"
	}
	n := &Node{Dir: dir, Config: filepath.Join(dir, "meridian.yaml"), t: t, bin: Build(t), netns: netns, env: env}
	WriteFile(t, n.Config, text)
	n.start()
	return n
}

// Restart starts the node again with the same directory after it exited.
func (n *Node) Restart() {
	n.t.Helper()
	n.start()
}

var (
	listenRE  = regexp.MustCompile(`msg=listening addr=(\S+)`)
	apiRE     = regexp.MustCompile(`msg="api listening" addr=(\S+)`)
	servingRE = regexp.MustCompile(`msg=serving `)
)

func (n *Node) start() {
	t := n.t
	t.Helper()
	n.logs = &syncBuffer{}
	n.done = make(chan struct{})
	n.cmd = exec.Command(n.bin, "serve", "--config", n.Config)
	if n.netns != "" {
		n.cmd = exec.Command("ip", "netns", "exec", n.netns, n.bin, "serve", "--config", n.Config)
	}
	n.cmd.Dir = n.Dir
	if len(n.env) > 0 {
		n.cmd.Env = append(os.Environ(), n.env...)
	}
	pr, pw := io.Pipe()
	n.cmd.Stdout = n.logs
	n.cmd.Stderr = pw
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan [2]string, 1)
	logs := n.logs // this run's; a restart replaces n.logs
	go func() {
		sc := bufio.NewScanner(pr)
		var dnsAddr, apiAddr string
		sent := false
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			if m := listenRE.FindStringSubmatch(line); m != nil && dnsAddr == "" {
				dnsAddr = m[1]
			}
			if m := apiRE.FindStringSubmatch(line); m != nil {
				apiAddr = m[1]
			}
			if servingRE.MatchString(line) && !sent {
				ready <- [2]string{dnsAddr, apiAddr}
				sent = true
			}
		}
	}()
	cmd, done := n.cmd, n.done
	go func() {
		n.err = cmd.Wait()
		pw.Close()
		close(done)
	}()
	t.Cleanup(func() { n.Stop() })
	select {
	case a := <-ready:
		n.Addr, n.API = a[0], a[1]
	case <-n.done:
		t.Fatalf("meridian exited before listening: %v\n%s", n.err, n.logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("meridian did not listen within 20s\n%s", n.logs.String())
	}
}

// Signal sends sig to the process.
func (n *Node) Signal(sig syscall.Signal) {
	if err := n.cmd.Process.Signal(sig); err != nil {
		n.t.Errorf("signal %v: %v", sig, err)
	}
}

// Stop sends SIGTERM and waits for the exit; it returns the exit error.
func (n *Node) Stop() error {
	select {
	case <-n.done:
		return n.err
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
	return n.err
}

// Logs returns everything the process wrote so far.
func (n *Node) Logs() string { return n.logs.String() }

// WaitLog waits until the logs contain s, failing the test after timeout.
func (n *Node) WaitLog(s string, timeout time.Duration) {
	n.t.Helper()
	Eventually(n.t, timeout, func() bool { return strings.Contains(n.Logs(), s) }, "log line %q\n%s", s, n.Logs)
}

// Eventually polls cond every 20ms until it holds or timeout passes. The
// message args may include a func() string, called only on failure.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			for i, a := range args {
				if f, ok := a.(func() string); ok {
					args[i] = f()
				}
			}
			t.Fatalf("timed out after %v waiting for "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WriteFile writes body to path atomically (write and rename), as editors
// and config management tools do.
func WriteFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) WriteString(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

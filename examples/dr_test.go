package examples_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
)

// requireTool finds a program the test needs. When MERIDIAN_REQUIRE_TOOLS
// is set (CI) a missing one fails the test; otherwise the test is skipped
// and says why.
func requireTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("MERIDIAN_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed but MERIDIAN_REQUIRE_TOOLS is set", name)
		}
		t.Skipf("%s not installed (apt-get install %s); skipping", name, pkg)
	}
}

// drScript runs examples/dr/run.sh with args in its own process group,
// every address under prefix and its files in dir, and kills the group if
// the test ends first.
type drScript struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
	err  error
}

func (s *drScript) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *drScript) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func startDRScript(t *testing.T, prefix, dir string, stdin *os.File, args ...string) *drScript {
	t.Helper()
	s := &drScript{done: make(chan struct{})}
	s.cmd = exec.Command("dr/run.sh", args...)
	s.cmd.Env = append(os.Environ(), "MERIDIAN="+testbin.Build(t), "MERIDIAN_DR_NET="+prefix, "MERIDIAN_DR_DIR="+dir)
	s.cmd.Stdout, s.cmd.Stderr, s.cmd.Stdin = s, s, stdin
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	})
	return s
}

// wait waits for the script to exit and returns its status.
func (s *drScript) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(limit):
		t.Fatalf("run.sh still running after %v\n%s", limit, s.output())
	}
	if s.err == nil {
		return 0
	}
	if ee, ok := s.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatal(s.err)
	return -1
}

// drPorts are the TCP addresses the script's processes listen on:
// each node's DNS, API and gossip, each origin's HTTP.
func drPorts(prefix string) []string {
	var out []string
	for i := 1; i <= 3; i++ {
		for _, port := range []int{5353, 8053, 7946} {
			out = append(out, fmt.Sprintf("%s.%d:%d", prefix, i, port))
		}
		for h := 1; h <= 2; h++ {
			out = append(out, fmt.Sprintf("%s.%d%d:8080", prefix, i, h))
		}
	}
	return out
}

// assertStopped checks that nothing listens on the script's addresses
// any more: everything it started has stopped.
func assertStopped(t *testing.T, prefix string) {
	t.Helper()
	for _, a := range drPorts(prefix) {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s still taken after run.sh exited: %v", a, err)
			continue
		}
		ln.Close()
	}
}

// TestDRRunScript runs the local version of docs/dr.md, examples/dr/run.sh,
// twice at once on addresses of its own (so neither takes the ports of the
// other, of make dr-demo or of another test's nodes). With --check it
// starts three nodes and six origins on loopback, checks that every node
// answers each region's clients from its own pool, that a drain and its
// undo move eu-west's clients to us-east and back, and that when eu-west's
// origins die every node fails its clients over; then it exits and nothing
// it started is left. Interactive, it says what to try, answers a command,
// and on SIGTERM stops everything it started.
func TestDRRunScript(t *testing.T) {
	requireTool(t, "bash", "bash")
	requireTool(t, "dig", "bind9-dnsutils")
	testbin.Build(t)
	// The stand-in origin, built once for both runs: the script builds it
	// when its directory has none.
	dirs := []string{t.TempDir(), t.TempDir()}
	origin := filepath.Join(dirs[0], "bin", "origin")
	if out, err := exec.Command("go", "build", "-o", origin, "./dr/origin").CombinedOutput(); err != nil {
		t.Fatalf("go build ./dr/origin: %v\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(dirs[1], "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(origin, filepath.Join(dirs[1], "bin", "origin")); err != nil {
		t.Fatal(err)
	}
	a, b := rand.IntN(100), 1+rand.IntN(250)
	prefixes := []string{fmt.Sprintf("127.%d.%d", 100+a, b), fmt.Sprintf("127.%d.%d", 200+a/2, b)}

	t.Run("check", func(t *testing.T) {
		t.Parallel()
		prefix := prefixes[0]
		s := startDRScript(t, prefix, dirs[0], nil, "--check")
		start := time.Now()
		if code := s.wait(t, 90*time.Second); code != 0 {
			t.Fatalf("run.sh --check: exit status %d\n%s", code, s.output())
		}
		out := s.output()
		t.Logf("run.sh --check took %v\n%s", time.Since(start).Round(100*time.Millisecond), out)
		for _, step := range []string{"normal", "normal", "normal", "drain", "undrain", "region-down"} {
			i := strings.Index(out, "\nok   "+step+" ")
			if i < 0 {
				t.Errorf("no step %q passed in order", step)
				continue
			}
			out = out[i+1:]
		}
		if !strings.Contains(out, "dr check: ok") {
			t.Errorf("run.sh --check did not end with dr check: ok")
		}
		assertStopped(t, prefix)
	})

	t.Run("interactive", func(t *testing.T) {
		t.Parallel()
		prefix := prefixes[1]
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		defer pw.Close()
		s := startDRScript(t, prefix, dirs[1], pr)
		testbin.Eventually(t, 30*time.Second, func() bool { return strings.Contains(s.output(), "dr> ") },
			"the prompt\n%s", s.output)
		for _, want := range []string{"http://" + prefix + ".1:8053/", "down eu-west", "drain eu-west"} {
			if !strings.Contains(s.output(), want) {
				t.Errorf("what to try lacks %q\n%s", want, s.output())
			}
		}
		fmt.Fprintln(pw, "ask")
		eu := fmt.Sprintf("%s.21 %s.22 ttl=60", prefix, prefix)
		testbin.Eventually(t, 10*time.Second, func() bool { return strings.Count(s.output(), eu) == 3 },
			"ask to show every node answering eu-west's clients %q\n%s", eu, s.output)
		// Stopped while it waits for a command, it stops what it started.
		start := time.Now()
		s.cmd.Process.Signal(syscall.SIGTERM)
		if code := s.wait(t, 20*time.Second); code != 143 {
			t.Errorf("exit status after SIGTERM: got %d; want 143\n%s", code, s.output())
		}
		t.Logf("run.sh stopped everything %v after SIGTERM", time.Since(start).Round(100*time.Millisecond))
		assertStopped(t, prefix)
	})
}

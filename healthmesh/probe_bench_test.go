package healthmesh

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testorigin"
)

// originEnv, set in the environment of a copy of this test binary, makes
// TestOriginProcess serve an HTTP origin until its stdin closes. The
// probe benchmarks and the mesh scale test run their origin that way so
// that the process CPU they measure is the prober's alone.
const originEnv = "MERIDIAN_TEST_ORIGIN_PROCESS"

// TestOriginProcess is not a test: it is the origin process of the
// benchmarks and the scale test, and skips unless originEnv is set. Each
// line on its stdin is a mode to switch to ("ok" or "500", answered on
// every path); it answers each with a line once switched.
func TestOriginProcess(t *testing.T) {
	addr := os.Getenv(originEnv)
	if addr == "" {
		t.Skip("the benchmarks' origin process; runs only when " + originEnv + " is set")
	}
	o := testorigin.NewHTTP(t, addr, "ok")
	fmt.Printf("addr %s\n", o.Addr)
	for sc := bufio.NewScanner(os.Stdin); sc.Scan(); { // until the parent is done
		switch sc.Text() {
		case "ok":
			o.SetMode(testorigin.OK)
		case "500":
			o.SetMode(testorigin.Status500)
		}
		fmt.Println("done")
	}
}

// childOrigin is an HTTP origin in a child process.
type childOrigin struct {
	Addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// CPU is the child's CPU time so far.
func (o *childOrigin) CPU() time.Duration { return procCPU(o.cmd.Process.Pid) }

// SetMode switches how the origin answers ("ok", "500") and waits until
// it has.
func (o *childOrigin) SetMode(t testing.TB, mode string) {
	t.Helper()
	if _, err := fmt.Fprintln(o.stdin, mode); err != nil {
		t.Fatal(err)
	}
	if _, err := o.out.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
}

// startOrigin starts an HTTP origin on addr in a child process (a copy of
// this test binary running TestOriginProcess).
func startOrigin(t testing.TB, addr string) *childOrigin {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOriginProcess$")
	cmd.Env = append(os.Environ(), originEnv+"="+addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	got, ok := strings.CutPrefix(strings.TrimSpace(line), "addr ")
	if err != nil || !ok {
		t.Fatalf("origin process: got %q, %v; want its address", line, err)
	}
	return &childOrigin{Addr: got, cmd: cmd, stdin: stdin, out: out}
}

// procCPU is the user and system CPU time of process pid so far, from
// /proc (0 where there is none).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th of them, in ticks.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const tick = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / tick
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProbeHTTP runs HTTP probes one after another, each on a fresh
// connection, against an origin in another process on loopback, and
// reports this process's CPU time per probe (cpu-ms/probe: the prober,
// its goroutines, the runtime and garbage collection, and the kernel's
// work on the prober's side) and the origin process's
// (origin-cpu-ms/probe, for scale). Use -benchtime 2000x or so: a probe
// costs an ephemeral port in TIME_WAIT.
func BenchmarkProbeHTTP(b *testing.B) {
	o := startOrigin(b, "127.0.0.2:0")
	ip, port := splitAddr(b, o.Addr)
	ep := Endpoint{Address: ip, Check: Check{Protocol: "HTTP", Path: "/health", Port: port, Timeout: 2 * time.Second}}
	var p Prober
	ctx := context.Background()
	if r := p.Probe(ctx, ep); !r.OK { // warm up, and check the origin answers
		b.Fatalf("probe: %q", r.Reason)
	}
	b.ReportAllocs()
	c0, o0 := processCPU(), o.CPU()
	b.ResetTimer()
	for range b.N {
		if r := p.Probe(ctx, ep); !r.OK {
			b.Fatalf("probe: %q", r.Reason)
		}
	}
	b.StopTimer()
	c1, o1 := processCPU(), o.CPU()
	b.ReportMetric(float64(c1-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/probe")
	b.ReportMetric(float64(o1-o0)/float64(time.Millisecond)/float64(b.N), "origin-cpu-ms/probe")
}

// BenchmarkCheckerHTTP is the prober as a node runs it: a Checker with
// 1000 HTTP endpoints (distinct paths of one origin in another process)
// at the default 5 s interval, that is 200 probes a second with the
// scheduling, verdicts and metrics around them. It reports this
// process's CPU time per probe over b.N probes; use -benchtime 2000x
// (10 s).
func BenchmarkCheckerHTTP(b *testing.B) {
	o := startOrigin(b, "127.0.0.2:0")
	ip, port := splitAddr(b, o.Addr)
	eps := make([]Endpoint, 1000)
	for i := range eps {
		eps[i] = Endpoint{Address: ip, Check: Check{Protocol: "HTTP", Path: fmt.Sprintf("/e%d", i), Port: port,
			Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 2}}
	}
	c := NewChecker(Options{AssumeUp: true}, nil, slog.New(slog.DiscardHandler))
	var (
		armed          atomic.Bool // Reconcile has reported the new endpoints
		probes, failed atomic.Int64
		done           = make(chan struct{})
	)
	c.notify = func(_ string, up bool, _ time.Time, _ bool) {
		if !armed.Load() {
			return
		}
		if !up {
			failed.Add(1)
		}
		if probes.Add(1) == int64(b.N) {
			close(done)
		}
	}
	b.ReportAllocs()
	c0, o0 := processCPU(), o.CPU()
	b.ResetTimer()
	c.Reconcile(eps)
	armed.Store(true)
	<-done
	b.StopTimer()
	c1, o1 := processCPU(), o.CPU()
	c.Stop()
	if n := failed.Load(); n > 0 {
		b.Errorf("%d endpoints seen down; want none", n)
	}
	b.ReportMetric(float64(c1-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/probe")
	b.ReportMetric(float64(o1-o0)/float64(time.Millisecond)/float64(b.N), "origin-cpu-ms/probe")
}

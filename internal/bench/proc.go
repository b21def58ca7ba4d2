package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Proc is a server process the benchmark started.
type Proc struct {
	Name    string
	Pid     int
	Started time.Time // just before exec

	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status, valid once done is closed

	mu    sync.Mutex // guards lines
	lines []logLine
}

type logLine struct {
	at   time.Time
	text string
}

// ProcSpec says how to start a server.
type ProcSpec struct {
	Name string
	CPUs string   // taskset CPU list ("0"); "" runs unpinned
	Argv []string // the server's command line
	Env  []string // added to the environment, e.g. GOMAXPROCS=1
}

// StartProc starts the server. Its output is kept for Logs and LineTime.
// taskset execs the server, so Pid is the server's own.
func StartProc(s ProcSpec) (*Proc, error) {
	argv := s.Argv
	if s.CPUs != "" {
		argv = append([]string{"taskset", "-c", s.CPUs}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &Proc{Name: s.Name, cmd: cmd, done: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", s.Name, err)
	}
	p.Pid = cmd.Process.Pid
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, logLine{time.Now(), sc.Text()})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	return p, nil
}

// Logs returns everything the process wrote so far.
func (p *Proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// LineTime returns when the first line containing s was read.
func (p *Proc) LineTime(s string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if strings.Contains(l.text, s) {
			return l.at, true
		}
	}
	return time.Time{}, false
}

// WaitReady polls addr with an SOA query for zone until it is answered
// with NOERROR, and returns when that was. It fails if the process exits
// first or timeout passes.
func (p *Proc) WaitReady(addr, zone string, timeout time.Duration) (time.Time, error) {
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return time.Time{}, fmt.Errorf("bench: %s exited before answering: %v\n%s", p.Name, p.err, tail(p.Logs(), 30))
		default:
		}
		if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("bench: %s did not answer on %s within %v\n%s", p.Name, addr, timeout, tail(p.Logs(), 30))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits for the exit, killing the process after
// 10 seconds.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Alive reports whether the process is still running.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

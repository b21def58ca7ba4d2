package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Perf configures one dnsperf run.
type Perf struct {
	Bin         string  // dnsperf binary
	CPUs        string  // taskset CPU list for dnsperf; "" = unpinned
	File        string  // -B query file
	Server      string  // -s
	Port        string  // -p
	Seconds     float64 // -l
	Clients     int     // -c: sockets
	Outstanding int     // -q: queries in flight at most
	Rate        int     // -Q: queries per second; 0 = as fast as answers come
	// Verbose (-v) prints every response's latency; Run then returns them.
	Verbose bool
}

// PerfResult is dnsperf's summary.
type PerfResult struct {
	Sent      int64
	Completed int64
	Lost      int64
	QPS       float64
	RunTime   time.Duration
	AvgRTT    time.Duration
	// RTTs holds the latency of every answered query (Verbose runs only).
	RTTs []time.Duration
	// Timeouts counts the queries -v reported as timed out.
	Timeouts int64
	// ClientCPU is the CPU time dnsperf itself used.
	ClientCPU time.Duration
}

// Add merges another run's figures (two dnsperf processes side by side):
// counts and rates add up, the run time is the longer one.
func (r *PerfResult) Add(o *PerfResult) {
	r.Sent += o.Sent
	r.Completed += o.Completed
	r.Lost += o.Lost
	r.QPS += o.QPS
	r.RunTime = max(r.RunTime, o.RunTime)
	if r.Completed > 0 {
		r.AvgRTT = (r.AvgRTT*time.Duration(r.Completed-o.Completed) + o.AvgRTT*time.Duration(o.Completed)) / time.Duration(r.Completed)
	}
	r.RTTs = append(r.RTTs, o.RTTs...)
	r.Timeouts += o.Timeouts
	r.ClientCPU += o.ClientCPU
}

// LossPct is the share of sent queries that got no answer, in percent.
func (r *PerfResult) LossPct() float64 {
	if r.Sent == 0 {
		return 0
	}
	return 100 * float64(r.Lost) / float64(r.Sent)
}

// Args returns dnsperf's command line, taskset included.
func (p Perf) Args() []string {
	a := []string{}
	if p.CPUs != "" {
		a = append(a, "taskset", "-c", p.CPUs)
	}
	a = append(a, p.Bin, "-B", "-d", p.File, "-s", p.Server, "-p", p.Port,
		"-l", strconv.FormatFloat(p.Seconds, 'f', -1, 64), "-t", "2")
	if p.Clients > 0 {
		a = append(a, "-c", strconv.Itoa(p.Clients))
	}
	if p.Outstanding > 0 {
		a = append(a, "-q", strconv.Itoa(p.Outstanding))
	}
	if p.Rate > 0 {
		a = append(a, "-Q", strconv.Itoa(p.Rate))
	}
	if p.Verbose {
		a = append(a, "-v")
	}
	return a
}

// Run runs dnsperf to completion and parses what it prints.
func (p Perf) Run(ctx context.Context) (*PerfResult, error) {
	args := p.Args()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: dnsperf: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: dnsperf: %w", err)
	}
	res, text, perr := parsePerf(out)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("bench: %s: %w\n%s%s", strings.Join(args, " "), err, text, stderr.String())
	}
	if perr != nil {
		return nil, fmt.Errorf("bench: %s: %w\n%s%s", strings.Join(args, " "), perr, text, stderr.String())
	}
	// taskset execs dnsperf, so this is dnsperf's own usage.
	res.ClientCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}

var perfFields = map[string]*regexp.Regexp{
	"sent":      regexp.MustCompile(`Queries sent:\s+(\d+)`),
	"completed": regexp.MustCompile(`Queries completed:\s+(\d+)`),
	"lost":      regexp.MustCompile(`Queries lost:\s+(\d+)`),
	"qps":       regexp.MustCompile(`Queries per second:\s+([\d.]+)`),
	"runtime":   regexp.MustCompile(`Run time \(s\):\s+([\d.]+)`),
	"latency":   regexp.MustCompile(`Average Latency \(s\):\s+([\d.]+)`),
}

// parsePerf reads dnsperf's output: per-response lines of -v
// ("> NOERROR binary input 0.000295", "> T ...") and the summary. It
// returns the non-verbose text too, for error messages.
func parsePerf(r io.Reader) (*PerfResult, string, error) {
	res := &PerfResult{}
	var text strings.Builder
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "> "); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				continue
			}
			if f[0] == "T" {
				res.Timeouts++
				continue
			}
			if sec, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				res.RTTs = append(res.RTTs, seconds(sec))
			}
			continue
		}
		text.WriteString(line)
		text.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, text.String(), err
	}
	s := text.String()
	vals := map[string]float64{}
	for k, re := range perfFields {
		m := re.FindStringSubmatch(s)
		if m == nil {
			return nil, s, fmt.Errorf("no %q in dnsperf output", k)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return nil, s, fmt.Errorf("dnsperf %s: %w", k, err)
		}
		vals[k] = v
	}
	res.Sent, res.Completed, res.Lost = int64(vals["sent"]), int64(vals["completed"]), int64(vals["lost"])
	res.QPS = vals["qps"]
	res.RunTime = seconds(vals["runtime"])
	res.AvgRTT = seconds(vals["latency"])
	return res, s, nil
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a benchmark run; DefaultOptions gives `make bench`'s.
type Options struct {
	Out      string // directory for the generated files and results.json; "" = a temporary one, removed afterwards
	Meridian string // meridian binary
	Gdnsd    string // gdnsd binary; "" = Meridian only
	Dnsperf  string // dnsperf binary; "" = skip the dnsperf runs

	Seconds     float64 // length of each timed dnsperf run
	Warmup      float64 // untimed load just before each timed run
	Pairs       int     // alternating Meridian/gdnsd run pairs per setup
	Clients     int     // dnsperf -c (sockets), per dnsperf process
	Outstanding int     // dnsperf -q (queries in flight), per dnsperf process

	LatencyRate    int     // queries per second of the paced latency run (dnsperf -Q -v)
	LatencySeconds float64 // length of the latency run

	ServerCPU string // taskset CPU list of the server in the one-core setup
	ClientCPU string // taskset CPU list of dnsperf in the one-core setup
	TwoCore   bool   // also run the GOMAXPROCS=2, two-listener setup

	BigZone       bool    // run the 100k-record load and reload measurement
	BigZoneRate   int     // queries per second during it
	Reloads       int     // reloads to time
	BigZoneSteady float64 // seconds of load, after the first pass, before the first reload
	BigZoneGap    float64 // seconds between a reload being served and the next SIGHUP
	Timeline      bool    // print the big-zone load per second

	Spec Spec      // the side-by-side scenario
	W    io.Writer // where the report goes
}

// DefaultOptions returns the settings `make bench` uses, with tools found
// on $PATH (Meridian's binary must still be set).
func DefaultOptions() Options {
	o := Options{
		Seconds: 10, Warmup: 2, Pairs: 5, Clients: 8, Outstanding: 200,
		LatencyRate: 10000, LatencySeconds: 5,
		ServerCPU: "0", ClientCPU: "1", TwoCore: true,
		BigZone: true, BigZoneRate: 5000, Reloads: 5, BigZoneSteady: 10, BigZoneGap: 3, Timeline: true,
		Spec: DefaultSpec(), W: os.Stdout,
	}
	o.Gdnsd, _ = exec.LookPath("gdnsd")
	if _, err := os.Stat("/usr/sbin/gdnsd"); o.Gdnsd == "" && err == nil {
		o.Gdnsd = "/usr/sbin/gdnsd"
	}
	o.Dnsperf, _ = exec.LookPath("dnsperf")
	return o
}

// Report is everything a run measured; it is also written as results.json.
type Report struct {
	Setups  []*SetupReport `json:"setups"`
	BigZone *BigZoneReport `json:"big_zone,omitempty"`
}

// SetupReport is one setup's runs (one-core, two-core).
type SetupReport struct {
	Title       string         `json:"title"`
	Equivalence *Equivalence   `json:"equivalence,omitempty"` // nil without gdnsd
	Runs        []*RunResult   `json:"runs"`
	Medians     map[string]Row `json:"medians"` // by server
	Ratios      Row            `json:"ratios"`  // median of per-pair Meridian/gdnsd ratios
	CPURatioMet *bool          `json:"cpu_target_met,omitempty"`
}

// Row is the figures of one run, or their medians or ratios.
type Row struct {
	QPS        float64 `json:"qps"`                       // dnsperf's queries per second
	LossPct    float64 `json:"loss_pct"`                  // queries lost, % of sent
	CPUPerQ    float64 `json:"cpu_us_per_answered_query"` // server utime+stime per answered query, µs
	CPUPct     float64 `json:"server_cpu_pct"`            // server CPU over dnsperf's run time, % of one CPU
	IRQPerQ    float64 `json:"irq_us_per_answered_query"` // irq+softirq on the server's CPUs per answered query, µs
	IRQPct     float64 `json:"irq_pct"`                   // the same over dnsperf's run time, % of one CPU
	OtherPct   float64 `json:"other_cpu_pct"`             // other processes and steal on the server's CPUs, % of one CPU
	P50        float64 `json:"p50_us"`                    // latency run, µs
	P99        float64 `json:"p99_us"`                    // latency run, µs
	RSSMB      float64 `json:"rss_mb"`                    // VmRSS after the run, MiB
	HWMMB      float64 `json:"peak_rss_mb"`               // VmHWM after the run, MiB
	LatencyQPS int     `json:"latency_run_qps"`           // rate of the latency run
}

// RunResult is one timed run against one server.
type RunResult struct {
	Server string        `json:"server"`
	Pair   int           `json:"pair"`
	Perf   *PerfResult   `json:"-"`
	CPU    time.Duration `json:"cpu_ns"`       // server CPU time during the timed run
	Wall   time.Duration `json:"wall_ns"`      // wall time around the timed dnsperf run(s)
	IRQ    time.Duration `json:"irq_ns"`       // irq and softirq time on the server's CPUs: network work charged to no process
	Other  time.Duration `json:"other_cpu_ns"` // process time on the server's CPUs used by neither the server nor dnsperf
	Steal  time.Duration `json:"steal_ns"`     // CPU time the hypervisor took from the server's CPUs
	Lat    LatencyStats  `json:"latency"`
	Mem    Memory        `json:"memory"`
	Row    Row           `json:"row"`
}

func (r *RunResult) row(rate int) Row {
	row := Row{QPS: r.Perf.QPS, LossPct: r.Perf.LossPct(), P50: float64(r.Lat.P50.Microseconds()),
		P99: float64(r.Lat.P99.Microseconds()), RSSMB: float64(r.Mem.RSS) / (1 << 20), HWMMB: float64(r.Mem.HWM) / (1 << 20),
		LatencyQPS: rate}
	if r.Perf.Completed > 0 {
		row.CPUPerQ = float64(r.CPU.Microseconds()) / float64(r.Perf.Completed)
		row.IRQPerQ = float64(r.IRQ.Microseconds()) / float64(r.Perf.Completed)
	}
	// dnsperf's run time, not the wall time around it: dnsperf starts up
	// and waits for its last answers while the server idles.
	if t := r.Perf.RunTime.Seconds(); t > 0 {
		row.CPUPct = 100 * r.CPU.Seconds() / t
		row.IRQPct = 100 * r.IRQ.Seconds() / t
	}
	// Other processes run whether or not the load does.
	if t := r.Wall.Seconds(); t > 0 {
		row.OtherPct = 100 * (r.Other + r.Steal).Seconds() / t
	}
	return row
}

// CPUTarget is the goal: Meridian's CPU per answered query at most this
// times gdnsd's, on the one-core setup.
const CPUTarget = 1.25

// Run generates the scenario, checks that both servers answer alike, runs
// the timed pairs of every setup and the big-zone measurement, and prints
// the report to o.W as it goes.
func Run(ctx context.Context, o Options) (*Report, error) {
	w := o.W
	dir := o.Out
	if dir == "" {
		d, err := os.MkdirTemp("", "gslbbench-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	// Generated configs name files by absolute path.
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	l := Listeners{
		Meridian:  []string{hostPort("127.0.0.1", ports[0])},
		Meridian2: []string{hostPort("127.0.0.1", ports[1]), hostPort("127.0.0.2", ports[1])},
		Gdnsd:     []string{hostPort("127.0.0.1", ports[2])},
		Gdnsd2:    []string{hostPort("127.0.0.1", ports[3]), hostPort("127.0.0.2", ports[3])},
	}
	s := NewScenario(o.Spec)
	lay, err := Generate(filepath.Join(dir, "side-by-side"), s, l)
	if err != nil {
		return nil, err
	}
	printHeader(w, o, s, lay)
	rep := &Report{}
	switch {
	case o.Dnsperf == "":
		fmt.Fprintln(w, "\nno dnsperf (not installed: apt-get install dnsperf; or -side-by-side=false): skipping the side-by-side runs.")
	case runtime.NumCPU() < 2:
		fmt.Fprintln(w, "\nfewer than 2 CPUs: cannot pin the server and dnsperf apart; skipping the side-by-side runs.")
	default:
		for _, st := range setups(o, lay, l) {
			sr, err := runSetup(ctx, o, st, s)
			if err != nil {
				return nil, err
			}
			rep.Setups = append(rep.Setups, sr)
		}
	}
	if o.BigZone {
		bz, err := RunBigZone(ctx, o, filepath.Join(dir, "big-zone"))
		if err != nil {
			return nil, err
		}
		rep.BigZone = bz
	}
	if o.Out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		path := filepath.Join(dir, "results.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		fmt.Fprintf(w, "\nfiles and results.json: %s\n", dir)
	}
	return rep, nil
}

func printHeader(w io.Writer, o Options, s *Scenario, lay *Layout) {
	var names, dyn int
	for _, z := range s.Zones {
		names += len(z.Static)
		dyn += len(z.Geo) + len(z.Weighted) + len(z.Failover)
	}
	fmt.Fprintf(w, "GSLB side-by-side benchmark: %d zones, %d static names, %d dynamic records, %d geo networks\n",
		len(s.Zones), names, dyn, len(s.Networks))
	var parts []string
	for c := range numClasses {
		parts = append(parts, fmt.Sprintf("%s %d%%", c, Mix[c]))
	}
	fmt.Fprintf(w, "query file: %d distinct queries (%s), EDNS on all, ECS on part; %s\n",
		len(s.Queries), strings.Join(parts, ", "), lay.QueryFile)
	fmt.Fprintf(w, "meridian: %s (%s)\n", o.Meridian, toolVersion(o.Meridian, "version"))
	switch {
	case o.Gdnsd == "":
		fmt.Fprintln(w, "gdnsd: not installed — Meridian-only run (apt-get install gdnsd for the comparison)")
	default:
		fmt.Fprintf(w, "gdnsd: %s\n", o.Gdnsd)
	}
	if o.Dnsperf != "" {
		fmt.Fprintf(w, "dnsperf: %s; %d CPUs; CPU time from /proc/<pid>/stat in %v ticks\n", o.Dnsperf, runtime.NumCPU(), TickDuration())
	}
}

func toolVersion(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		return "version unknown"
	}
	return strings.TrimSpace(string(out))
}

// setup is one way of running both servers and the load.
type setup struct {
	title       string
	key         string // short name in results
	meridian    ProcSpec
	mAddrs      []string
	gdnsd       ProcSpec
	gAddrs      []string
	clientCPUs  string
	queryFile   string
	description string
}

func setups(o Options, lay *Layout, l Listeners) []setup {
	one := setup{
		title: "one core", key: "one-core",
		meridian: ProcSpec{Name: "meridian", CPUs: o.ServerCPU, Env: []string{"GOMAXPROCS=1"},
			Argv: []string{o.Meridian, "serve", "--config", lay.Meridian}},
		mAddrs: l.Meridian,
		gdnsd:  ProcSpec{Name: "gdnsd", CPUs: o.ServerCPU, Argv: []string{o.Gdnsd, "-c", lay.Gdnsd, "start"}},
		gAddrs: l.Gdnsd, clientCPUs: o.ClientCPU, queryFile: lay.QueryFile,
		description: fmt.Sprintf("server pinned to CPU %s (Meridian GOMAXPROCS=1; gdnsd 1 UDP thread), dnsperf pinned to CPU %s",
			o.ServerCPU, o.ClientCPU),
	}
	sets := []setup{one}
	if o.TwoCore {
		sets = append(sets, setup{
			title: "two cores, two listeners", key: "two-core",
			meridian: ProcSpec{Name: "meridian", Env: []string{"GOMAXPROCS=2"},
				Argv: []string{o.Meridian, "serve", "--config", lay.Meridian2}},
			mAddrs: l.Meridian2,
			gdnsd:  ProcSpec{Name: "gdnsd", Argv: []string{o.Gdnsd, "-c", lay.Gdnsd2, "start"}},
			gAddrs: l.Gdnsd2, queryFile: lay.QueryFile,
			description: "nothing pinned: the server (Meridian GOMAXPROCS=2; gdnsd 1 UDP thread per listener) listens on " +
				"127.0.0.1 and 127.0.0.2 (same port) and shares both CPUs with two dnsperf processes, one per address",
		})
	}
	return sets
}

func runSetup(ctx context.Context, o Options, st setup, s *Scenario) (*SetupReport, error) {
	w := o.W
	sr := &SetupReport{Title: st.title, Medians: map[string]Row{}}
	perf := Perf{Bin: o.Dnsperf, CPUs: st.clientCPUs, File: st.queryFile, Seconds: o.Seconds, Clients: o.Clients, Outstanding: o.Outstanding}
	fmt.Fprintf(w, "\n== %s: %s ==\n", st.title, st.description)
	fmt.Fprintf(w, "load: %s (per address), %gs warm-up then %gs timed; latency: a separate run paced at %d qps for %gs (dnsperf -v)\n",
		strings.Join(perf.withTarget(st.mAddrs[0], o.Seconds, 0, false).Args(), " "), o.Warmup, o.Seconds, o.LatencyRate, o.LatencySeconds)

	zone := s.Zones[0].Origin
	m, err := startServer(st.meridian, st.mAddrs, zone)
	if err != nil {
		return nil, err
	}
	defer m.Stop()
	servers := []*Proc{m}
	addrs := map[*Proc][]string{m: st.mAddrs}
	if o.Gdnsd != "" {
		g, err := startServer(st.gdnsd, st.gAddrs, zone)
		if err != nil {
			return nil, err
		}
		defer g.Stop()
		servers = append(servers, g)
		addrs[g] = st.gAddrs
		for i := range st.mAddrs {
			eq, err := CheckEquivalence(ctx, s.Queries, st.mAddrs[i], st.gAddrs[i])
			if err != nil {
				return nil, err
			}
			if i == 0 {
				eq.Print(w, 20)
				sr.Equivalence = eq
			}
			if !eq.OK() {
				if i > 0 {
					eq.Print(w, 20)
				}
				return nil, errors.New("bench: the servers do not answer alike; not timing them (see the differences above)")
			}
		}
	} else {
		fmt.Fprintln(w, "gdnsd not installed: Meridian only, no equivalence check")
	}

	fmt.Fprintf(w, "%-4s %-8s %9s %10s %6s %9s %6s %5s %6s %8s %8s %7s %7s\n",
		"pair", "server", "qps", "answered", "lost%", "cpu µs/q", "cpu%", "irq%", "other%", "p50", "p99", "RSS MB", "HWM MB")
	for pair := 1; pair <= o.Pairs; pair++ {
		for _, p := range servers {
			r, err := timedRun(ctx, o, perf, p, addrs[p], st.meridian.CPUs)
			if err != nil {
				return nil, err
			}
			r.Pair = pair
			r.Row = r.row(o.LatencyRate)
			sr.Runs = append(sr.Runs, r)
			fmt.Fprintf(w, "%-4d %-8s %9.0f %10d %6.2f %9.2f %6.1f %5.1f %6.1f %8s %8s %7s %7s\n", pair, r.Server, r.Perf.QPS, r.Perf.Completed,
				r.Perf.LossPct(), r.Row.CPUPerQ, r.Row.CPUPct, r.Row.IRQPct, r.Row.OtherPct, us(r.Lat.P50), us(r.Lat.P99), mb(r.Mem.RSS), mb(r.Mem.HWM))
		}
	}
	summarise(w, sr, st.key == "one-core")
	return sr, nil
}

func startServer(ps ProcSpec, addrs []string, zone string) (*Proc, error) {
	p, err := StartProc(ps)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if _, err := p.WaitReady(a, zone, 60*time.Second); err != nil {
			p.Stop()
			return nil, err
		}
	}
	return p, nil
}

func (p Perf) withTarget(addr string, seconds float64, rate int, verbose bool) Perf {
	host, port, _ := net.SplitHostPort(addr)
	p.Server, p.Port, p.Seconds, p.Rate, p.Verbose = host, port, seconds, rate, verbose
	return p
}

// parallel runs one dnsperf per address at once and adds up the results.
func parallel(ctx context.Context, base Perf, addrs []string, seconds float64, rate int, verbose bool) (*PerfResult, error) {
	results := make([]*PerfResult, len(addrs))
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = base.withTarget(a, seconds, rate, verbose).Run(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	total := results[0]
	for _, r := range results[1:] {
		total.Add(r)
	}
	return total, nil
}

// timedRun warms the server up, then times one dnsperf run (per address)
// while reading the server's CPU time, then measures latency in a
// separate paced run.
//
// cpus are the CPUs the server is pinned to ("" = not pinned): the run
// also reports how busy they were with anything but the server (and
// dnsperf, when it shares them), to show interference.
func timedRun(ctx context.Context, o Options, base Perf, p *Proc, addrs []string, cpus string) (*RunResult, error) {
	if o.Warmup > 0 {
		if _, err := parallel(ctx, base, addrs, o.Warmup, 0, false); err != nil {
			return nil, err
		}
	}
	watch, err := parseCPUList(cpus)
	if err != nil {
		return nil, err
	}
	sys0, err := ReadSystemCPU(watch)
	if err != nil {
		return nil, err
	}
	cpu0, err := CPUTime(p.Pid)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	res, err := parallel(ctx, base, addrs, o.Seconds, 0, false)
	if err != nil {
		return nil, err
	}
	wall := time.Since(t0)
	cpu1, err := CPUTime(p.Pid)
	if err != nil {
		return nil, err
	}
	sys1, err := ReadSystemCPU(watch)
	if err != nil {
		return nil, err
	}
	r := &RunResult{Server: p.Name, Perf: res, CPU: cpu1 - cpu0, Wall: wall,
		IRQ: sys1.IRQ - sys0.IRQ, Steal: sys1.Steal - sys0.Steal}
	// What other processes ran on the server's CPUs: with every CPU
	// watched, dnsperf runs there too and is not "other".
	r.Other = sys1.Task - sys0.Task - r.CPU
	if watch == nil {
		r.Other -= res.ClientCPU
	}
	r.Other = max(r.Other, 0)
	if o.LatencyRate > 0 && o.LatencySeconds > 0 {
		lat, err := parallel(ctx, base, addrs, o.LatencySeconds, max(o.LatencyRate/len(addrs), 1), true)
		if err != nil {
			return nil, err
		}
		r.Lat = Latencies(lat.RTTs)
		r.Lat.Lost = int(lat.Lost)
	}
	if r.Mem, err = ReadMemory(p.Pid); err != nil {
		return nil, err
	}
	if !p.Alive() {
		return nil, fmt.Errorf("bench: %s exited during the run\n%s", p.Name, tail(p.Logs(), 30))
	}
	return r, nil
}

// summarise prints the medians per server and the median of the per-pair
// ratios, and records them in sr.
func summarise(w io.Writer, sr *SetupReport, cpuTarget bool) {
	by := map[string][]Row{}
	for _, r := range sr.Runs {
		by[r.Server] = append(by[r.Server], r.Row)
	}
	for name, rows := range by {
		sr.Medians[name] = medianRow(rows)
	}
	m, g := by["meridian"], by["gdnsd"]
	var ratios []Row
	for i := range min(len(m), len(g)) {
		ratios = append(ratios, ratioRow(m[i], g[i]))
	}
	sr.Ratios = medianRow(ratios)
	fields := []struct {
		name string
		get  func(Row) float64
		unit string
	}{
		{"qps", func(r Row) float64 { return r.QPS }, "%.0f"},
		{"lost %", func(r Row) float64 { return r.LossPct }, "%.2f"},
		{"server CPU µs per answered query", func(r Row) float64 { return r.CPUPerQ }, "%.2f"},
		{"server CPU %", func(r Row) float64 { return r.CPUPct }, "%.1f"},
		{"irq+softirq µs per answered query", func(r Row) float64 { return r.IRQPerQ }, "%.2f"},
		{"p50 latency µs (paced run)", func(r Row) float64 { return r.P50 }, "%.0f"},
		{"p99 latency µs (paced run)", func(r Row) float64 { return r.P99 }, "%.0f"},
		{"RSS MB after the run", func(r Row) float64 { return r.RSSMB }, "%.1f"},
		{"peak RSS MB (VmHWM)", func(r Row) float64 { return r.HWMMB }, "%.1f"},
	}
	fmt.Fprintf(w, "\nsummary, median of %d runs each    %12s %12s %16s\n", len(m), "meridian", "gdnsd", "meridian/gdnsd")
	for _, f := range fields {
		gv, rv := "-", "-"
		if len(g) > 0 {
			gv = fmt.Sprintf(f.unit, f.get(sr.Medians["gdnsd"]))
			rv = fmt.Sprintf("%.2f", f.get(sr.Ratios))
		}
		fmt.Fprintf(w, "  %-34s %12s %12s %16s\n", f.name, fmt.Sprintf(f.unit, f.get(sr.Medians["meridian"])), gv, rv)
	}
	if len(g) > 0 {
		fmt.Fprintln(w, "  (the ratio column is the median of the per-pair ratios, so drift between pairs cancels)")
	}
	if cpuTarget && len(g) > 0 {
		met := sr.Ratios.CPUPerQ <= CPUTarget
		sr.CPURatioMet = &met
		verdict := "met"
		if !met {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "target: CPU per answered query <= %.2f x gdnsd's: ratio %.2f — %s\n", CPUTarget, sr.Ratios.CPUPerQ, verdict)
	}
}

func medianRow(rows []Row) Row {
	col := func(get func(Row) float64) float64 {
		xs := make([]float64, len(rows))
		for i, r := range rows {
			xs[i] = get(r)
		}
		return median(xs)
	}
	r := Row{
		QPS:      col(func(r Row) float64 { return r.QPS }),
		LossPct:  col(func(r Row) float64 { return r.LossPct }),
		CPUPerQ:  col(func(r Row) float64 { return r.CPUPerQ }),
		CPUPct:   col(func(r Row) float64 { return r.CPUPct }),
		IRQPerQ:  col(func(r Row) float64 { return r.IRQPerQ }),
		IRQPct:   col(func(r Row) float64 { return r.IRQPct }),
		OtherPct: col(func(r Row) float64 { return r.OtherPct }),
		P50:      col(func(r Row) float64 { return r.P50 }),
		P99:      col(func(r Row) float64 { return r.P99 }),
		RSSMB:    col(func(r Row) float64 { return r.RSSMB }),
		HWMMB:    col(func(r Row) float64 { return r.HWMMB }),
	}
	if len(rows) > 0 {
		r.LatencyQPS = rows[0].LatencyQPS
	}
	return r
}

func ratioRow(a, b Row) Row {
	div := func(x, y float64) float64 {
		if y == 0 {
			return 0
		}
		return x / y
	}
	return Row{QPS: div(a.QPS, b.QPS), LossPct: div(a.LossPct, b.LossPct), CPUPerQ: div(a.CPUPerQ, b.CPUPerQ),
		CPUPct: div(a.CPUPct, b.CPUPct), IRQPerQ: div(a.IRQPerQ, b.IRQPerQ), P50: div(a.P50, b.P50), P99: div(a.P99, b.P99),
		RSSMB: div(a.RSSMB, b.RSSMB), HWMMB: div(a.HWMMB, b.HWMMB)}
}

// freePorts finds n ports free for UDP and TCP on both 127.0.0.1 and
// 127.0.0.2. Another process could take one before the servers bind it;
// the servers then fail to start and say so.
func freePorts(n int) ([]int, error) {
	var ports []int
	for tries := 0; len(ports) < n && tries < 100; tries++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ok := true
		var closers []io.Closer
		for _, h := range []string{"127.0.0.1", "127.0.0.2"} {
			if h != "127.0.0.1" {
				c, err := net.ListenPacket("udp", hostPort(h, port))
				if err != nil {
					ok = false
					break
				}
				closers = append(closers, c)
			}
			c, err := net.Listen("tcp", hostPort(h, port))
			if err != nil {
				ok = false
				break
			}
			closers = append(closers, c)
		}
		for _, c := range closers {
			c.Close()
		}
		pc.Close()
		if ok {
			ports = append(ports, port)
		}
	}
	if len(ports) < n {
		return nil, errors.New("bench: no free ports on 127.0.0.1 and 127.0.0.2")
	}
	return ports, nil
}

func hostPort(h string, port int) string { return net.JoinHostPort(h, strconv.Itoa(port)) }

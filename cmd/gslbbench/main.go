// Command gslbbench runs the side-by-side benchmark of Meridian and gdnsd
// (`make bench`); see internal/bench/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/meridiandns/meridian/internal/bench"
)

func main() {
	os.Exit(run())
}

func run() int {
	o := bench.DefaultOptions()
	flag.StringVar(&o.Out, "out", "", "directory for generated files and results.json (default: a temporary directory, removed)")
	flag.StringVar(&o.Meridian, "meridian", "", "meridian binary (default: go build ./cmd/meridian)")
	flag.StringVar(&o.Gdnsd, "gdnsd", o.Gdnsd, `gdnsd binary; "" runs Meridian only`)
	flag.StringVar(&o.Dnsperf, "dnsperf", o.Dnsperf, `dnsperf binary; "" skips the dnsperf runs`)
	flag.Float64Var(&o.Seconds, "seconds", o.Seconds, "length of each timed run")
	flag.Float64Var(&o.Warmup, "warmup", o.Warmup, "untimed load before each timed run, seconds")
	flag.IntVar(&o.Pairs, "pairs", o.Pairs, "alternating Meridian/gdnsd run pairs per setup")
	flag.IntVar(&o.Clients, "clients", o.Clients, "dnsperf -c")
	flag.IntVar(&o.Outstanding, "outstanding", o.Outstanding, "dnsperf -q")
	flag.IntVar(&o.LatencyRate, "latency-rate", o.LatencyRate, "queries per second of the paced latency run; 0 skips it")
	flag.Float64Var(&o.LatencySeconds, "latency-seconds", o.LatencySeconds, "length of the latency run")
	flag.StringVar(&o.ServerCPU, "server-cpu", o.ServerCPU, "CPU the server is pinned to in the one-core setup")
	flag.StringVar(&o.ClientCPU, "client-cpu", o.ClientCPU, "CPU dnsperf is pinned to in the one-core setup")
	flag.BoolVar(&o.TwoCore, "two-core", o.TwoCore, "also run the GOMAXPROCS=2, two-listener setup")
	sideBySide := flag.Bool("side-by-side", true, "run the dnsperf side-by-side setups")
	flag.BoolVar(&o.BigZone, "big-zone", o.BigZone, "run the 100k-record load and reload measurement")
	flag.IntVar(&o.BigZoneRate, "big-zone-rate", o.BigZoneRate, "queries per second during the reload measurement")
	flag.IntVar(&o.Reloads, "reloads", o.Reloads, "reloads to time in the big-zone measurement")
	flag.Float64Var(&o.BigZoneSteady, "big-zone-steady", o.BigZoneSteady, "seconds of load before the first reload")
	flag.Float64Var(&o.BigZoneGap, "big-zone-gap", o.BigZoneGap, "seconds between a reload being served and the next")
	flag.BoolVar(&o.Timeline, "timeline", o.Timeline, "print the big-zone latency and loss per second")
	flag.IntVar(&o.Spec.Queries, "queries", o.Spec.Queries, "distinct queries in the query file")
	genOnly := flag.Bool("gen-only", false, "write the scenario's files into -out and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gslbbench: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		return 2
	}

	if *genOnly {
		if o.Out == "" {
			fmt.Fprintln(os.Stderr, "gslbbench: -gen-only needs -out")
			return 2
		}
		lay, err := bench.Generate(o.Out, bench.NewScenario(o.Spec), bench.DefaultListeners())
		if err != nil {
			fmt.Fprintln(os.Stderr, "gslbbench:", err)
			return 1
		}
		fmt.Printf("meridian config: %s\ngdnsd config dir: %s\nquery file: %s\n", lay.Meridian, lay.Gdnsd, lay.QueryFile)
		return 0
	}
	if !*sideBySide {
		o.Dnsperf = ""
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if o.Meridian == "" {
		bin, cleanup, err := buildMeridian()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gslbbench:", err)
			return 1
		}
		defer cleanup()
		o.Meridian = bin
	}
	if _, err := bench.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "gslbbench:", err)
		return 1
	}
	return 0
}

// buildMeridian builds ./cmd/meridian of the enclosing module into a
// temporary directory.
func buildMeridian() (string, func(), error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", nil, fmt.Errorf("not inside the meridian module; pass -meridian")
	}
	dir, err := os.MkdirTemp("", "gslbbench-bin-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "meridian")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/meridian")
	cmd.Dir = filepath.Dir(mod)
	if b, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build: %w\n%s", err, b)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

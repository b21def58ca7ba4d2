package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// dnsperf 2.10.0 output, cut down, with -v lines.
const perfOutput = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -B -d queries.bin -s 127.0.0.1 -p 15303 -v -l 1 -Q 3
[Status] Sending queries (to 127.0.0.1:15303)
> NOERROR binary input 0.000295
> NXDOMAIN binary input 0.000170
> T binary input
[Timeout] Query timed out: msg id 60090
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         3
  Queries completed:    2 (66.67%)
  Queries lost:         1 (33.33%)

  Response codes:       NOERROR 1 (50.00%), NXDOMAIN 1 (50.00%)
  Average packet size:  request 58, response 83
  Run time (s):         1.000160
  Queries per second:   1.999680

  Average Latency (s):  0.000232 (min 0.000170, max 0.000295)
  Latency StdDev (s):   0.000088
`

func TestParsePerf(t *testing.T) {
	r, _, err := parsePerf(strings.NewReader(perfOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 3 || r.Completed != 2 || r.Lost != 1 || r.Timeouts != 1 {
		t.Errorf("counts: got %+v", r)
	}
	if r.QPS != 1.99968 || r.RunTime != 1000160*time.Microsecond || r.AvgRTT != 232*time.Microsecond {
		t.Errorf("rates: got qps %v, run time %v, avg %v", r.QPS, r.RunTime, r.AvgRTT)
	}
	if want := []time.Duration{295 * time.Microsecond, 170 * time.Microsecond}; !slices.Equal(r.RTTs, want) {
		t.Errorf("RTTs: got %v, want %v", r.RTTs, want)
	}
	if _, _, err := parsePerf(strings.NewReader("Queries sent: 3\n")); err == nil {
		t.Error("a cut summary: want an error")
	}
}

func TestPerfArgs(t *testing.T) {
	p := Perf{Bin: "dnsperf", CPUs: "1", File: "q.bin", Clients: 8, Outstanding: 200}.withTarget("127.0.0.2:5353", 10, 500, true)
	got := strings.Join(p.Args(), " ")
	want := "taskset -c 1 dnsperf -B -d q.bin -s 127.0.0.2 -p 5353 -l 10 -t 2 -c 8 -q 200 -Q 500 -v"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestPerfResultAdd(t *testing.T) {
	a := &PerfResult{Sent: 10, Completed: 10, QPS: 100, AvgRTT: 100 * time.Microsecond, RunTime: time.Second}
	a.Add(&PerfResult{Sent: 30, Completed: 30, Lost: 2, QPS: 300, AvgRTT: 200 * time.Microsecond, RunTime: 2 * time.Second})
	if a.Sent != 40 || a.Completed != 40 || a.Lost != 2 || a.QPS != 400 || a.RunTime != 2*time.Second || a.AvgRTT != 175*time.Microsecond {
		t.Errorf("got %+v", a)
	}
	if got, want := a.LossPct(), 5.0; got != want {
		t.Errorf("loss: got %v%%, want %v%%", got, want)
	}
}

func TestStats(t *testing.T) {
	var rtts []time.Duration
	for i := 100; i >= 1; i-- {
		rtts = append(rtts, time.Duration(i)*time.Microsecond)
	}
	st := Latencies(rtts)
	if st.N != 100 || st.P50 != 50*time.Microsecond || st.P99 != 99*time.Microsecond || st.Max != 100*time.Microsecond {
		t.Errorf("got %+v", st)
	}
	if got := median([]float64{3, 1, 2, 10}); got != 2.5 {
		t.Errorf("median: got %v, want 2.5", got)
	}
	if got := ratioRow(Row{CPUPerQ: 5}, Row{CPUPerQ: 4}).CPUPerQ; got != 1.25 {
		t.Errorf("ratio: got %v, want 1.25", got)
	}
}

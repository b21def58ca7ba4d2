package bench

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses; utime and stime
	// are fields 14 and 15.
	stat := "4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 3 0 100 1000000 500 18446744073709551615"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 300 * TickDuration(); got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 12 13"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestParseStatus(t *testing.T) {
	in := "Name:\tgdnsd\nVmPeak:\t  100 kB\nVmHWM:\t   2048 kB\nVmRSS:\t   1024 kB\nThreads:\t4\n"
	m, err := parseStatus(bufio.NewScanner(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m, (Memory{RSS: 1 << 20, HWM: 2 << 20}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestOwnProcess(t *testing.T) {
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // burn a little CPU
	}
	cpu, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 || m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("got CPU %v, memory %+v", cpu, m)
	}
}

func TestParseProcStat(t *testing.T) {
	stat := `cpu  100 5 50 1000 7 3 2 11 0 0
cpu0 60 5 30 500 3 2 1 6 0 0
cpu1 40 0 20 500 4 1 1 5 0 0
intr 12345
`
	tick := TickDuration()
	for _, tt := range []struct {
		cpus             []int
		task, irq, steal time.Duration
	}{
		{nil, 155 * tick, 5 * tick, 11 * tick},
		{[]int{0}, 95 * tick, 3 * tick, 6 * tick},
		{[]int{0, 1}, 155 * tick, 5 * tick, 11 * tick},
	} {
		got, err := parseProcStat(stat, tt.cpus)
		if err != nil {
			t.Fatal(err)
		}
		if want := (SystemCPU{Task: tt.task, IRQ: tt.irq, Steal: tt.steal}); got != want {
			t.Errorf("CPUs %v: got %+v, want %+v", tt.cpus, got, want)
		}
	}
	if _, err := parseProcStat(stat, []int{2}); err == nil {
		t.Error("CPU 2 does not exist: want an error")
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string]string{"": "[]", "0": "[0]", "0,2": "[0 2]", "1-3": "[1 2 3]"} {
		got, err := parseCPUList(in)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != want {
			t.Errorf("%q: got %v, want %s", in, got, want)
		}
	}
	if _, err := parseCPUList("x"); err == nil {
		t.Error("want an error")
	}
}

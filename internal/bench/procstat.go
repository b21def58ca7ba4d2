package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is the kernel's USER_HZ (getconf CLK_TCK), the unit of the
// CPU times in /proc/<pid>/stat; 100 when getconf is missing.
var clockTicks = sync.OnceValue(func() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
})

// TickDuration is the resolution of CPUTime.
func TickDuration() time.Duration { return time.Second / time.Duration(clockTicks()) }

// CPUTime returns the user plus system CPU time process pid has used,
// over all its threads, from /proc/<pid>/stat.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line. The command name (field 2) may contain spaces
// and parentheses, so fields are counted from its closing parenthesis.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc stat %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc stat %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * TickDuration(), nil
}

// Memory is a process's resident memory, from /proc/<pid>/status.
type Memory struct {
	RSS int64 // VmRSS, bytes: resident now
	HWM int64 // VmHWM, bytes: the peak resident size so far
}

// ReadMemory reads VmRSS and VmHWM of process pid.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	return parseStatus(bufio.NewScanner(f))
}

func parseStatus(sc *bufio.Scanner) (Memory, error) {
	var m Memory
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v) // "1234 kB"
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("bench: /proc status: unexpected %s line %q", k, v)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("bench: /proc status: %w", err)
		}
		if k == "VmRSS" {
			m.RSS = n << 10
		} else {
			m.HWM = n << 10
		}
	}
	return m, sc.Err()
}

// SystemCPU is CPU time from /proc/stat, summed over some CPUs.
type SystemCPU struct {
	Task  time.Duration // user, nice, system: time charged to processes
	IRQ   time.Duration // irq, softirq: kernel work charged to no process (network receive and transmit, mostly)
	Steal time.Duration // taken by the hypervisor
}

// ReadSystemCPU sums /proc/stat over cpus (nil = every CPU).
func ReadSystemCPU(cpus []int) (SystemCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return SystemCPU{}, fmt.Errorf("bench: %w", err)
	}
	return parseProcStat(string(b), cpus)
}

func parseProcStat(stat string, cpus []int) (SystemCPU, error) {
	var s SystemCPU
	found := 0
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if cpus == nil {
			if f[0] != "cpu" {
				continue
			}
		} else {
			n, err := strconv.Atoi(strings.TrimPrefix(f[0], "cpu"))
			if err != nil || !slices.Contains(cpus, n) {
				continue
			}
		}
		found++
		var v [8]int64
		for i := range v {
			x, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				return s, fmt.Errorf("bench: /proc/stat: %w", err)
			}
			v[i] = x
		}
		// user nice system idle iowait irq softirq steal
		s.Task += time.Duration(v[0]+v[1]+v[2]) * TickDuration()
		s.IRQ += time.Duration(v[5]+v[6]) * TickDuration()
		s.Steal += time.Duration(v[7]) * TickDuration()
	}
	if found == 0 || (cpus != nil && found != len(cpus)) {
		return s, fmt.Errorf("bench: /proc/stat: CPUs %v not found", cpus)
	}
	return s, nil
}

// parseCPUList reads a taskset CPU list ("0", "0,2", "1-3"); "" = nil
// (every CPU).
func parseCPUList(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bench: CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("bench: CPU list %q: %w", s, err)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

package bench

import (
	"fmt"
	"slices"
	"time"
)

// LatencyStats summarises a set of round trips.
type LatencyStats struct {
	N             int // answered
	Lost          int
	P50, P99, Max time.Duration
}

// Latencies computes the percentiles of rtts (nearest rank). rtts is
// sorted in place.
func Latencies(rtts []time.Duration) LatencyStats {
	st := LatencyStats{N: len(rtts)}
	if len(rtts) == 0 {
		return st
	}
	slices.Sort(rtts)
	st.P50 = percentile(rtts, 50)
	st.P99 = percentile(rtts, 99)
	st.Max = rtts[len(rtts)-1]
	return st
}

// percentile returns the nearest-rank p-th percentile of sorted xs.
func percentile(xs []time.Duration, p float64) time.Duration {
	i := int(float64(len(xs))*p/100+0.5) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

func (s LatencyStats) String() string {
	if s.N == 0 {
		return fmt.Sprintf("no answers, %d lost", s.Lost)
	}
	return fmt.Sprintf("p50 %s  p99 %s  max %s  (%d answered, %d lost)", us(s.P50), us(s.P99), us(s.Max), s.N, s.Lost)
}

// median returns the median of xs (the mean of the middle two for an
// even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// us formats d in microseconds, or milliseconds from 10 ms up.
func us(d time.Duration) string {
	if d >= 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", d.Seconds()*1e3)
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

// mb formats bytes in MiB.
func mb(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

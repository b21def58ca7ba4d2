package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Pacer sends queries at a fixed rate over one UDP socket and times each
// answer. Unlike dnsperf it records when every query was sent, so the
// latencies of queries sent during a reload can be told from the others.
type Pacer struct {
	Addr    string        // server host:port
	Rate    int           // queries per second
	Queries [][]byte      // packed queries, sent in turn; their IDs are overwritten
	Timeout time.Duration // an answer later than this counts as lost
	Max     time.Duration // capacity: Run stops after this long at the latest
}

// PaceResult holds one entry per query sent, in order.
type PaceResult struct {
	Start time.Time
	Sent  []time.Duration // send time, since Start
	RTT   []time.Duration // round trip; -1 = lost
}

// Run sends until ctx ends (or p.Max passes), then waits p.Timeout for the
// last answers.
func (p *Pacer) Run(ctx context.Context) (*PaceResult, error) {
	if p.Rate <= 0 || len(p.Queries) == 0 {
		return nil, errors.New("bench: pacer needs a rate and queries")
	}
	conn, err := net.Dial("udp", p.Addr)
	if err != nil {
		return nil, fmt.Errorf("bench: pacer: %w", err)
	}
	defer conn.Close()
	n := int(p.Max.Seconds()*float64(p.Rate)) + 1
	sent := make([]atomic.Int64, n) // nanoseconds since start; 0 = not sent
	rtt := make([]atomic.Int64, n)  // nanoseconds; 0 = no answer yet
	var last atomic.Int64           // highest sequence number sent
	last.Store(-1)
	start := time.Now()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // receiver
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return // closed
			}
			now := time.Since(start)
			if k < 2 {
				continue
			}
			hi := last.Load()
			id := binary.BigEndian.Uint16(buf)
			// The newest query with this ID: IDs repeat every 65536.
			seq := hi - int64(uint16(hi)-id)
			if seq < 0 || seq >= int64(n) {
				continue
			}
			if s := sent[seq].Load(); s > 0 && rtt[seq].Load() == 0 {
				rtt[seq].Store(max(int64(now)-s, 1))
			}
		}
	}()

	interval := time.Second / time.Duration(p.Rate)
	msg := make([]byte, 0, 512)
	var seq int64
	for ; seq < int64(n) && ctx.Err() == nil; seq++ {
		due := time.Duration(seq) * interval
		if d := due - time.Since(start); d > 0 {
			time.Sleep(d)
		}
		q := p.Queries[seq%int64(len(p.Queries))]
		msg = append(msg[:0], q...)
		binary.BigEndian.PutUint16(msg, uint16(seq))
		sent[seq].Store(max(int64(time.Since(start)), 1))
		last.Store(seq)
		conn.Write(msg) // a send error is a lost query
	}
	time.Sleep(p.Timeout)
	conn.Close()
	wg.Wait()

	res := &PaceResult{Start: start, Sent: make([]time.Duration, seq), RTT: make([]time.Duration, seq)}
	for i := range seq {
		res.Sent[i] = time.Duration(sent[i].Load())
		r := time.Duration(rtt[i].Load())
		if r == 0 || r > p.Timeout {
			r = -1
		}
		res.RTT[i] = r
	}
	return res, nil
}

// Window selects the queries sent in [from, to) since the start.
type Window struct{ From, To time.Duration }

// Stats summarises the queries sent inside any of windows (or outside
// all of them, when outside is true).
func (r *PaceResult) Stats(windows []Window, outside bool) LatencyStats {
	var rtts []time.Duration
	var lost int
	for i, s := range r.Sent {
		in := false
		for _, w := range windows {
			if s >= w.From && s < w.To {
				in = true
				break
			}
		}
		if in == outside {
			continue
		}
		if r.RTT[i] < 0 {
			lost++
			continue
		}
		rtts = append(rtts, r.RTT[i])
	}
	st := Latencies(rtts)
	st.Lost = lost
	return st
}

// Timeline writes, per interval, the queries sent, lost and the p99 of
// those answered; intervals that overlap a window are marked with *.
func (r *PaceResult) Timeline(w io.Writer, interval time.Duration, windows []Window) {
	if len(r.Sent) == 0 {
		return
	}
	n := int(r.Sent[len(r.Sent)-1]/interval) + 1
	buckets := make([][]time.Duration, n)
	lost := make([]int, n)
	for i, s := range r.Sent {
		b := int(s / interval)
		if r.RTT[i] < 0 {
			lost[b]++
			continue
		}
		buckets[b] = append(buckets[b], r.RTT[i])
	}
	fmt.Fprintf(w, "  %8s %7s %7s %9s %9s\n", "t", "sent", "lost", "p99", "max")
	for b := range n {
		from, to := time.Duration(b)*interval, time.Duration(b+1)*interval
		mark := " "
		for _, win := range windows {
			if win.From < to && win.To > from {
				mark = "*"
			}
		}
		st := Latencies(buckets[b])
		fmt.Fprintf(w, "%s %7.1fs %7d %7d %9s %9s\n", mark, from.Seconds(), len(buckets[b])+lost[b], lost[b], us(st.P99), us(st.Max))
	}
}

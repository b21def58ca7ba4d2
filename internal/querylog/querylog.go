// Package querylog writes a sample of the queries a node answers as JSON
// lines, off the query path: the query path hands an entry to a bounded
// buffer without ever blocking (a full buffer drops the entry and counts
// the drop) and one goroutine encodes and writes.
package querylog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Entry is one logged query. The query path fills it without allocating:
// every field is a value or shares memory that is never modified
// (Values is a dynamic decision's answer).
type Entry struct {
	Time    time.Time
	Client  netip.Addr   // the packet's source
	ECS     netip.Prefix // the query's client subnet; invalid when it had none
	QName   string
	QType   uint16
	Rcode   int
	TCP     bool
	Zone    string   // "" outside every zone served
	Pool    string   // the pool a dynamic record answered from; "" otherwise
	Outcome string   // the dynamic decision's outcome; "" for static answers
	Values  []dns.RR // the dynamic decision's answer; callers must not modify it
	Latency time.Duration
}

// Counters count what happened to entries; they outlive any one Log so
// that replacing the log (a config reload) does not reset them.
type Counters struct {
	Lines   atomic.Uint64 // lines written
	Dropped atomic.Uint64 // entries dropped because the buffer was full
	Errors  atomic.Uint64 // failed writes and reopens
}

// Options configures a Log.
type Options struct {
	// Path is the file lines are appended to; "" or "-" writes them to
	// Stderr.
	Path string
	// Sample is the fraction of queries logged, in (0, 1].
	Sample float64
	// Buffer is how many entries may wait for the writer; <= 0 means 4096.
	Buffer int
	// Stderr is where Path "" and "-" write; nil means os.Stderr.
	Stderr io.Writer
	// Counters receive the log's counts; nil gives the log its own.
	Counters *Counters
	// Log reports write errors; nil discards them.
	Log *slog.Logger
}

// Log is a running query log. Sample and Write are safe for concurrent
// use and never block; the rest is for the daemon.
type Log struct {
	all       bool   // sample everything
	threshold uint64 // otherwise sample when rand.Uint64() < threshold
	ch        chan Entry
	c         *Counters
	log       *slog.Logger
	path      string // "" for Stderr

	reopen    chan chan error
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// Owned by the writer goroutine once it runs.
	w       *bufio.Writer
	f       *os.File // nil when writing to Stderr
	errw    io.Writer
	line    bytes.Buffer  // one encoded line
	encoder *json.Encoder // into line
}

// Open opens the destination (so that a bad path is reported at once) and
// starts the writer.
func Open(o Options) (*Log, error) {
	if o.Sample <= 0 || o.Sample > 1 || math.IsNaN(o.Sample) {
		return nil, fmt.Errorf("query log: sample %v is not in (0, 1]", o.Sample)
	}
	if o.Buffer <= 0 {
		o.Buffer = 4096
	}
	l := &Log{
		all: o.Sample >= 1, c: o.Counters, log: o.Log, ch: make(chan Entry, o.Buffer),
		reopen: make(chan chan error), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if !l.all {
		l.threshold = uint64(o.Sample * (1 << 64))
	}
	if l.c == nil {
		l.c = new(Counters)
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.errw = o.Stderr
	if l.errw == nil {
		l.errw = os.Stderr
	}
	if o.Path != "" && o.Path != "-" {
		l.path = o.Path
		f, err := openFile(l.path)
		if err != nil {
			return nil, err
		}
		l.f = f
		l.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		l.w = bufio.NewWriterSize(l.errw, 64<<10)
	}
	l.encoder = json.NewEncoder(&l.line)
	l.encoder.SetEscapeHTML(false)
	go l.run()
	return l, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("query log: %w", err)
	}
	return f, nil
}

// Sample reports whether the next query should be logged. It is lock-free
// and allocation-free.
func (l *Log) Sample() bool { return l.all || rand.Uint64() < l.threshold }

// Write queues e for the writer and reports whether it was queued; when
// the buffer is full, e is dropped and counted. It never blocks.
func (l *Log) Write(e *Entry) bool {
	select {
	case l.ch <- *e:
		return true
	default:
		l.c.Dropped.Add(1)
		return false
	}
}

// Reopen closes and reopens the file, after logrotate moved it away. It
// waits for the writer to do it; for standard error it only flushes.
func (l *Log) Reopen() error {
	reply := make(chan error, 1)
	select {
	case l.reopen <- reply:
		return <-reply
	case <-l.done:
		return errors.New("query log: closed")
	}
}

// Close writes what is buffered, closes the file and stops the writer.
// Entries written after Close are dropped. Close is safe to call more
// than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() { close(l.stop) })
	<-l.done
	return nil
}

// run is the writer: it encodes entries as they come and flushes whenever
// the buffer runs empty, so lines reach the file promptly without a
// syscall per line under load.
func (l *Log) run() {
	defer close(l.done)
	for {
		select {
		case e := <-l.ch:
			l.encode(&e)
			l.drain()
			l.flush()
		case reply := <-l.reopen:
			reply <- l.doReopen()
		case <-l.stop:
			l.drain()
			l.flush()
			if l.f != nil {
				if err := l.f.Close(); err != nil {
					l.c.Errors.Add(1)
					l.log.Error("query log close", "path", l.path, "err", err)
				}
			}
			return
		}
	}
}

// drain encodes the entries waiting in the buffer, without waiting for
// more.
func (l *Log) drain() {
	for {
		select {
		case e := <-l.ch:
			l.encode(&e)
		default:
			return
		}
	}
}

// encode writes e as one line. A line is never split across writes, so
// lines stay whole on standard error between the other logs' lines.
func (l *Log) encode(e *Entry) {
	l.line.Reset()
	if err := l.encoder.Encode(lineOf(e)); err != nil {
		l.c.Errors.Add(1)
		return
	}
	if l.line.Len() > l.w.Available() {
		l.flush()
	}
	l.w.Write(l.line.Bytes()) // errors surface at flush
	l.c.Lines.Add(1)
}

func (l *Log) flush() {
	if err := l.w.Flush(); err != nil {
		l.c.Errors.Add(1)
		l.log.Error("query log write failed", "path", l.path, "err", err)
		l.w.Reset(l.dest()) // drop what could not be written rather than retrying it forever
	}
}

func (l *Log) dest() io.Writer {
	if l.f != nil {
		return l.f
	}
	return l.errw
}

// doReopen runs on the writer goroutine. A file that cannot be reopened
// leaves the log writing to the old one.
func (l *Log) doReopen() error {
	l.flush()
	if l.path == "" {
		return nil
	}
	f, err := openFile(l.path)
	if err != nil {
		l.c.Errors.Add(1)
		return err
	}
	if err := l.f.Close(); err != nil {
		l.log.Warn("query log: closing the rotated file", "path", l.path, "err", err)
	}
	l.f = f
	l.w.Reset(f)
	return nil
}

// line is the JSON shape of an entry, one object per line.
type line struct {
	Time      string   `json:"time"`
	Client    string   `json:"client"`
	ECS       string   `json:"ecs,omitempty"`
	QName     string   `json:"qname"`
	QType     string   `json:"qtype"`
	Rcode     string   `json:"rcode"`
	Transport string   `json:"transport"`
	Zone      string   `json:"zone"`
	Pool      string   `json:"pool,omitempty"`
	Values    []string `json:"values,omitempty"`
	Outcome   string   `json:"outcome,omitempty"`
	LatencyUS float64  `json:"latency_us"`
}

func lineOf(e *Entry) line {
	ln := line{
		Time:      e.Time.UTC().Format(time.RFC3339Nano),
		Client:    e.Client.String(),
		QName:     e.QName,
		QType:     typeName(e.QType),
		Rcode:     rcodeName(e.Rcode),
		Transport: "udp",
		Zone:      e.Zone,
		Pool:      e.Pool,
		Outcome:   e.Outcome,
		LatencyUS: math.Round(float64(e.Latency.Nanoseconds())) / 1000,
	}
	if e.TCP {
		ln.Transport = "tcp"
	}
	if e.ECS.IsValid() {
		ln.ECS = e.ECS.String()
	}
	for _, rr := range e.Values {
		ln.Values = append(ln.Values, value(rr))
	}
	return ln
}

// value is the answer value of a dynamic record's RR: an address or a
// target name.
func value(rr dns.RR) string {
	switch x := rr.(type) {
	case *dns.A:
		return x.A.String()
	case *dns.AAAA:
		return x.AAAA.String()
	case *dns.CNAME:
		return x.Target
	}
	hdr := rr.Header().String()
	return rr.String()[len(hdr):]
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

var (
	linesDesc = prometheus.NewDesc("meridian_query_log_lines_total",
		"Query log lines written.", nil, nil)
	droppedDesc = prometheus.NewDesc("meridian_query_log_dropped_total",
		"Sampled queries not logged because the query log's buffer was full (the writer fell behind).", nil, nil)
	errorsDesc = prometheus.NewDesc("meridian_query_log_errors_total",
		"Query log writes and reopens that failed.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *Counters) Describe(ch chan<- *prometheus.Desc) {
	ch <- linesDesc
	ch <- droppedDesc
	ch <- errorsDesc
}

// Collect implements prometheus.Collector.
func (c *Counters) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(linesDesc, prometheus.CounterValue, float64(c.Lines.Load()))
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(c.Dropped.Load()))
	ch <- prometheus.MustNewConstMetric(errorsDesc, prometheus.CounterValue, float64(c.Errors.Load()))
}

package querylog

import (
	"bufio"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestLineFormat(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))
	a, _ := dns.NewRR("app.example.com. 30 IN A 198.51.100.100")
	b, _ := dns.NewRR("app.example.com. 30 IN A 198.51.100.101")
	aaaa, _ := dns.NewRR("app.example.com. 30 IN AAAA 2001:db8::1")
	cname, _ := dns.NewRR("www.example.com. 30 IN CNAME eu.cdn.example.net.")
	for _, tt := range []struct {
		name string
		e    Entry
		want string
	}{
		{"dynamic answer with ECS over TCP", Entry{Time: at, Client: netip.MustParseAddr("192.0.2.1"),
			ECS: netip.MustParsePrefix("198.51.100.0/24"), QName: "App.Example.com.", QType: dns.TypeA, Rcode: dns.RcodeSuccess,
			TCP: true, Zone: "example.com.", Pool: "eu", Outcome: "pool", Values: []dns.RR{a, b}, Latency: 12345 * time.Nanosecond},
			`{"time":"2026-03-01T11:30:45.123456789Z","client":"192.0.2.1","ecs":"198.51.100.0/24","qname":"App.Example.com.","qtype":"A","rcode":"NOERROR","transport":"tcp","zone":"example.com.","pool":"eu","values":["198.51.100.100","198.51.100.101"],"outcome":"pool","latency_us":12.345}`},
		{"static NXDOMAIN without ECS", Entry{Time: at, Client: netip.MustParseAddr("2001:db8::53"), QName: "nope.example.com.",
			QType: dns.TypeAAAA, Rcode: dns.RcodeNameError, Zone: "example.com.", Latency: 3 * time.Microsecond},
			`{"time":"2026-03-01T11:30:45.123456789Z","client":"2001:db8::53","qname":"nope.example.com.","qtype":"AAAA","rcode":"NXDOMAIN","transport":"udp","zone":"example.com.","latency_us":3}`},
		{"fail-open has no pool", Entry{Time: at, Client: netip.MustParseAddr("192.0.2.1"), QName: "app.example.com.", QType: dns.TypeAAAA,
			Zone: "example.com.", Outcome: "failopen", Values: []dns.RR{aaaa}},
			`{"time":"2026-03-01T11:30:45.123456789Z","client":"192.0.2.1","qname":"app.example.com.","qtype":"AAAA","rcode":"NOERROR","transport":"udp","zone":"example.com.","values":["2001:db8::1"],"outcome":"failopen","latency_us":0}`},
		{"CNAME value, ECS /0", Entry{Time: at, Client: netip.MustParseAddr("192.0.2.1"), ECS: netip.MustParsePrefix("0.0.0.0/0"),
			QName: "www.example.com.", QType: dns.TypeCNAME, Zone: "example.com.", Pool: "eu", Outcome: "fallback", Values: []dns.RR{cname}},
			`{"time":"2026-03-01T11:30:45.123456789Z","client":"192.0.2.1","ecs":"0.0.0.0/0","qname":"www.example.com.","qtype":"CNAME","rcode":"NOERROR","transport":"udp","zone":"example.com.","pool":"eu","values":["eu.cdn.example.net."],"outcome":"fallback","latency_us":0}`},
		{"outside our zones, unknown type and rcode", Entry{Time: at, Client: netip.MustParseAddr("192.0.2.1"), QName: "x.\"quoted\".",
			QType: 65280, Rcode: 3841},
			`{"time":"2026-03-01T11:30:45.123456789Z","client":"192.0.2.1","qname":"x.\"quoted\".","qtype":"TYPE65280","rcode":"RCODE3841","transport":"udp","zone":"","latency_us":0}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "q.log")
			l, err := Open(Options{Path: path, Sample: 1})
			if err != nil {
				t.Fatal(err)
			}
			l.Write(&tt.e)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			lines := readLines(t, path)
			if len(lines) != 1 || lines[0] != tt.want {
				t.Errorf("got %q;\nwant %q", lines, tt.want)
			}
		})
	}
}

// TestDropWhenBlocked stalls the writer on a pipe nobody reads: Write
// must return at once, queue up to the buffer, then drop and count, and
// every queued entry is written once the pipe drains.
func TestDropWhenBlocked(t *testing.T) {
	const buffer = 8
	pr, pw := io.Pipe()
	c := new(Counters)
	l, err := Open(Options{Sample: 1, Stderr: pw, Buffer: buffer, Counters: c})
	if err != nil {
		t.Fatal(err)
	}
	l.Write(&Entry{QName: "first."})
	// Reading one byte proves the writer is inside its flush, where it
	// stays until the rest of the line is read.
	if _, err := pr.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	queued, dropped := 0, 0
	go func() {
		defer close(done)
		for range buffer + 5 {
			if l.Write(&Entry{QName: "next."}) {
				queued++
			} else {
				dropped++
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Write blocked while the writer was stuck")
	}
	if queued != buffer || dropped != 5 {
		t.Errorf("got %d queued, %d dropped; want %d queued, 5 dropped", queued, dropped, buffer)
	}
	if got := c.Dropped.Load(); got != 5 {
		t.Errorf("dropped counter: got %d; want 5", got)
	}
	if got := testing.AllocsPerRun(100, func() { l.Write(&Entry{QName: "dropped."}) }); got != 0 {
		t.Errorf("Write with a full buffer: got %v allocations; want 0", got)
	}

	lines := make(chan int)
	go func() {
		n := 0
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			n++
		}
		lines <- n
	}()
	l.Close()
	pw.Close()
	if got, want := <-lines, 1+buffer; got != want {
		t.Errorf("lines written: got %d; want %d", got, want)
	}
	if got, want := c.Lines.Load(), uint64(1+buffer); got != want {
		t.Errorf("lines counter: got %d; want %d", got, want)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "q.log")
	l, err := Open(Options{Path: path, Sample: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write(&Entry{QName: "before."})
	waitLines(t, path, 1)
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	l.Write(&Entry{QName: "moved."}) // still goes to the renamed file
	waitLines(t, path+".1", 2)
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write(&Entry{QName: "after."})
	waitLines(t, path, 1)
	if got := readLines(t, path); !strings.Contains(got[0], `"qname":"after."`) {
		t.Errorf("new file: got %q; want the line written after reopening", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got&^0o640 != 0 {
		t.Errorf("mode: got %v; want at most 0640", got)
	}
}

func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil && len(readLines(t, path)) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never got %d lines", path, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"sample 0", Options{Sample: 0}, "sample 0 is not in (0, 1]"},
		{"sample above 1", Options{Sample: 1.5}, "sample 1.5 is not in (0, 1]"},
		{"directory missing", Options{Sample: 1, Path: filepath.Join(t.TempDir(), "no", "such", "q.log")}, "no such file or directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Open(tt.o)
			if err == nil {
				l.Close()
				t.Fatalf("got no error; want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "query log: ") {
				t.Errorf("got %q; want it to start with \"query log: \" and contain %q", err, tt.want)
			}
		})
	}
}

func TestSample(t *testing.T) {
	for _, tt := range []struct {
		sample   float64
		min, max int // of 100000 draws
	}{
		{1, 100000, 100000},
		{0.5, 49000, 51000},
		{0.01, 850, 1150},
	} {
		l, err := Open(Options{Sample: tt.sample})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range 100000 {
			if l.Sample() {
				n++
			}
		}
		if n < tt.min || n > tt.max {
			t.Errorf("sample %v: got %d of 100000; want %d..%d", tt.sample, n, tt.min, tt.max)
		}
		if got := testing.AllocsPerRun(100, func() { l.Sample() }); got != 0 {
			t.Errorf("sample %v: got %v allocations per Sample; want 0", tt.sample, got)
		}
		l.Close()
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/miekg/dns"
)

// The soak's origins: each flapping one has a stable partner that answers
// when it is out, so no record ever fails open and a flapping origin that
// is down must never be handed out.
const (
	soakA  = "127.0.0.41" // failover primary, flaps
	soakB  = "127.0.0.42" // failover secondary, stable
	soakW1 = "127.0.0.43" // weighted 1, flaps
	soakW2 = "127.0.0.44" // weighted 3, stable
	soakE  = "127.0.0.45" // EU and lab pools, flaps
	soakU  = "127.0.0.46" // everyone else, and the fallback; stable
)

// soakCheck probes every 400ms and changes verdict after two probes that
// agree: an origin's verdict follows it within about 1.2s.
const soakCheck = `  octodns:
    healthcheck: {protocol: HTTP, port: %[1]s, path: /health}
    meridian:
      healthcheck: {interval: 400ms, timeout: 350ms, rise: 2, fall: 2}
`

// soakZone is the dynamic zone in one of two versions the soak alternates
// between; only static data differs, so the health endpoints stay the same.
func soakZone(port string, version int) string {
	check := fmt.Sprintf(soakCheck, port)
	return fmt.Sprintf(`'':
  - {type: NS, values: [ns1.soak.test.]}
  - {type: TXT, value: "version %[1]d"}
  - {type: MX, value: {preference: 10, exchange: mail.soak.test.}}
ns1: {type: A, value: 192.0.2.53}
mail: {type: A, value: 192.0.2.25}
www: {type: A, value: 192.0.2.8%[1]d}
failover:
  type: A
  ttl: 30
  values: [%[2]s, %[3]s]
  dynamic:
    pools:
      primary: {fallback: secondary, values: [{value: %[2]s}]}
      secondary: {values: [{value: %[3]s}]}
    rules:
      - {pool: primary}
`, version, soakA, soakB) + check + fmt.Sprintf(`weighted:
  type: A
  values: [%[1]s, %[2]s]
  dynamic:
    pools:
      main: {values: [{value: %[1]s, weight: 1}, {value: %[2]s, weight: 3}]}
    rules:
      - {pool: main}
`, soakW1, soakW2) + check + fmt.Sprintf(`geo:
  type: A
  values: [%[1]s, %[2]s]
  dynamic:
    pools:
      lab: {fallback: us, values: [{value: %[1]s}]}
      eu: {fallback: us, values: [{value: %[1]s}]}
      us: {values: [{value: %[2]s}]}
    rules:
      - {subnets: [10.1.0.0/16], pool: lab}
      - {geos: [EU], pool: eu}
      - {pool: us}
`, soakE, soakU) + check
}

const soakStatic = `$ORIGIN static.test.
$TTL 300
@ IN SOA ns.static.test. h.static.test. 1 7200 1800 1209600 60
@ NS ns.static.test.
ns A 198.51.100.53
host A 198.51.100.10
`

// soakQuery is one query of the mix and what a right answer is.
type soakQuery struct {
	name   string
	qtype  uint16
	ecs    string   // client subnet (/24) to send; "" for none
	rcode  int      // expected
	values []string // the A values (or TXT strings) allowed; nil: any, with want answers
	want   int      // answers expected when values is nil
	flap   string   // the flapping origin this name may hand out
	// failOpen is the record's own values, the answer when no pool has a
	// serviceable value: only when the stable origin was judged down too.
	failOpen []string
}

func soakMix(ecs bool) []soakQuery {
	qs := []soakQuery{
		{name: "www.soak.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, values: []string{"192.0.2.81", "192.0.2.82"}},
		{name: "mail.soak.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, values: []string{"192.0.2.25"}},
		{name: "soak.test.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, want: 1},
		{name: "soak.test.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, values: []string{"version 1", "version 2"}},
		{name: "www.soak.test.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, want: 0},
		{name: "nope.soak.test.", qtype: dns.TypeA, rcode: dns.RcodeNameError, want: 0},
		{name: "failover.soak.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, values: []string{soakA, soakB}, flap: soakA,
			failOpen: []string{soakA, soakB}},
		{name: "weighted.soak.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, values: []string{soakW1, soakW2}, flap: soakW1,
			failOpen: []string{soakW1, soakW2}},
		{name: "host.static.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, values: []string{"198.51.100.10"}},
		{name: "geo.soak.test.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, values: []string{soakU}, failOpen: []string{soakE, soakU}},
	}
	if ecs {
		qs = append(qs,
			soakQuery{name: "geo.soak.test.", qtype: dns.TypeA, ecs: "198.51.100.0", rcode: dns.RcodeSuccess, values: []string{soakE, soakU}, flap: soakE,
				failOpen: []string{soakE, soakU}},
			soakQuery{name: "geo.soak.test.", qtype: dns.TypeA, ecs: "10.1.7.0", rcode: dns.RcodeSuccess, values: []string{soakE, soakU}, flap: soakE,
				failOpen: []string{soakE, soakU}},
			soakQuery{name: "geo.soak.test.", qtype: dns.TypeA, ecs: "203.0.113.0", rcode: dns.RcodeSuccess, values: []string{soakU},
				failOpen: []string{soakE, soakU}},
		)
	}
	return qs
}

// errFailOpen is check's verdict on a fail-open answer.
const errFailOpen = "fail-open"

// check returns what is wrong with r as an answer to sq, or "", or
// errFailOpen, and the answers.
func (sq soakQuery) check(r *dns.Msg) (string, []string) {
	if r.Rcode != sq.rcode {
		return fmt.Sprintf("rcode %s; want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[sq.rcode]), nil
	}
	var got []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			got = append(got, v.A.String())
		case *dns.TXT:
			got = append(got, strings.Join(v.Txt, ""))
		default:
			got = append(got, dns.TypeToString[rr.Header().Rrtype])
		}
	}
	if sq.values == nil {
		if len(got) != sq.want {
			return fmt.Sprintf("%d answers %v; want %d", len(got), got, sq.want), got
		}
		return "", got
	}
	if sq.failOpen != nil && len(got) == len(sq.failOpen) && len(got) > 1 {
		g, w := slices.Clone(got), slices.Clone(sq.failOpen)
		slices.Sort(g)
		slices.Sort(w)
		if slices.Equal(g, w) {
			return errFailOpen, got
		}
	}
	if len(got) != 1 || !slices.Contains(sq.values, got[0]) {
		return fmt.Sprintf("answers %v; want one of %v", got, sq.values), got
	}
	return "", got
}

// handout is an answer that handed out a flapping origin.
type handout struct {
	origin     string
	sent, recv time.Time
}

// soakStats are the clients' counts.
type soakStats struct {
	queries, errs, timeouts, servfails, tcpRetries, failOpen atomic.Int64

	mu       sync.Mutex
	examples []string  // the first few wrong answers
	handouts []handout // answers that named a flapping origin
}

func (s *soakStats) wrong(format string, args ...any) {
	s.errs.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.examples) < 10 {
		s.examples = append(s.examples, fmt.Sprintf(format, args...))
	}
}

// soakRate is each client's pace: five clients make a steady 2000 queries
// a second, a load that leaves the probes and the other tests of a
// parallel `go test ./...` their share of the CPUs.
const soakRate = 400

// soakClient queries addr over network until stop closes, one query at a
// time at soakRate, cycling through mix.
func soakClient(addr, network string, mix []soakQuery, st *soakStats, stop <-chan struct{}) {
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	var conn *dns.Conn // TCP: one connection reused, as resolvers do
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	exchange := func(m *dns.Msg) (*dns.Msg, error) {
		if network == "udp" {
			r, _, err := c.Exchange(m, addr)
			return r, err
		}
		for attempt := 0; ; attempt++ {
			if conn == nil {
				var err error
				if conn, err = c.Dial(addr); err != nil {
					return nil, err
				}
			}
			r, _, err := c.ExchangeWithConn(m, conn)
			if err == nil || attempt == 1 {
				return r, err
			}
			// The server may close an idle or long-used connection
			// (RFC 7766 lets it); a client retries on a new one.
			conn.Close()
			conn = nil
			st.tcpRetries.Add(1)
		}
	}
	begin := time.Now()
	for i := 0; ; i++ {
		wait := time.Until(begin.Add(time.Duration(i) * time.Second / soakRate))
		if wait < 0 {
			wait = 0 // behind: catch up without sleeping
		}
		select {
		case <-stop:
			return
		case <-time.After(wait):
		}
		sq := mix[i%len(mix)]
		m := q(sq.name, sq.qtype)
		if sq.ecs != "" {
			m = ecsQuery(sq.name, sq.qtype, 1, sq.ecs, 24)
		}
		sent := time.Now()
		r, err := exchange(m)
		recv := time.Now()
		st.queries.Add(1)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				st.timeouts.Add(1)
			}
			st.wrong("%s %s %s ecs=%s: %v", network, sq.name, dns.TypeToString[sq.qtype], sq.ecs, err)
			continue
		}
		if r.Rcode == dns.RcodeServerFailure {
			st.servfails.Add(1)
		}
		msg, got := sq.check(r)
		if msg == errFailOpen {
			st.failOpen.Add(1)
			continue
		}
		if msg != "" {
			st.wrong("%s %s %s ecs=%s: %s", network, sq.name, dns.TypeToString[sq.qtype], sq.ecs, msg)
			continue
		}
		if sq.flap != "" && len(got) == 1 && got[0] == sq.flap {
			st.mu.Lock()
			st.handouts = append(st.handouts, handout{origin: sq.flap, sent: sent, recv: recv})
			st.mu.Unlock()
		}
	}
}

// flapEvent is a flapping origin going up or down.
type flapEvent struct {
	at time.Time
	up bool
}

// verdictPoll is the node's verdict of each flapping origin at one moment.
type verdictPoll struct {
	at    time.Time
	down  map[string]time.Time // origin → down since (absent: up)
	valid bool
}

// pollVerdicts reads the verdict table from the status API.
func pollVerdicts(api string) verdictPoll {
	p := verdictPoll{at: time.Now(), down: map[string]time.Time{}}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + api + "/api/v1/status")
	if err != nil {
		return p
	}
	defer resp.Body.Close()
	var st struct {
		Endpoints []struct {
			Name  string    `json:"name"`
			Up    bool      `json:"up"`
			Since time.Time `json:"since"`
		} `json:"endpoints"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return p
	}
	// The reply is read after the verdicts were: the poll holds at the
	// moment it was sent, p.at.
	for _, e := range st.Endpoints {
		host := strings.TrimPrefix(e.Name, "http://")
		host, _, _ = strings.Cut(host, ":")
		if !e.Up {
			p.down[host] = e.Since
		}
	}
	p.valid = true
	return p
}

// processSample is what the soak watches for growth.
type processSample struct {
	at                    time.Time
	goroutines, heap, rss float64
}

func sampleProcess(t *testing.T, n *testbin.Node) processSample {
	m := scrapeMetrics(t, n)
	return processSample{at: time.Now(), goroutines: m["go_goroutines{}"], heap: m["go_memstats_heap_inuse_bytes{}"],
		rss: m["process_resident_memory_bytes{}"]}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[len(s)/2]
}

// soakDuration is how long the soak runs: 30s in make test (enough for
// the growth check's samples after warm-up), or MERIDIAN_SOAK_DURATION
// (make soak: 5m).
func soakDuration(t *testing.T) time.Duration {
	d := 30 * time.Second
	if v := os.Getenv("MERIDIAN_SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d < 30*time.Second {
			t.Fatalf("MERIDIAN_SOAK_DURATION=%q: want a duration of at least 30s", v)
		}
	}
	return d
}

// TestSoak runs the real server under a steady mixed load (UDP and TCP,
// with and without ECS; static, NXDOMAIN, NODATA, failover, weighted, geo
// and subnet answers) while origins flap and the zones reload every few
// seconds. Every query must get the right answer; a flapping origin must
// never be handed out once it has been down for longer than the verdict
// takes, nor while the node's own verdict table says it is down; and
// goroutines and memory must not grow.
//
//	MERIDIAN_SOAK_DURATION=5m go test -run TestSoak -v ./cmd/meridian/
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: not in -short mode")
	}
	dur := soakDuration(t)
	first := testorigin.NewHTTP(t, soakA+":0", "ok")
	_, port, _ := net.SplitHostPort(first.Addr)
	origins := map[string]*testorigin.HTTP{soakA: first}
	for _, ip := range []string{soakB, soakW1, soakW2, soakE, soakU} {
		origins[ip] = testorigin.NewHTTP(t, ip+":"+port, "ok")
	}
	cfg := `node: {name: soak, region: eu}
dns: {listen: ["127.0.0.1:0"], rrl: {responses_per_second: 0}}
zones: {dir: zones, debounce: 50ms}
soa: {rname: hostmaster, ttl: 3600, minimum: 60}
geoip: {databases: [` + demoGeoIP(t) + `]}
state_dir: state
mesh: {state_dir: state}
`
	n := testbin.Start(t, testbin.Config(cfg), map[string]string{
		"zones/soak.test.yaml":   soakZone(port, 1),
		"zones/static.test.zone": soakStatic,
	})
	testbin.Eventually(t, 10*time.Second, func() bool {
		return len(pollVerdicts(n.API).down) == 0 && pollVerdicts(n.API).valid
	}, "the origins to be up")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	st := &soakStats{}
	for _, c := range []struct {
		network string
		ecs     bool
	}{{"udp", false}, {"udp", true}, {"tcp", false}, {"tcp", true}, {"udp", true}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			soakClient(n.Addr, c.network, soakMix(c.ecs), st, stop)
		}()
	}

	// Flappers: each flapping origin goes down for 3-5s, up for 2-4s, on
	// its own rhythm.
	var flapMu sync.Mutex
	flaps := map[string][]flapEvent{}
	var flapCount atomic.Int64
	for k, ip := range []string{soakA, soakW1, soakE} {
		o := origins[ip]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				up := time.Duration(2000+(k*700+i*300)%2000) * time.Millisecond
				down := time.Duration(3000+(k*500+i*400)%2000) * time.Millisecond
				select {
				case <-stop:
					return
				case <-time.After(up):
				}
				o.Stop()
				flapMu.Lock()
				flaps[ip] = append(flaps[ip], flapEvent{at: time.Now(), up: false})
				flapMu.Unlock()
				flapCount.Add(1)
				select {
				case <-stop:
					return
				case <-time.After(down):
				}
				flapMu.Lock()
				flaps[ip] = append(flaps[ip], flapEvent{at: time.Now(), up: true}) // before: conservative
				flapMu.Unlock()
				o.Start()
			}
		}()
	}

	// The verdict table, four times a second.
	var polls []verdictPoll
	var pollMu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				p := pollVerdicts(n.API)
				pollMu.Lock()
				polls = append(polls, p)
				pollMu.Unlock()
			}
		}
	}()

	// Reloads every 3s, alternating the zone's content: by the file
	// watcher, and every third one by SIGHUP.
	zonePath := filepath.Join(n.Dir, "zones", "soak.test.yaml")
	var samples []processSample
	start := time.Now()
	warm := start.Add(max(15*time.Second, dur/6))
	reloads := 0
	tk := time.NewTicker(3 * time.Second)
	sampleTk := time.NewTicker(2 * time.Second)
	deadline := time.NewTimer(dur)
loop:
	for {
		select {
		case <-deadline.C:
			break loop
		case <-tk.C:
			reloads++
			testbin.WriteFile(t, zonePath, soakZone(port, 1+reloads%2))
			if reloads%3 == 0 {
				n.Signal(syscall.SIGHUP)
			}
		case now := <-sampleTk.C:
			if now.After(warm) {
				samples = append(samples, sampleProcess(t, n))
			}
		}
	}
	tk.Stop()
	sampleTk.Stop()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	for _, o := range origins {
		o.Start()
	}

	// The server is still well and reloaded as often as asked.
	m := scrapeMetrics(t, n)
	zoneReloads := m[`meridian_zone_reloads_total{result="ok"}`]
	if bad := m[`meridian_zone_reloads_total{result="error"}`]; bad > 0 {
		t.Errorf("%v zone reloads with problems; want none\n%s", bad, n.Logs())
	}
	if zoneReloads < float64(reloads)/2 {
		t.Errorf("%v zone reloads for %d changes; want about one per change", zoneReloads, reloads)
	}

	// Answers: every valid query answered right. A timeout is allowed
	// per 20000 queries (a UDP datagram lost to a scheduler stall on a
	// shared machine); SERVFAIL and wrong answers never.
	queries := st.queries.Load()
	allowTimeouts := queries / 20000
	if st.servfails.Load() > 0 || st.errs.Load()-st.timeouts.Load() > 0 || st.timeouts.Load() > allowTimeouts {
		t.Errorf("%d wrong answers, %d SERVFAIL, %d timeouts (allowed %d) of %d queries; first ones:\n%s",
			st.errs.Load()-st.timeouts.Load(), st.servfails.Load(), st.timeouts.Load(), allowTimeouts, queries,
			strings.Join(st.examples, "\n"))
	}

	// Verdicts: checked against what the origins did and against the
	// node's own verdict table.
	stale, againstTable := soakVerdictViolations(st.handouts, flaps, polls)
	if len(stale) > 0 {
		t.Errorf("%d answers handed out an origin down for more than %v:\n%s", len(stale), soakVerdictDelay,
			strings.Join(stale[:min(10, len(stale))], "\n"))
	}
	if len(againstTable) > 0 {
		t.Errorf("%d answers handed out an origin while the verdict table said down:\n%s", len(againstTable),
			strings.Join(againstTable[:min(10, len(againstTable))], "\n"))
	}
	// Fail-open answers are right only when the stable origin was judged
	// down as well (a probe starved of CPU on a loaded machine can fail).
	stableDowns := 0.0
	for k, v := range withPrefix(m, "meridian_health_verdict_changes_total") {
		for _, ip := range []string{soakB, soakW2, soakU} {
			if strings.Contains(k, "//"+ip+":") && strings.Contains(k, `to="down"`) {
				stableDowns += v
			}
		}
	}
	if st.failOpen.Load() > 0 && stableDowns == 0 {
		t.Errorf("%d fail-open answers, but no stable origin was ever judged down", st.failOpen.Load())
	}
	validPolls := 0
	downSeen := 0
	for _, p := range polls {
		if p.valid {
			validPolls++
			downSeen += len(p.down)
		}
	}
	if downSeen == 0 {
		t.Error("the verdict table never showed a flapping origin down; the soak did not exercise failover")
	}

	// Growth: the median of the last third of the samples against the
	// median of the first third, all taken under the same load after
	// warm-up. A leak per query (hundreds of thousands of them) or per
	// reload (dozens) shows far beyond these margins; a GC cycle's
	// timing or a reload's garbage stays within them.
	if len(samples) < 6 {
		t.Fatalf("only %d samples; want the soak to run longer", len(samples))
	}
	third := len(samples) / 3
	pick := func(ss []processSample, f func(processSample) float64) []float64 {
		var out []float64
		for _, s := range ss {
			out = append(out, f(s))
		}
		return out
	}
	early, late := samples[:third], samples[len(samples)-third:]
	gr0, gr1 := slices.Max(pick(early, func(s processSample) float64 { return s.goroutines })),
		slices.Max(pick(late, func(s processSample) float64 { return s.goroutines }))
	heap0, heap1 := median(pick(early, func(s processSample) float64 { return s.heap })),
		median(pick(late, func(s processSample) float64 { return s.heap }))
	rss0, rss1 := median(pick(early, func(s processSample) float64 { return s.rss })),
		median(pick(late, func(s processSample) float64 { return s.rss }))
	if gr1 > gr0+10 {
		t.Errorf("goroutines grew from %v to %v; want at most 10 more (connections and probes in flight)", gr0, gr1)
	}
	if heap1 > heap0*1.25+4<<20 {
		t.Errorf("heap in use grew from %.1f to %.1f MiB; want at most 25%% + 4 MiB", heap0/(1<<20), heap1/(1<<20))
	}
	if rss1 > rss0*1.25+8<<20 {
		t.Errorf("resident memory grew from %.1f to %.1f MiB; want at most 25%% + 8 MiB", rss0/(1<<20), rss1/(1<<20))
	}

	t.Logf("soak %v: %d queries (%.0f/s), %d wrong, %d timeouts, %d SERVFAIL, %d TCP reconnects, %d fail-open (stable origins judged down %v times); "+
		"%d zone changes (%v reloads ok), %d origin flaps, %d answers naming a flapping origin checked against %d verdict polls; "+
		"goroutines %v → %v, heap in use %.1f → %.1f MiB, RSS %.1f → %.1f MiB",
		elapsed.Round(time.Second), queries, float64(queries)/elapsed.Seconds(), st.errs.Load()-st.timeouts.Load(),
		st.timeouts.Load(), st.servfails.Load(), st.tcpRetries.Load(), st.failOpen.Load(), stableDowns, reloads, zoneReloads, flapCount.Load(),
		len(st.handouts), validPolls, gr0, gr1, heap0/(1<<20), heap1/(1<<20), rss0/(1<<20), rss1/(1<<20))
}

// soakVerdictDelay bounds how long a verdict takes to follow an origin:
// two failed probes 400ms apart (each up to its 350ms timeout), the verdict
// recomputed at once, with room for a loaded shared machine.
const soakVerdictDelay = 3 * time.Second

// soakTableSlack is the transition window of the verdict table: a query
// sent this long after the verdict went down sees the new table (it is
// published with one pointer swap; the slack covers clock reads on both
// sides).
const soakTableSlack = 100 * time.Millisecond

// soakVerdictViolations returns the handouts of a flapping origin that
// (1) was down, by the flap log, from soakVerdictDelay before the query
// was sent until its answer arrived, or (2) was down in the node's
// verdict table for the whole query, by a poll made after the answer
// arrived whose down-since precedes the query by soakTableSlack.
func soakVerdictViolations(hs []handout, flaps map[string][]flapEvent, polls []verdictPoll) (stale, againstTable []string) {
	for _, h := range hs {
		// (1) the last event before sent-delay is a down, and nothing
		// happens until recv.
		evs := flaps[h.origin]
		downFrom := h.sent.Add(-soakVerdictDelay)
		i := sort.Search(len(evs), func(i int) bool { return evs[i].at.After(downFrom) })
		if i > 0 && !evs[i-1].up && (i == len(evs) || evs[i].at.After(h.recv)) {
			stale = append(stale, fmt.Sprintf("%s handed out at %s, down since %s",
				h.origin, h.sent.Format("15:04:05.000"), evs[i-1].at.Format("15:04:05.000")))
		}
		// (2) the first poll after recv.
		j := sort.Search(len(polls), func(j int) bool { return !polls[j].at.Before(h.recv) })
		if j == len(polls) || !polls[j].valid {
			continue
		}
		if since, down := polls[j].down[h.origin]; down && since.Add(soakTableSlack).Before(h.sent) {
			againstTable = append(againstTable, fmt.Sprintf("%s handed out at %s, verdict down since %s (poll at %s)",
				h.origin, h.sent.Format("15:04:05.000"), since.Format("15:04:05.000"), polls[j].at.Format("15:04:05.000")))
		}
	}
	return stale, againstTable
}

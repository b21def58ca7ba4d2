package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Big-zone targets.
const (
	LoadTarget = 2 * time.Second
	RSSTarget  = 300 << 20
)

// BigZoneReport is the load and reload measurement.
type BigZoneReport struct {
	StaticRecords  int             `json:"static_records"`
	DynamicRecords int             `json:"dynamic_records"`
	ToServing      time.Duration   `json:"to_serving_ns"` // exec → the "serving" log line
	ToAnswer       time.Duration   `json:"to_answer_ns"`  // exec → the first answered query
	AfterLoad      Memory          `json:"memory_after_load"`
	Reloads        []time.Duration `json:"reloads_ns"` // SIGHUP → the changed marker is answered
	Rate           int             `json:"rate_qps"`
	FirstPass      LatencyStats    `json:"first_pass"`     // each distinct query once, right after the load
	Baseline       LatencyStats    `json:"baseline"`       // queries sent after the first pass, before the first reload
	During         LatencyStats    `json:"during_reloads"` // queries sent while a reload ran
	After          LatencyStats    `json:"after_reloads"`  // queries sent after a reload was served, before the next
	AfterReloads   Memory          `json:"memory_after_reloads"`
}

// markerName is a TXT record in the first zone whose value every reload
// changes, so the runner can tell when a reload is being served.
const markerName = "reload-marker"

// RunBigZone generates BigZoneSpec's zone set into dir, starts Meridian on
// it, times the load, then reloads it o.Reloads times (SIGHUP after
// changing one record) under a paced query load and compares the latency
// of queries sent during the reloads with the others.
func RunBigZone(ctx context.Context, o Options, dir string) (*BigZoneReport, error) {
	w := o.W
	dir, err := filepath.Abs(dir) // the config names the database by absolute path
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	s := NewScenario(BigZoneSpec())
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	addr := hostPort("127.0.0.1", ports[0])
	cfg, zone0, err := writeBigZone(dir, s, addr)
	if err != nil {
		return nil, err
	}
	rep := &BigZoneReport{Rate: o.BigZoneRate}
	for _, z := range s.Zones {
		for _, n := range z.Static {
			rep.StaticRecords += n.RRsets()
		}
		rep.DynamicRecords += len(z.Geo) + len(z.Weighted) + len(z.Failover)
	}
	fmt.Fprintf(w, "\n== big zone: %d zones, %d static A records + %d geo-dynamic records ==\n",
		len(s.Zones), rep.StaticRecords, rep.DynamicRecords)
	fmt.Fprintf(w, "Meridian GOMAXPROCS=2, unpinned; a Go client (unpinned) sends the mix at %d qps throughout; "+
		"each reload rewrites one zone file and sends SIGHUP\n", o.BigZoneRate)

	p, err := StartProc(ProcSpec{Name: "meridian", Env: []string{"GOMAXPROCS=2"},
		Argv: []string{o.Meridian, "serve", "--config", cfg}})
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	origin := s.Zones[0].Origin
	answered, err := p.WaitReady(addr, origin, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	rep.ToAnswer = answered.Sub(p.Started)
	if at, ok := p.LineTime("msg=serving"); ok {
		rep.ToServing = at.Sub(p.Started)
	}
	if rep.AfterLoad, err = ReadMemory(p.Pid); err != nil {
		return nil, err
	}
	verdict := "met"
	if rep.ToServing > LoadTarget || rep.ToServing == 0 || rep.AfterLoad.HWM > RSSTarget {
		verdict = "NOT met"
	}
	fmt.Fprintf(w, "load: %.2fs from exec to the \"serving\" log line, %.2fs to the first answer; RSS %s MB (peak %s MB); "+
		"target < %v and < %d MB: %s\n", rep.ToServing.Seconds(), rep.ToAnswer.Seconds(), mb(rep.AfterLoad.RSS),
		mb(rep.AfterLoad.HWM), LoadTarget, RSSTarget>>20, verdict)

	packed := make([][]byte, 0, len(s.Queries))
	for _, q := range s.Queries {
		b, err := q.Msg().Pack()
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", q, err)
		}
		packed = append(packed, b)
	}
	// The first pass through the queries is reported apart: it includes
	// whatever the server does on a record's first query.
	warm := time.Duration(float64(len(packed)) / float64(o.BigZoneRate) * float64(time.Second))
	wctx, wstop := context.WithTimeout(ctx, warm)
	first, err := (&Pacer{Addr: addr, Rate: o.BigZoneRate, Queries: packed, Timeout: time.Second, Max: warm + time.Second}).Run(wctx)
	wstop()
	if err != nil {
		return nil, err
	}
	rep.FirstPass = first.Stats(nil, true)
	fmt.Fprintf(w, "latency, first pass over the %d distinct queries: %s\n", len(packed), rep.FirstPass)

	steady := time.Duration(o.BigZoneSteady * float64(time.Second))
	gap := time.Duration(o.BigZoneGap * float64(time.Second))
	pacer := &Pacer{Addr: addr, Rate: o.BigZoneRate, Queries: packed, Timeout: time.Second,
		Max: steady + gap + time.Duration(o.Reloads)*(gap+time.Minute)}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	type result struct {
		r   *PaceResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := pacer.Run(pctx)
		done <- result{r, err}
	}()

	type span struct{ from, to time.Time }
	var spans []span
	if err := sleepCtx(ctx, steady); err != nil {
		return nil, err
	}
	for k := 1; k <= o.Reloads; k++ {
		if err := setMarker(zone0, k); err != nil {
			return nil, err
		}
		from := time.Now()
		if err := p.Signal(syscall.SIGHUP); err != nil {
			return nil, fmt.Errorf("bench: SIGHUP: %w", err)
		}
		to, err := waitMarker(ctx, addr, markerName+"."+origin, k, time.Minute)
		if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, tail(p.Logs(), 20))
		}
		spans = append(spans, span{from, to})
		rep.Reloads = append(rep.Reloads, to.Sub(from))
		if err := sleepCtx(ctx, gap); err != nil {
			return nil, err
		}
	}
	stop()
	res := <-done
	if res.err != nil {
		return nil, res.err
	}
	r := res.r
	end := r.Sent[len(r.Sent)-1] + 1
	var during, after []Window
	baseline := []Window{{From: 0, To: end}}
	for i, sp := range spans {
		from, to := sp.from.Sub(r.Start), sp.to.Sub(r.Start)
		if i == 0 {
			baseline[0].To = from
		}
		during = append(during, Window{From: from, To: to})
		next := end
		if i+1 < len(spans) {
			next = spans[i+1].from.Sub(r.Start)
		}
		after = append(after, Window{From: to, To: next})
	}
	rep.Baseline = r.Stats(baseline, false)
	rep.During = r.Stats(during, false)
	rep.After = r.Stats(after, false)
	if rep.AfterReloads, err = ReadMemory(p.Pid); err != nil {
		return nil, err
	}
	var rl []string
	for _, d := range rep.Reloads {
		rl = append(rl, fmt.Sprintf("%.2fs", d.Seconds()))
	}
	fmt.Fprintf(w, "reloads (SIGHUP → the changed record is answered): %s\n", strings.Join(rl, ", "))
	fmt.Fprintf(w, "latency, before the first reload:           %s\n", rep.Baseline)
	fmt.Fprintf(w, "latency, queries sent during a reload:      %s\n", rep.During)
	fmt.Fprintf(w, "latency, between a reload and the next one: %s\n", rep.After)
	if o.Timeline {
		fmt.Fprintln(w, "per second (* = a reload ran):")
		r.Timeline(w, time.Second, during)
	}
	fmt.Fprintf(w, "RSS after the reloads %s MB (peak %s MB)\n", mb(rep.AfterReloads.RSS), mb(rep.AfterReloads.HWM))
	return rep, nil
}

// writeBigZone writes the big-zone Meridian config, zones (the first with
// the reload marker) and GeoIP database. It returns the config path and
// the first zone's file.
func writeBigZone(dir string, s *Scenario, addr string) (cfg, zone0 string, err error) {
	db := filepath.Join(dir, "geo", "bench-city.mmdb")
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		return "", "", fmt.Errorf("bench: %w", err)
	}
	if err := WriteGeoDB(db, s); err != nil {
		return "", "", err
	}
	zones := filepath.Join(dir, "zones")
	if err := WriteMeridianZones(zones, s); err != nil {
		return "", "", err
	}
	zone0 = filepath.Join(zones, strings.TrimSuffix(s.Zones[0].Origin, ".")+".yaml")
	f, err := os.OpenFile(zone0, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return "", "", fmt.Errorf("bench: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s: {type: TXT, value: %q}\n", markerName, markerValue(0))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", fmt.Errorf("bench: %w", err)
	}
	// For running dnsperf by hand against the same zone set.
	if err := WriteQueryFile(filepath.Join(dir, "queries.bin"), s.Queries); err != nil {
		return "", "", err
	}
	cfg = filepath.Join(dir, "meridian.yaml")
	return cfg, zone0, WriteMeridianConfig(cfg, MeridianConfig{Listen: []string{addr}, GeoDB: db, Zones: "zones"})
}

func markerValue(gen int) string { return fmt.Sprintf("gen-%d", gen) }

// setMarker changes the marker's value to generation gen, replacing the
// file atomically as an editor would.
func setMarker(path string, gen int) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	old := fmt.Sprintf("%q", markerValue(gen-1))
	body := strings.Replace(string(b), old, fmt.Sprintf("%q", markerValue(gen)), 1)
	if body == string(b) {
		return fmt.Errorf("bench: %s: marker %s not found", path, old)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// waitMarker polls the marker until it has generation gen.
func waitMarker(ctx context.Context, addr, name string, gen int, timeout time.Duration) (time.Time, error) {
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	want := markerValue(gen)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r, _, err := c.Exchange(m, addr); err == nil && len(r.Answer) > 0 {
			if t, ok := r.Answer[0].(*dns.TXT); ok && strings.Join(t.Txt, "") == want {
				return time.Now(), nil
			}
		}
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
	return time.Time{}, fmt.Errorf("bench: reload %d not served within %v", gen, timeout)
}

package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/daemon"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

const explainUsage = `usage: meridian explain --config FILE NAME [TYPE] --client IP[/PREFIX] [--down VALUE|pool:ID ...]`

// explainArgs is the parsed command line of `meridian explain`; flags and
// arguments may come in any order.
type explainArgs struct {
	config, name, client string
	qtype                uint16
	down                 []string
}

func parseExplain(args []string) (explainArgs, error) {
	a := explainArgs{config: "meridian.yaml", qtype: dns.TypeA}
	flags, pos, err := splitArgs(args, map[string]bool{"config": true, "client": true, "down": true}, nil)
	if err != nil {
		return a, err
	}
	for _, f := range flags {
		switch f.name {
		case "config":
			a.config = f.val
		case "client":
			a.client = f.val
		case "down":
			a.down = append(a.down, f.val)
		}
	}
	if len(pos) < 1 || len(pos) > 2 {
		return a, fmt.Errorf("want NAME [TYPE]")
	}
	a.name = dns.Fqdn(pos[0])
	if len(pos) == 2 {
		t, ok := dns.StringToType[strings.ToUpper(pos[1])]
		if !ok {
			return a, fmt.Errorf("unknown type %q", pos[1])
		}
		a.qtype = t
	}
	if a.client == "" {
		return a, fmt.Errorf("--client is required")
	}
	return a, nil
}

// parseClient reads IP or IP/PREFIX: a prefix is treated as an ECS
// source prefix (the address is masked to it, as a resolver sends it).
func parseClient(s string) (addr netip.Addr, source int, ecs bool, err error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return addr, 0, false, fmt.Errorf("--client %q: %w", s, err)
		}
		return p.Masked().Addr().Unmap(), p.Bits(), true, nil
	}
	addr, err = netip.ParseAddr(s)
	if err != nil {
		return addr, 0, false, fmt.Errorf("--client %q: %w", s, err)
	}
	return addr.Unmap(), addr.BitLen(), false, nil
}

// simulated is the Health of explain: the verdicts of one live probe of
// each endpoint involved, overridden by `--down`: listed values count as
// failing their health checks, listed pools as drained.
type simulated struct {
	values map[string]bool
	pools  map[string]bool
	probed map[string]healthmesh.Result // by endpoint ID
}

func (s simulated) State(_ *pools.Record, v *pools.Value) pools.State {
	if s.values[v.Value] || s.values[strings.TrimSuffix(v.Value, ".")] {
		return pools.Unhealthy
	}
	if r, ok := s.probed[v.Endpoint]; ok {
		if r.OK {
			return pools.Healthy
		}
		return pools.Unhealthy
	}
	return pools.Unknown
}

func (s simulated) Drained(_ *pools.Record, p *pools.Pool, _ *pools.Value) bool {
	return p != nil && s.pools[p.ID]
}

func explain(args []string, stdout, stderr io.Writer) int {
	a, err := parseExplain(args)
	if err != nil {
		fmt.Fprintf(stderr, "meridian explain: %v\n%s\n", err, explainUsage)
		return 2
	}
	addr, source, ecs, err := parseClient(a.client)
	if err != nil {
		fmt.Fprintf(stderr, "meridian explain: %v\n", err)
		return 2
	}
	c, err := config.Load(a.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	set, ps := zones.Load(daemon.ZoneOptions(c))
	for _, p := range ps {
		fmt.Fprintf(stderr, "warning: %s\n", p)
	}
	var g *geo.Reader
	if len(c.GeoIP.Databases) > 0 {
		if g, err = geo.Open(c.GeoIP.Databases); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	h := simulated{values: map[string]bool{}, pools: map[string]bool{}, probed: map[string]healthmesh.Result{}}
	for _, d := range a.down {
		if id, ok := strings.CutPrefix(d, "pool:"); ok {
			h.pools[id] = true
		} else {
			h.values[d] = true
		}
	}

	client := pools.NewClient(addr, g)
	eps := involved(set, a.name, a.qtype, client)
	probeAll(eps, h.probed)
	client = pools.NewClient(addr, g)
	tr := &pools.Trace{}
	res := set.LookupFor(a.name, a.qtype, zones.Query{Client: &client, Health: h, Trace: tr})

	w := &tabWriter{w: stdout}
	w.line("query:    %s %s", a.name, dns.TypeToString[a.qtype])
	if ecs {
		w.line("client:   %s (ECS source /%d)", addr, source)
	} else {
		w.line("client:   %s (packet source)", addr)
	}
	w.line("location: %s", describeLocation(client.Location(), g != nil))
	if len(a.down) > 0 {
		w.line("down:     %s", strings.Join(a.down, " "))
	}
	if res.Zone != nil {
		w.line("zone:     %s (%s)", res.Zone.Origin, res.Zone.Path)
	}
	if len(eps) > 0 {
		w.line("health (one live probe of each endpoint, now):")
		for _, e := range eps {
			r := h.probed[e.ID()]
			state := "up"
			if !r.OK {
				state = "down"
			}
			w.line("  %s: %s since %s (%s, %v)", e, state, r.At.UTC().Format(time.RFC3339), r.Reason, r.Latency.Round(time.Millisecond))
		}
	}
	for _, l := range tr.Lines {
		w.line("%s", l)
	}
	w.line("result:   %s", resultText(res))
	for _, rr := range res.Answer {
		w.line("  %s", strings.Join(strings.Fields(rr.String()), " "))
	}
	for _, rr := range res.Ns {
		w.line("  %s", strings.Join(strings.Fields(rr.String()), " "))
	}
	if res.Dynamic {
		w.line("outcome:  %s", res.Decision.Outcome)
		w.line("ttl:      %d", res.Decision.TTL)
		scope := res.Scope
		if !ecs {
			w.line("ecs scope: /%d (if the address came as ECS)", scope)
		} else {
			w.line("ecs scope: /%d", scope)
		}
	} else if res.Kind == zones.Success || res.Kind == zones.NoData {
		w.line("static answer: ecs scope /0")
	}
	if res.Kind == zones.NameError || res.Kind == zones.Refused {
		return 1
	}
	return 0
}

// involved returns the health-checked endpoints of the dynamic records a
// lookup of name touches (the name and every owner in its CNAME chain).
func involved(set *zones.Set, name string, qtype uint16, c pools.Client) []healthmesh.Endpoint {
	res := set.LookupFor(name, qtype, zones.Query{Client: &c})
	names := map[string]bool{strings.ToLower(name): true}
	for _, rr := range res.Answer {
		names[strings.ToLower(rr.Header().Name)] = true
		if cn, ok := rr.(*dns.CNAME); ok {
			names[strings.ToLower(cn.Target)] = true
		}
	}
	var recs []*pools.Record
	for _, r := range set.Policies() {
		if names[r.Name] {
			recs = append(recs, r)
		}
	}
	return healthmesh.Endpoints(recs)
}

// probeAll probes each endpoint once, concurrently.
func probeAll(eps []healthmesh.Endpoint, into map[string]healthmesh.Result) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	p := &healthmesh.Prober{}
	for _, e := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.Probe(context.Background(), e)
			mu.Lock()
			into[e.ID()] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
}

func resultText(res zones.Result) string {
	switch res.Kind {
	case zones.Refused:
		return "REFUSED (not in any served zone)"
	case zones.NameError:
		return "NXDOMAIN"
	case zones.NoData:
		return "NOERROR, no data"
	case zones.Delegation:
		return "referral"
	case zones.YXDomain:
		return "YXDOMAIN"
	}
	return "NOERROR"
}

func describeLocation(l geo.Location, haveDB bool) string {
	if !haveDB {
		return "unknown (no geoip databases configured)"
	}
	if !l.Found {
		return fmt.Sprintf("unknown (not in the databases; network %s)", l.Prefix)
	}
	parts := []string{l.Continent}
	if l.Country != "" {
		parts = append(parts, l.Country)
	}
	if l.Subdivision != "" {
		parts = append(parts, l.Subdivision)
	}
	s := strings.Join(parts, "-")
	if l.HasCoords {
		s += fmt.Sprintf(" at %.2f,%.2f", l.Lat, l.Lon)
	}
	return s + fmt.Sprintf(" (database network %s)", l.Prefix)
}

type tabWriter struct{ w io.Writer }

func (t *tabWriter) line(format string, args ...any) { fmt.Fprintf(t.w, format+"\n", args...) }

// Package explain answers "how is this query answered for this client, and
// why": it runs one lookup through a zone set with a trace and returns a
// structured Report. `meridian explain` prints the Report as text (with
// verdicts from a live probe of each endpoint); the API's
// /api/v1/explain sends it as JSON (with the node's own verdicts), so both
// tell the same story from the same code.
package explain

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// Query is the question to explain.
type Query struct {
	Name   string // fully qualified
	Type   uint16
	Client Client
}

// Client is who asks: an address, either the packet source or an ECS
// address masked to its source prefix.
type Client struct {
	Addr   netip.Addr `json:"address"`
	Source int        `json:"source"` // prefix length: the ECS source, else the address length
	ECS    bool       `json:"ecs"`    // the address came as ECS
}

// ParseClient reads IP or IP/PREFIX. A prefix is an ECS source prefix: the
// address is masked to it, as a resolver sends it.
func ParseClient(s string) (Client, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Client{}, err
		}
		return Client{Addr: p.Masked().Addr().Unmap(), Source: p.Bits(), ECS: true}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Client{}, err
	}
	a = a.Unmap()
	return Client{Addr: a, Source: a.BitLen()}, nil
}

// Report is everything explain knows about one query. Its JSON form is
// the API's reply; Text renders it for people.
type Report struct {
	Name     string   `json:"name"` // fully qualified
	Type     string   `json:"type"` // "A", "AAAA", ...
	Client   Client   `json:"client"`
	Location Location `json:"location"`
	// Down lists what the verdicts were told to treat as down (explain
	// --down): values failing their checks, "pool:ID" drained.
	Down []string `json:"down,omitempty"`
	Zone *Zone    `json:"zone"` // nil when no served zone holds the name
	// Health says where the verdicts come from: SourceProbe or SourceNode.
	Health string `json:"health"`
	// Endpoints are the health-checked endpoints of the dynamic records
	// the lookup touches, with their verdicts.
	Endpoints []Endpoint `json:"endpoints"`
	// Trace is the reasoning of the dynamic records' policies, in order.
	Trace []string `json:"trace"`
	// Kind is the lookup's outcome: success, nodata, nxdomain, referral,
	// refused or yxdomain. Result says it for people, Rcode on the wire.
	Kind      string   `json:"kind"`
	Result    string   `json:"result"`
	Rcode     string   `json:"rcode"`
	Answer    []string `json:"answer"`    // answer section, one RR per line
	Authority []string `json:"authority"` // authority section (SOA, referral NS)
	// Dynamic is true when a dynamic record chose (part of) the answer;
	// the fields below describe its decision.
	Dynamic bool   `json:"dynamic"`
	Outcome string `json:"outcome,omitempty"` // pool, fallback, nearest, failopen, norule
	Rule    int    `json:"rule,omitempty"`    // 1-based index of the matching rule; 0: none
	Pool    string `json:"pool,omitempty"`    // pool the answer came from; "" for fail-open
	TTL     uint32 `json:"ttl,omitempty"`
	// Scope is the ECS scope prefix length the answer would carry.
	Scope int `json:"scope"`
}

// Location is where the GeoIP databases place the client.
type Location struct {
	// Databases is false when no GeoIP database is configured.
	Databases   bool    `json:"databases"`
	Found       bool    `json:"found"`
	Continent   string  `json:"continent,omitempty"`
	Country     string  `json:"country,omitempty"`
	Subdivision string  `json:"subdivision,omitempty"`
	Lat         float64 `json:"lat,omitempty"`
	Lon         float64 `json:"lon,omitempty"`
	HasCoords   bool    `json:"has_coords"`
	Network     string  `json:"network,omitempty"` // the database network the answer holds for
	Text        string  `json:"text"`              // the same, for people
}

// Zone is the served zone a name belongs to.
type Zone struct {
	Origin string `json:"origin"`
	File   string `json:"file"`
}

// Where the verdicts of a Report come from.
const (
	SourceProbe = "live probe"    // one probe of each endpoint, now, plus --down overrides
	SourceNode  = "node verdicts" // the serving node's current verdicts and drains
)

// Endpoint is one health-checked (value, check) pair the query involves.
type Endpoint struct {
	ID   string `json:"id"`
	Name string `json:"name"` // protocol://address:port/path
	Up   bool   `json:"up"`
	// Since is when the verdict last changed (SourceNode); zero for
	// SourceProbe, where one probe cannot tell how long the state lasted,
	// and for an endpoint the node has no verdict for yet.
	Since time.Time `json:"since"`
	// Probed is when the one live probe ran (SourceProbe only).
	Probed  time.Time     `json:"probed,omitzero"`
	Reason  string        `json:"reason,omitempty"`  // the probe's outcome ("status 200", "connection refused")
	Latency time.Duration `json:"latency,omitempty"` // the probe's duration
	Drained bool          `json:"drained,omitempty"` // an operator drained its value
	// Observations are the observers' latest votes (SourceNode only).
	Observations []healthmesh.Observation `json:"observations,omitempty"`
}

// Checked is the health a report is explained with.
type Checked struct {
	Source    string       // SourceProbe or SourceNode
	Down      []string     // overrides, as given
	Health    pools.Health // what the lookup obeys
	Endpoints []Endpoint   // the state of each endpoint asked about, in order
}

// Verdicts supplies health for a report: Live probes, Node reads a running
// node.
type Verdicts interface {
	// Check returns the health for a lookup involving eps. It may block
	// (probing) until ctx ends.
	Check(ctx context.Context, eps []healthmesh.Endpoint) Checked
}

// Run looks q up in set, as a node with GeoIP databases g (nil: none)
// would answer it with the health v supplies, and reports why.
func Run(ctx context.Context, set *zones.Set, g *geo.Reader, v Verdicts, q Query) *Report {
	client := pools.NewClient(q.Client.Addr, g)
	eps := Involved(set, q.Name, q.Type, client)
	chk := v.Check(ctx, eps)
	// A fresh client: the first lookup cached its location, and the trace
	// should show the lookup exactly as the query path does it.
	client = pools.NewClient(q.Client.Addr, g)
	tr := &pools.Trace{}
	res := set.LookupFor(q.Name, q.Type, zones.Query{Client: &client, Health: chk.Health, Trace: tr})

	r := &Report{
		Name:      q.Name,
		Type:      typeName(q.Type),
		Client:    q.Client,
		Location:  location(client.Location(), g != nil),
		Down:      chk.Down,
		Health:    chk.Source,
		Endpoints: nonNil(chk.Endpoints),
		Trace:     nonNil(tr.Lines),
		Answer:    rrLines(res.Answer),
		Authority: rrLines(res.Ns),
		Dynamic:   res.Dynamic,
		Scope:     res.Scope,
	}
	r.Kind, r.Result, r.Rcode = kindText(res.Kind)
	if res.Zone != nil {
		r.Zone = &Zone{Origin: res.Zone.Origin, File: res.Zone.Path}
	}
	if res.Dynamic {
		d := res.Decision
		r.Outcome, r.TTL = d.Outcome.String(), d.TTL
		if d.Rule != nil {
			r.Rule = d.Rule.Index + 1
		}
		if d.Pool != nil {
			r.Pool = d.Pool.ID
		}
	}
	return r
}

// Involved returns the health-checked endpoints of the dynamic records a
// lookup of name touches (the name and every owner in its CNAME chain).
func Involved(set *zones.Set, name string, qtype uint16, c pools.Client) []healthmesh.Endpoint {
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

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

// kindText names a lookup outcome for machines, for people and as an rcode.
func kindText(k zones.Kind) (kind, result, rcode string) {
	switch k {
	case zones.Refused:
		return "refused", "REFUSED (not in any served zone)", "REFUSED"
	case zones.NameError:
		return "nxdomain", "NXDOMAIN", "NXDOMAIN"
	case zones.NoData:
		return "nodata", "NOERROR, no data", "NOERROR"
	case zones.Delegation:
		return "referral", "referral", "NOERROR"
	case zones.YXDomain:
		return "yxdomain", "YXDOMAIN", "YXDOMAIN"
	}
	return "success", "NOERROR", "NOERROR"
}

// rrLines formats RRs one per line with single spaces, as people read them.
func rrLines(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

func location(l geo.Location, haveDB bool) Location {
	out := Location{Databases: haveDB, Found: l.Found, Continent: l.Continent, Country: l.Country,
		Subdivision: l.Subdivision, HasCoords: l.HasCoords, Lat: l.Lat, Lon: l.Lon}
	if l.Prefix.IsValid() {
		out.Network = l.Prefix.String()
	}
	out.Text = describeLocation(l, haveDB)
	return out
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

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

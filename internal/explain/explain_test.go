package explain

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

func TestParseClient(t *testing.T) {
	tests := []struct {
		in      string
		want    Client
		wantErr bool
	}{
		{"192.0.2.7", Client{Addr: netip.MustParseAddr("192.0.2.7"), Source: 32}, false},
		{"::ffff:192.0.2.7", Client{Addr: netip.MustParseAddr("192.0.2.7"), Source: 32}, false},
		{"198.51.100.7/24", Client{Addr: netip.MustParseAddr("198.51.100.0"), Source: 24, ECS: true}, false},
		{"2001:db8:2::1/56", Client{Addr: netip.MustParseAddr("2001:db8:2::"), Source: 56, ECS: true}, false},
		{"2001:db8::1", Client{Addr: netip.MustParseAddr("2001:db8::1"), Source: 128}, false},
		{"nope", Client{}, true},
		{"192.0.2.0/33", Client{}, true},
		{"", Client{}, true},
	}
	for _, tt := range tests {
		got, err := ParseClient(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseClient(%q): got %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

const zone = `'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  ttl: 60
  values: [127.0.0.21, 127.0.0.22]
  dynamic:
    pools:
      primary: {fallback: backup, values: [{value: 127.0.0.21}]}
      backup: {values: [{value: 127.0.0.22}]}
    rules:
      - {subnets: [10.0.0.0/8], pool: backup}
      - {pool: primary}
  octodns:
    healthcheck: {protocol: TCP, port: PORT}
`

// loadSet loads zone with its values checked on port.
func loadSet(t *testing.T, port string) *zones.Set {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "example.com.yaml"), []byte(strings.Replace(zone, "PORT", port, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	set, ps := zones.Load(zones.Options{Dir: dir, SOA: zones.SOAValues{RName: "hostmaster", TTL: 3600, Minimum: 60},
		DegradedTTL: 10})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	return set
}

// fixed is Verdicts with a given Health, for the lookups; it reports every
// endpoint up.
type fixed struct{ h pools.Health }

func (f fixed) Check(_ context.Context, eps []healthmesh.Endpoint) Checked {
	c := Checked{Source: SourceNode, Health: f.h}
	for _, e := range eps {
		c.Endpoints = append(c.Endpoints, Endpoint{ID: e.ID(), Name: e.String(), Up: true})
	}
	return c
}

// down marks values down by address.
type down map[string]bool

func (d down) State(_ *pools.Record, v *pools.Value) pools.State {
	if d[v.Value] {
		return pools.Unhealthy
	}
	return pools.Healthy
}
func (down) Drained(*pools.Record, *pools.Pool, *pools.Value) bool { return false }

func TestRun(t *testing.T) {
	set := loadSet(t, "9")
	client := func(s string) Client {
		c, err := ParseClient(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name   string
		q      Query
		h      pools.Health
		want   string // kind rcode outcome rule pool ttl scope
		answer []string
	}{
		{"primary", Query{"app.example.com.", dns.TypeA, client("192.0.2.99")}, down{},
			"success NOERROR pool 2 primary 60 1", []string{"app.example.com. 60 IN A 127.0.0.21"}},
		{"subnet rule", Query{"app.example.com.", dns.TypeA, client("10.1.2.0/24")}, down{},
			"success NOERROR pool 1 backup 60 8", []string{"app.example.com. 60 IN A 127.0.0.22"}},
		{"fallback", Query{"app.example.com.", dns.TypeA, client("192.0.2.99")}, down{"127.0.0.21": true},
			"success NOERROR fallback 2 backup 10 1", []string{"app.example.com. 10 IN A 127.0.0.22"}},
		{"fail-open", Query{"app.example.com.", dns.TypeA, client("192.0.2.99")}, down{"127.0.0.21": true, "127.0.0.22": true},
			"success NOERROR failopen 2  10 1", []string{"app.example.com. 10 IN A 127.0.0.21", "app.example.com. 10 IN A 127.0.0.22"}},
		{"nodata", Query{"app.example.com.", dns.TypeMX, client("192.0.2.99")}, down{}, "nodata NOERROR  0  0 0", nil},
		{"nxdomain", Query{"nope.example.com.", dns.TypeA, client("192.0.2.99")}, down{}, "nxdomain NXDOMAIN  0  0 0", nil},
		{"refused", Query{"example.org.", dns.TypeA, client("192.0.2.99")}, down{}, "refused REFUSED  0  0 0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(context.Background(), set, nil, fixed{tt.h}, tt.q)
			got := strings.Join([]string{r.Kind, r.Rcode, r.Outcome, strconv.Itoa(r.Rule), r.Pool, strconv.Itoa(int(r.TTL)), strconv.Itoa(r.Scope)}, " ")
			if got != tt.want {
				t.Errorf("got %q; want %q\ntrace: %q", got, tt.want, r.Trace)
			}
			if !reflect.DeepEqual(nonNil(tt.answer), r.Answer) {
				t.Errorf("got answer %q; want %q", r.Answer, tt.answer)
			}
			wantEPs := 0
			if strings.HasPrefix(tt.q.Name, "app.") {
				wantEPs = 2
			}
			if len(r.Endpoints) != wantEPs || r.Health != SourceNode {
				t.Errorf("got %d endpoints from %q; want %d from %q", len(r.Endpoints), r.Health, wantEPs, SourceNode)
			}
			if r.Location.Databases || r.Location.Text != "unknown (no geoip databases configured)" {
				t.Errorf("got location %+v; want no databases", r.Location)
			}
		})
	}
}

// TestLiveDown checks explain --down: a listed value fails its checks and
// a listed pool is drained, whatever the probes of the (listening) values
// say.
func TestLiveDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.21:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln2, err := net.Listen("tcp", "127.0.0.22:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	set := loadSet(t, port)
	c, _ := ParseClient("192.0.2.99")
	q := Query{"app.example.com.", dns.TypeA, c}
	tests := []struct {
		down        []string
		wantOutcome string
		wantTrace   string
	}{
		{[]string{"pool:primary"}, "fallback", "pool primary: 127.0.0.21 weight 1 status obey: not serviceable (drained)"},
		{[]string{"127.0.0.21", "pool:backup"}, "failopen", "pool primary: 127.0.0.21 weight 1 status obey: not serviceable (health down)"},
		{nil, "pool", "pool primary: 127.0.0.21 weight 1 status obey: serviceable (health up)"},
	}
	for _, tt := range tests {
		// Port 9 on 192.0.2.x is not reachable from tests: a short
		// timeout keeps the probes quick; their verdict does not matter.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		r := Run(ctx, set, nil, Live{Down: tt.down}, q)
		cancel()
		if r.Outcome != tt.wantOutcome || !strings.Contains(strings.Join(r.Trace, "\n"), tt.wantTrace) {
			t.Errorf("down %q: got %s\n%s\nwant %s with %q", tt.down, r.Outcome, strings.Join(r.Trace, "\n"), tt.wantOutcome, tt.wantTrace)
		}
		if !reflect.DeepEqual(r.Down, tt.down) || r.Health != SourceProbe || len(r.Endpoints) != 2 || !r.Endpoints[0].Up || !r.Endpoints[1].Up {
			t.Errorf("got down %q, health %q, endpoints %+v; want %q, %q, two up", r.Down, r.Health, r.Endpoints, tt.down, SourceProbe)
		}
	}
}

func TestEndpointText(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		e    Endpoint
		want string
	}{
		{Endpoint{Name: "http://127.0.0.21:80/health", Up: true, Probed: at, Reason: "status 200", Latency: 3140 * time.Microsecond},
			"http://127.0.0.21:80/health: up at one probe, 2026-01-02T15:04:05Z (status 200, 3ms)"},
		{Endpoint{Name: "http://127.0.0.21:80/health", Up: true, Since: at, Reason: "status 200", Latency: 3140 * time.Microsecond},
			"http://127.0.0.21:80/health: up since 2026-01-02T15:04:05Z (status 200, 3ms)"},
		{Endpoint{Name: "http://127.0.0.23:80/health", Up: true},
			"http://127.0.0.23:80/health: up (no verdict yet)"},
		{Endpoint{Name: "tcp://127.0.0.22:443", Since: at, Drained: true, Observations: []healthmesh.Observation{
			{Observer: "n1", Region: "eu", Up: false}, {Observer: "n2", Region: "us", Up: true}}},
			"tcp://127.0.0.22:443: down since 2026-01-02T15:04:05Z (votes: eu/n1 down, us/n2 up, drained)"},
	}
	for _, tt := range tests {
		if got := tt.e.text(); got != tt.want {
			t.Errorf("got %q; want %q", got, tt.want)
		}
	}
	r := &Report{Name: "a.example.", Type: "A", Client: Client{Addr: netip.MustParseAddr("192.0.2.9"), Source: 32},
		Location: Location{Text: "unknown"}, Health: SourceNode, Endpoints: []Endpoint{tests[0].e}, Kind: "success", Result: "NOERROR"}
	var b bytes.Buffer
	r.Text(&b)
	if want := "health (this node's verdicts and drains, now):\n  http://127.0.0.21:80/health: up"; !strings.Contains(b.String(), want) {
		t.Errorf("got:\n%s\nwant it to contain %q", b.String(), want)
	}
}

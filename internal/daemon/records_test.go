package daemon

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridiandns/meridian/internal/api"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
)

// fakeHealth marks values down, and values or pools drained, by name.
type fakeHealth struct{ down, drained map[string]bool }

func (f fakeHealth) State(_ *pools.Record, v *pools.Value) pools.State {
	if f.down[v.Value] {
		return pools.Unhealthy
	}
	return pools.Healthy
}

func (f fakeHealth) Drained(_ *pools.Record, p *pools.Pool, v *pools.Value) bool {
	return f.drained[v.Value] || (p != nil && f.drained["pool:"+p.ID])
}

const outcomeZone = `'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  values: [192.0.2.1, 192.0.2.2]
  dynamic:
    pools:
      eu: {fallback: us, values: [{value: 192.0.2.1}]}
      us: {values: [{value: 192.0.2.2}, {value: 192.0.2.3, status: down}]}
    rules:
      - {subnets: [10.0.0.0/8], pool: eu}
      - {pool: us}
`

// TestRecordOutcomes compares where the status says each rule's clients
// are answered from with what Select decides for a client of that rule,
// with origins down and drains set; and which values it says are served.
func TestRecordOutcomes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "example.com.yaml"), []byte(outcomeZone), 0o644); err != nil {
		t.Fatal(err)
	}
	set, ps := zones.Load(zones.Options{Dir: dir, DynamicTTL: 30, DegradedTTL: 10})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	recs := map[string]*pools.Record{}
	for _, r := range set.Policies() {
		recs[r.Name] = r
	}
	clients := map[string][]netip.Addr{ // one client per rule
		"app.example.com.": {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("192.0.2.99")},
	}
	tests := []struct {
		name          string
		down, drained []string
		record        string
		wantOutcome   string   // of the record
		wantRules     []string // outcome/served_by of each rule
		wantServed    string   // the values served, pools' then the record's own
	}{
		{"all up", nil, nil, "app.example.com.", "pool", []string{"pool/eu", "pool/us"}, "[192.0.2.1 192.0.2.2]"},
		{"eu down", []string{"192.0.2.1"}, nil, "app.example.com.", "fallback", []string{"fallback/us", "pool/us"}, "[192.0.2.2]"},
		{"eu drained", nil, []string{"pool:eu"}, "app.example.com.", "fallback", []string{"fallback/us", "pool/us"}, "[192.0.2.2]"},
		{"every origin down", []string{"192.0.2.1", "192.0.2.2"}, nil, "app.example.com.", "failopen",
			[]string{"failopen/", "failopen/"}, "[own 192.0.2.1 own 192.0.2.2]"},
		{"every origin down, one fail-open value drained", []string{"192.0.2.1", "192.0.2.2"}, []string{"192.0.2.2"}, "app.example.com.", "failopen",
			[]string{"failopen/", "failopen/"}, "[own 192.0.2.1]"},
		{"us down", []string{"192.0.2.2"}, nil, "app.example.com.", "failopen", []string{"pool/eu", "failopen/"}, "[192.0.2.1 own 192.0.2.1 own 192.0.2.2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := fakeHealth{down: map[string]bool{}, drained: map[string]bool{}}
			for _, v := range tt.down {
				h.down[v] = true
			}
			for _, v := range tt.drained {
				h.drained[v] = true
			}
			r := recs[tt.record]
			got := record(h, r, h.drained)
			if got.Outcome != tt.wantOutcome {
				t.Errorf("record outcome: got %s; want %s", got.Outcome, tt.wantOutcome)
			}
			for i, ru := range got.Rules {
				if s := ru.Outcome + "/" + ru.ServedBy; s != tt.wantRules[i] {
					t.Errorf("rule %d: got %s; want %s", i+1, s, tt.wantRules[i])
				}
				// The same decision as answers make.
				c := pools.NewClient(clients[tt.record][i], nil)
				d := r.Select(&c, h, nil)
				pool := ""
				if d.Pool != nil {
					pool = d.Pool.ID
				}
				if want := d.Outcome.String() + "/" + pool; ru.Outcome+"/"+ru.ServedBy != want {
					t.Errorf("rule %d: status says %s/%s; Select answers %s", i+1, ru.Outcome, ru.ServedBy, want)
				}
			}
			if s := fmt.Sprint(servedValues(got)); s != tt.wantServed {
				t.Errorf("served: got %s; want %s", s, tt.wantServed)
			}
		})
	}
}

// servedValues lists the values rec says are served: its pools' values,
// then its own, marked "own".
func servedValues(rec api.Record) []string {
	var out []string
	for _, p := range rec.Pools {
		for _, v := range p.Values {
			if v.Served {
				out = append(out, v.Value)
			}
		}
	}
	for _, v := range rec.Values {
		if v.Served {
			out = append(out, "own "+v.Value)
		}
	}
	return out
}

package cli

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/api"
)

func TestStatusArgs(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--bogus"}, 2, "unknown flag --bogus"},
		{[]string{"--json=yes"}, 2, "takes no value"},
		{[]string{"--api"}, 2, "needs a value"},
		{[]string{"--api", "ftp://x"}, 1, "want a URL"},
		{[]string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, 1, "none.yaml"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var errOut bytes.Buffer
			if code := Run(append([]string{"status"}, tt.args...), io.Discard, &errOut); code != tt.wantCode {
				t.Errorf("got exit %d; want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("got stderr %q; want it to contain %q", errOut.String(), tt.wantStderr)
			}
		})
	}
}

// TestStatusFromConfig finds the API through api.listen; reading needs no
// token, so an unreadable token file does not stop it.
func TestStatusFromConfig(t *testing.T) {
	s, err := api.New(api.Options{}, &roundTripBackend{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "meridian.yaml")
	os.WriteFile(cfg, []byte("api:\n  listen: "+strings.TrimPrefix(srv.URL, "http://")+"\n  token_file: missing.token\n"), 0o600)

	var out, errOut bytes.Buffer
	if code := Run([]string{"status", "--config", cfg}, &out, &errOut); code != 0 {
		t.Fatalf("got exit %d (%s); want 0", code, errOut.String())
	}
	for _, want := range []string{"api:    " + srv.URL + "\n", "REGION  NODE  STATE  ADDRESS  ZONE SET\n", "drains: none\n", "last reload: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got:\n%s\nwant it to contain %q", out.String(), want)
		}
	}
}

// TestStatusDrift prints members' zone sets, drifting or not, and this
// node's zones with their serials.
func TestStatusDrift(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	const good, odd = "3f2a9c0d11b2e4f5", "0000000000000000"
	member := func(name, digest string, differs, drifting bool) healthmesh.Member {
		m := healthmesh.Member{Name: name, Region: "eu", State: "alive",
			ZoneSet: healthmesh.MemberZones{Digest: digest, Count: 1, Differs: differs, Drifting: drifting}}
		if differs {
			m.ZoneSet.Since = now.Add(-time.Minute)
		}
		return m
	}
	zones := []healthmesh.ZoneSerial{{Origin: "example.com.", Serial: 1767366245, Hash: "abcdef012345"}}
	tests := []struct {
		name string
		st   healthmesh.Status
		want []string
	}{
		{"another node drifts", healthmesh.Status{Node: "n1",
			Members: []healthmesh.Member{member("n1", good, false, false), member("n2", odd, true, true), member("n3", good, false, false),
				{Name: "n4", Region: "eu", State: "alive", MetaError: "meta: malformed zones field"}},
			ZoneSet: healthmesh.LocalZones{Digest: good, Count: 1, Majority: good, Drifting: 1, Grace: 30 * time.Second, Zones: zones}},
			[]string{
				"n1 (this node)  alive  -        3f2a9c0d11b2e4f5 (1 zone)\n",
				"n2              alive  -        0000000000000000 (1 zone) DRIFTING since 2026-01-02T15:03:05Z (1m0s ago)\n",
				"n4              alive  -        unreadable (meta: malformed zones field)\n",
				"zone set: 3f2a9c0d11b2e4f5 (1 zone), the same as the majority of the live members\ndrifting: 1 live member\n",
				"ZONE          SERIAL      HASH\nexample.com.  1767366245  abcdef012345\n",
			}},
		{"this node differs, not yet flagged", healthmesh.Status{Node: "n2",
			Members: []healthmesh.Member{member("n1", good, false, false), member("n2", odd, true, false), member("n3", good, false, false)},
			ZoneSet: healthmesh.LocalZones{Digest: odd, Count: 1, Majority: good, Grace: 30 * time.Second, Zones: zones}},
			[]string{
				"n2 (this node)  alive  -        0000000000000000 (1 zone) differs since 2026-01-02T15:03:05Z (1m0s ago)\n",
				"zone set: 0000000000000000 (1 zone), differs from the majority's 3f2a9c0d11b2e4f5 since 2026-01-02T15:03:05Z (1m0s ago) (flagged after 30s)\n",
			}},
		{"this node drifts", healthmesh.Status{Node: "n2",
			Members: []healthmesh.Member{member("n1", good, false, false), member("n2", odd, true, true), member("n3", good, false, false)},
			ZoneSet: healthmesh.LocalZones{Digest: odd, Count: 1, Majority: good, Drifting: 1, Grace: 30 * time.Second, Zones: zones}},
			[]string{"zone set: 0000000000000000 (1 zone), DRIFTING: differs from the majority's 3f2a9c0d11b2e4f5 since 2026-01-02T15:03:05Z (1m0s ago)\n"}},
		{"no majority", healthmesh.Status{Node: "n1",
			Members: []healthmesh.Member{member("n1", good, false, false), member("n2", odd, false, false)},
			ZoneSet: healthmesh.LocalZones{Digest: good, Count: 1, Zones: zones}},
			[]string{"zone set: 3f2a9c0d11b2e4f5 (1 zone), no zone set is served by a majority of the live members\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeStatus(&b, "http://127.0.0.1:8053", api.StatusReply{Status: tt.st, Now: now}); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("got:\n%s\nwant it to contain %q", b.String(), want)
				}
			}
		})
	}
}

// TestStatusServing names the records that fall back or fail open before
// anything else, and marks which values are served.
func TestStatusServing(t *testing.T) {
	up := api.Value{Value: "192.0.2.2", Weight: 1, Status: "obey", Endpoint: "e2", Verdict: "up", Serviceable: true, Served: true}
	down := api.Value{Value: "192.0.2.1", Weight: 1, Status: "obey", Endpoint: "e1", Verdict: "down"}
	spare := api.Value{Value: "192.0.2.3", Weight: 1, Status: "obey", Endpoint: "e3", Verdict: "up", Serviceable: true}
	st := api.StatusReply{
		Records: []api.Record{{Name: "app.example.com.", Type: "A", Outcome: "fallback",
			Rules: []api.Rule{{Pool: "eu", Outcome: "fallback", ServedBy: "us"}, {Pool: "us", Outcome: "pool", ServedBy: "us"}},
			Pools: []api.Pool{{ID: "eu", Fallback: "us", Values: []api.Value{down}}, {ID: "us", Served: true, Values: []api.Value{up}},
				{ID: "spare", Values: []api.Value{spare}}},
			Values: []api.Value{{Value: "192.0.2.1", Weight: 1, Status: "obey", Verdict: "unknown", Serviceable: true}}}},
		Serving: api.Serving{Fallback: []string{"app.example.com. A"}, FailOpen: []string{},
			Decisions: map[string]uint64{"pool": 7, "fallback": 3}, Degraded: 3},
	}
	var b bytes.Buffer
	if err := writeStatus(&b, "http://127.0.0.1:8053", st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\n\nFALLBACK:  app.example.com. A answers rule 1 from pool us instead of eu\n" +
			"degraded answers since start: 3 (fallback 3, nearest 0, fail-open 0) of 10\n\nREGION",
		"eu           us        192.0.2.1  1       down     no\n",
		"us           -         192.0.2.2  1       up       yes\n",
		"spare        -         192.0.2.3  1       up       standby\n",
		"(fail-open)  -         192.0.2.1  -       -        standby\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("got:\n%s\nwant it to contain %q", b.String(), want)
		}
	}
}

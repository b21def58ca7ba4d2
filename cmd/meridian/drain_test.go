package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
)

// drainZone has dynamic A, AAAA and CNAME records whose values are not
// probed, so that only drains change what they serve.
const drainZone = `'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  values: [127.0.0.12, 127.0.0.13]
  dynamic:
    pools:
      eu: {fallback: us, values: [{value: 127.0.0.12, status: up}]}
      us: {values: [{value: 127.0.0.13, status: up}]}
    rules:
      - {geos: [EU], pool: eu}
      - {pool: us}
app6:
  type: AAAA
  values: ['2001:db8::12']
  dynamic:
    pools:
      one: {values: [{value: '2001:db8::12', status: up}, {value: '2001:db8::13', status: up}]}
    rules:
      - {pool: one}
cdn:
  type: CNAME
  value: cdn-us.example.net.
  dynamic:
    pools:
      eu: {values: [{value: cdn-eu.example.net., status: up}, {value: cdn-eu3.example.net., status: up}]}
    rules:
      - {pool: eu}
`

// TestDrainTargets runs `meridian drain` against a node: a target the
// zones do not name is refused with the closest ones (unless forced), an
// upper-case name or address is stored canonical and drains its value, a
// long reason is refused, and an undo of what is not drained is refused.
func TestDrainTargets(t *testing.T) {
	n := testbin.Start(t, testbin.Config(baseConfig), map[string]string{"zones/example.com.yaml": drainZone})
	bin := testbin.Build(t)
	drain := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(bin, append(append([]string{"drain"}, args...), "--api", n.API)...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // substring
	}{
		{"undo before any drain", []string{"--undo", "pool:nonexistent"}, 1, "pool:nonexistent is not drained; nothing is drained (HTTP 404)"},
		{"typo", []string{"cdn-eu2.example.net"}, 1,
			"cdn-eu2.example.net is no value or pool:ID of the dynamic records served; did you mean cdn-eu.example.net, cdn-eu3.example.net"},
		{"typo of a pool", []string{"pool:euu"}, 1, "did you mean pool:eu, pool:us?"},
		{"nothing close", []string{"198.51.100.99"}, 1, "198.51.100.99 is no value or pool:ID of the dynamic records served. Set force (meridian drain --force) to drain it anyway"},
		{"unknown pool", []string{"pool:nonexistent"}, 1, "pool:nonexistent is no pool id of the dynamic records served; the pools are pool:eu, pool:one, pool:us. Set force"},
		{"forced", []string{"cdn-new.example.net", "--force"}, 0, "drained cdn-new.example.net until undone"},
		{"upper-case name", []string{"CDN-EU.EXAMPLE.NET."}, 0, "drained cdn-eu.example.net until undone"},
		{"upper-case address", []string{"2001:DB8:0:0::12", "--reason", "disk swap"}, 0, "drained 2001:db8::12 until undone (reason: disk swap)"},
		{"long reason", []string{"pool:eu", "--reason", strings.Repeat("r", 1500)}, 2, "reason is 1500 bytes; at most 200 are allowed"},
		{"undo never drained", []string{"--undo", "127.0.0.13"}, 1,
			"127.0.0.13 is not drained; drained now: 2001:db8::12, cdn-eu.example.net, cdn-new.example.net (HTTP 404)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := drain(tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Errorf("drain %q: got exit %d, %q; want exit %d containing %q", tt.args, code, out, tt.wantCode, tt.wantOut)
			}
		})
	}

	// The API refuses the same, with the same words.
	for _, tt := range []struct {
		method, path, body string
		wantCode           int
		wantErr            string
	}{
		{"POST", "/api/v1/drains", `{"target":"pool:eu","reason":"` + strings.Repeat("r", 1500) + `"}`, 400, "at most 200"},
		{"POST", "/api/v1/drains", `{"target":"pool:euu"}`, 400, "pool:euu is no pool id of the dynamic records served; did you mean pool:eu, pool:us?"},
		{"POST", "/api/v1/drains", `{"target":"CDN-EU2.example.net."}`, 400, "cdn-eu2.example.net is no value or pool:ID of the dynamic records served; did you mean cdn-eu.example.net, cdn-eu3.example.net"},
		{"DELETE", "/api/v1/drains/pool:us", "", 404, "pool:us is not drained; drained now: 2001:db8::12, cdn-eu.example.net, cdn-new.example.net"},
		{"DELETE", "/api/v1/drains/CDN-EU3.example.net", "", 404, "cdn-eu3.example.net is not drained; did you mean cdn-eu.example.net"},
	} {
		code, data := apiCall(t, n, tt.method, tt.path, tt.body)
		if code != tt.wantCode || !strings.Contains(apiError(data), tt.wantErr) {
			t.Errorf("%s %s %s: got %d %s; want %d with %q", tt.method, tt.path, tt.body, code, data, tt.wantCode, tt.wantErr)
		}
	}

	// What is drained is what answers see as drained.
	drained := servedValues(t, n)
	for v, want := range map[string]bool{"cdn-eu.example.net.": true, "cdn-eu3.example.net.": false, "2001:db8::12": true,
		"2001:db8::13": false, "127.0.0.12": false} {
		if drained[v] != want {
			t.Errorf("%s: drained %v; want %v (values %v)", v, drained[v], want, drained)
		}
	}
	if got := servedDrains(t, n); len(got) != 3 || !got["cdn-eu.example.net"] || !got["2001:db8::12"] || !got["cdn-new.example.net"] {
		t.Errorf("drains listed: got %v; want the canonical targets", got)
	}

	// Undone under another spelling.
	if out, code := drain("--undo", "CDN-EU.example.net."); code != 0 || !strings.Contains(out, "undrained") {
		t.Errorf("undo: got exit %d, %q", code, out)
	}
	if servedValues(t, n)["cdn-eu.example.net."] {
		t.Error("cdn-eu.example.net. still drained after the undo")
	}
	if out, code := drain("--undo", "cdn-eu.example.net"); code != 1 || !strings.Contains(out, "is not drained (undone at") {
		t.Errorf("second undo: got exit %d, %q; want 1, not drained", code, out)
	}
}

// servedValues returns whether each value of the dynamic records served is
// drained, as /api/v1/status reports it.
func servedValues(t *testing.T, n *testbin.Node) map[string]bool {
	t.Helper()
	_, data := apiCall(t, n, "GET", "/api/v1/status", "")
	var st struct {
		Records []struct {
			Pools []struct {
				Values []struct {
					Value   string
					Drained bool
				}
			}
		}
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("status: %v", err)
	}
	out := map[string]bool{}
	for _, r := range st.Records {
		for _, p := range r.Pools {
			for _, v := range p.Values {
				out[v.Value] = v.Drained
			}
		}
	}
	return out
}

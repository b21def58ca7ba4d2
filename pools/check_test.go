package pools

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func yamlNode(t *testing.T, s string) *yaml.Node {
	t.Helper()
	if s == "" {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestParseCheck(t *testing.T) {
	d := DefaultCheckDefaults()
	tests := []struct {
		name, octodns string
		want          *Check
		problems      []string
	}{
		{"no healthcheck: not probed", "{ignored: false}", nil, nil},
		{"octoDNS defaults", "{healthcheck: {}}",
			&Check{Protocol: "HTTPS", Host: "app.example.com", Path: "/_dns", Port: 443, Interval: 5 * time.Second,
				Timeout: 2 * time.Second, Rise: 2, Fall: 2, Expect: []StatusRange{{200, 399}}, TLSVerify: true}, nil},
		{"HTTP defaults to port 80", "{healthcheck: {protocol: HTTP, path: /health}}",
			&Check{Protocol: "HTTP", Host: "app.example.com", Path: "/health", Port: 80, Interval: 5 * time.Second,
				Timeout: 2 * time.Second, Rise: 2, Fall: 2, Expect: []StatusRange{{200, 399}}, TLSVerify: true}, nil},
		{"meridian keys alone enable checking", `{meridian: {healthcheck: {interval: 1s, timeout: 500ms, rise: 3, fall: 1,
  expect: ["200-299", "404"], body: ok, tls_verify: false, headers: {X-Check: meridian}, target: "lb.example.net:8443"}}}`,
			&Check{Protocol: "HTTPS", Host: "app.example.com", Path: "/_dns", Port: 443, Interval: time.Second,
				Timeout: 500 * time.Millisecond, Rise: 3, Fall: 1, Expect: []StatusRange{{200, 299}, {404, 404}}, Body: "ok",
				TLSVerify: false, Headers: map[string]string{"X-Check": "meridian"}, Target: "lb.example.net:8443"}, nil},
		{"TCP with port", "{healthcheck: {protocol: TCP, port: 5432}}",
			&Check{Protocol: "TCP", Host: "app.example.com", Path: "/_dns", Port: 5432, Interval: 5 * time.Second,
				Timeout: 2 * time.Second, Rise: 2, Fall: 2, Expect: []StatusRange{{200, 399}}, TLSVerify: true}, nil},
		{"ICMP is not supported", "{healthcheck: {protocol: ICMP}}", nil,
			[]string{"1: healthcheck protocol ICMP is not supported; use HTTP, HTTPS or TCP"}},
		{"UDP is not supported", "{healthcheck: {protocol: UDP}}", nil,
			[]string{"1: healthcheck protocol UDP is not supported; use HTTP, HTTPS or TCP"}},
		{"timeout not shorter than interval", "{meridian: {healthcheck: {interval: 1s, timeout: 1s}}}", nil,
			[]string{"1: healthcheck timeout 1s must be shorter than the interval 1s"}},
		{"bad values", "{healthcheck: {port: 70000}, meridian: {healthcheck: {interval: soon, rise: 0, expect: 99-100, tls_verify: maybe, target: nohost, colour: red}}}", nil,
			[]string{`1: invalid healthcheck port 70000`, `1: invalid healthcheck interval 'soon', expected a duration like 1s or 500ms`,
				`1: invalid healthcheck rise 0, expected 1..100`, `1: invalid healthcheck expect: "99-100" is not a status code or range like 200-399`,
				`1: invalid healthcheck tls_verify 'maybe', expected true or false`, `1: invalid healthcheck target "nohost", expected host:port`,
				`1: unknown key "colour" in octodns.meridian.healthcheck`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, probs := ParseCheck("app.example.com", yamlNode(t, tt.octodns), d)
			var ps []string
			for _, p := range probs {
				ps = append(ps, strconv.Itoa(p.Line)+": "+p.Msg)
			}
			if strings.Join(ps, "\n") != strings.Join(tt.problems, "\n") {
				t.Errorf("problems:\ngot  %q\nwant %q", ps, tt.problems)
			}
			if tt.problems == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSetCheckEndpoints(t *testing.T) {
	r := mustRecord(t, 1, []string{"192.0.2.1"}, `
pools:
  a: {values: [{value: 192.0.2.10}, {value: 192.0.2.11, status: up}, {value: 192.0.2.12, status: down}]}
rules:
  - {pool: a}
`, "")
	c := &Check{Protocol: "TCP", Port: 22}
	r.SetCheck(c)
	vs := r.Pools[0].Values
	if vs[0].Endpoint != EndpointID("192.0.2.10", c) || vs[1].Endpoint != "" || vs[2].Endpoint != "" {
		t.Errorf("got %q %q %q; want only the obey value probed", vs[0].Endpoint, vs[1].Endpoint, vs[2].Endpoint)
	}
}

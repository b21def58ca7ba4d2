package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
)

// TestAPIHostNames runs the binary with api.allowed_hosts and asks its
// API with the Host headers a browser would send: the node's address,
// localhost and the configured name are answered; a name a DNS-rebinding
// page would use gets 421 with a message saying what to do, on the API
// and on /metrics alike.
func TestAPIHostNames(t *testing.T) {
	n := testbin.Start(t, testbin.Config(baseConfig+"api: {listen: \"127.0.0.1:0\", allowed_hosts: [meridian.internal]}\n"),
		map[string]string{"zones/example.org.yaml": orgYAML})
	_, port, _ := strings.Cut(n.API, ":")
	for _, tt := range []struct {
		host string
		want int
	}{
		{n.API, 200},
		{"localhost:" + port, 200},
		{"meridian.internal:" + port, 200},
		{"rebind.evil.example:" + port, 421},
		{"meridian.internal.evil.example", 421},
	} {
		for _, path := range []string{"/api/v1/status", "/metrics"} {
			code, data := getWithHost(t, n, path, tt.host)
			if code != tt.want {
				t.Errorf("Host %s, GET %s: got %d; want %d", tt.host, path, code, tt.want)
			}
			if code == http.StatusMisdirectedRequest && !strings.Contains(apiError(data), "api.allowed_hosts") {
				t.Errorf("Host %s: the refusal does not name api.allowed_hosts: %s", tt.host, data)
			}
		}
	}
}

// getWithHost GETs path from n's API with the Host header set to host.
func getWithHost(t *testing.T, n *testbin.Node, path, host string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+n.API+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host // net/http sends this, not a "Host" in Header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

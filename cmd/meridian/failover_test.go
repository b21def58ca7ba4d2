package main

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/internal/testorigin"
	"github.com/miekg/dns"
)

// failoverZone has one catch-all pool on 127.0.0.2 falling back to
// 127.0.0.3, both checked over HTTP on the same port.
func failoverZone(port string) string {
	return fmt.Sprintf(`'':
  - {type: NS, values: [ns1.example.com.]}
ns1: {type: A, value: 192.0.2.53}
app:
  type: A
  ttl: 30
  values: [127.0.0.2, 127.0.0.3]
  dynamic:
    pools:
      primary: {fallback: secondary, values: [{value: 127.0.0.2}]}
      secondary: {values: [{value: 127.0.0.3}]}
    rules:
      - {pool: primary}
  octodns:
    healthcheck: {protocol: HTTP, port: %s, path: /health, host: app.example.com}
    meridian:
      healthcheck: {interval: 1s, timeout: 500ms, rise: 2, fall: 2, expect: "200-299", body: ok}
`, port)
}

// answerA returns the A answers for name and their TTL.
func answerA(t *testing.T, addr, name string) (string, uint32) {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(q(name, dns.TypeA), addr)
	if err != nil {
		return "error: " + err.Error(), 0
	}
	out, ttl := addressesOf(r)
	return strings.Join(out, " "), ttl
}

// addressesOf returns the addresses of r's A answers, in answer order,
// and their TTL.
func addressesOf(r *dns.Msg) ([]string, uint32) {
	var out []string
	var ttl uint32
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
			ttl = a.Hdr.Ttl
		}
	}
	return out, ttl
}

// waitAnswer polls every 10ms until name answers want and returns how long
// that took, or fails after limit.
func waitAnswer(t *testing.T, addr, name, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, _ := answerA(t, addr, name)
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("answer for %s: still %q after %v; want %q", name, got, limit, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// TestFailoverTime measures, through the built binary and real DNS
// queries, how long an origin that stops answering stays in answers and
// how long a returning one takes to come back (interval 1s, timeout 500ms,
// fall 2, rise 2), over 10 trials alternating refused connections and hung
// requests.
func TestFailoverTime(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a minute")
	}
	primary := testorigin.NewHTTP(t, "127.0.0.2:0", "ok\n")
	_, port, _ := net.SplitHostPort(primary.Addr)
	secondary := testorigin.NewHTTP(t, "127.0.0.3:"+port, "ok\n")
	n := testbin.Start(t, baseConfig+"dynamic_ttl: 30\ndegraded_ttl: 5\n", map[string]string{
		"zones/example.com.yaml": failoverZone(port),
	})
	waitAnswer(t, n.Addr, "app.example.com.", "127.0.0.2", 5*time.Second)

	const trials = 10
	var out, back []time.Duration
	for i := range trials {
		mode := "refused"
		if i%2 == 1 {
			mode = "hung"
			primary.SetMode(testorigin.Hang)
		} else {
			primary.Stop()
		}
		out = append(out, waitAnswer(t, n.Addr, "app.example.com.", "127.0.0.3", 10*time.Second))
		if _, ttl := answerA(t, n.Addr, "app.example.com."); ttl != 5 {
			t.Errorf("trial %d: fallback answer TTL %d; want degraded_ttl 5", i, ttl)
		}
		if mode == "hung" {
			primary.SetMode(testorigin.OK)
		} else {
			primary.Start()
		}
		back = append(back, waitAnswer(t, n.Addr, "app.example.com.", "127.0.0.2", 10*time.Second))
		t.Logf("trial %2d (%s): out of answers after %v, back after %v", i+1, mode, out[i].Round(time.Millisecond), back[i].Round(time.Millisecond))
	}
	t.Logf("out of answers: p50 %v p90 %v max %v", percentile(out, .5).Round(time.Millisecond),
		percentile(out, .9).Round(time.Millisecond), percentile(out, 1).Round(time.Millisecond))
	t.Logf("back in answers: p50 %v p90 %v max %v", percentile(back, .5).Round(time.Millisecond),
		percentile(back, .9).Round(time.Millisecond), percentile(back, 1).Round(time.Millisecond))
	if p := percentile(out, .9); p > 3*time.Second {
		t.Errorf("failover p90 %v; want at most 3s", p)
	}
	// Back within rise intervals of its return, plus the phase of the
	// probe schedule: at most 3 intervals.
	if p := percentile(back, .9); p > 3*time.Second {
		t.Errorf("recovery p90 %v; want at most 3s", p)
	}
	if !strings.Contains(n.Logs(), "endpoint verdict changed") || !strings.Contains(n.Logs(), "from=up to=down") {
		t.Errorf("logs: want verdict changes logged\n%s", n.Logs())
	}

	// Both down: fail-open to the record's values with the degraded TTL.
	primary.Stop()
	secondary.Stop()
	waitAnswer(t, n.Addr, "app.example.com.", "127.0.0.2 127.0.0.3", 10*time.Second)
	if _, ttl := answerA(t, n.Addr, "app.example.com."); ttl != 5 {
		t.Errorf("fail-open TTL %d; want 5", ttl)
	}
}

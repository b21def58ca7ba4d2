package pools

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meridiandns/meridian/internal/octoyaml"
	"gopkg.in/yaml.v3"
)

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

func (s StatusRange) String() string {
	if s.Lo == s.Hi {
		return strconv.Itoa(s.Lo)
	}
	return fmt.Sprintf("%d-%d", s.Lo, s.Hi)
}

// Check is how the values of a record are probed: octoDNS's `healthcheck`
// (protocol, host, path, port) plus Meridian's keys under
// `octodns.meridian.healthcheck`, completed from the config's defaults.
type Check struct {
	Protocol  string            // "HTTP", "HTTPS" or "TCP"
	Host      string            // Host header and TLS SNI; "" = the value (IP or host name)
	Path      string            // HTTP(S) path
	Port      int               // port to connect to
	Interval  time.Duration     // time between probes
	Timeout   time.Duration     // per-probe deadline, shorter than Interval
	Rise      int               // consecutive successes that bring a down endpoint up
	Fall      int               // consecutive failures that take an up endpoint down
	Expect    []StatusRange     // accepted HTTP status codes
	Body      string            // substring the HTTP body must contain; "" = any
	TLSVerify bool              // verify the HTTPS certificate
	Headers   map[string]string // extra request headers
	Target    string            // host:port probed instead of the value
}

// Key is a canonical text of everything that decides what is probed and
// how; equal keys (with equal addresses) are probed once.
func (c *Check) Key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%d|%s|%s|%d|%d|%v|%q|%v|%s", c.Protocol, c.Host, c.Path, c.Port,
		c.Interval, c.Timeout, c.Rise, c.Fall, c.Expect, c.Body, c.TLSVerify, c.Target)
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "|%s=%s", k, c.Headers[k])
	}
	return b.String()
}

// EndpointID identifies the (value, check) pair probed for a value: the
// key health verdicts are looked up by, across records and nodes. It is a
// short hash (16 hex digits) so that gossip about it stays small.
func EndpointID(address string, c *Check) string { return endpointID(address, c.Key()) }

func endpointID(address, key string) string {
	h := sha256.Sum256([]byte(address + "|" + key))
	return hex.EncodeToString(h[:8])
}

// SetCheck attaches the record's health check and gives every pool value
// with status obey its endpoint ID. Call before Prepare, before sharing.
func (r *Record) SetCheck(c *Check) {
	r.Check = c
	if c == nil {
		return
	}
	key := c.Key()
	for _, p := range r.Pools {
		for _, v := range p.Values {
			if v.Status == Obey {
				v.Endpoint = endpointID(v.Value, key)
			}
		}
	}
}

// CheckDefaults are the config's `health:` values for keys a record does
// not set.
type CheckDefaults struct {
	Interval  time.Duration
	Timeout   time.Duration
	Rise      int
	Fall      int
	Expect    []StatusRange
	TLSVerify bool
}

// DefaultCheckDefaults are Meridian's defaults: probe every 5s with a 2s
// timeout, two results to change state, 200-399 accepted, TLS verified.
func DefaultCheckDefaults() CheckDefaults {
	return CheckDefaults{Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 2,
		Expect: []StatusRange{{200, 399}}, TLSVerify: true}
}

// ParseCheck reads the health check of a record from its `octodns:`
// mapping. It returns nil when the record has neither
// `octodns.healthcheck` nor `octodns.meridian.healthcheck`: such a record
// is not probed and its `obey` values count as up. host is the default
// Host: the record's name without the trailing dot (octoDNS's default) for
// A and AAAA records, "" for CNAME records, whose values are host names
// that the prober uses as Host and SNI.
func ParseCheck(host string, octodns *yaml.Node, d CheckDefaults) (*Check, []Problem) {
	o := octoyaml.Map(octodns)
	hc := octoyaml.Map(o.Get("healthcheck"))
	mh := octoyaml.Map(octoyaml.Map(o.Get("meridian")).Get("healthcheck"))
	if hc == nil && mh == nil {
		return nil, nil
	}
	c := &Check{Protocol: "HTTPS", Host: host, Path: "/_dns", Port: 443,
		Interval: d.Interval, Timeout: d.Timeout, Rise: d.Rise, Fall: d.Fall,
		Expect: d.Expect, TLSVerify: d.TLSVerify}
	var ps []Problem
	bad := func(n *yaml.Node, format string, args ...any) {
		line := 0
		if n != nil {
			line = n.Line
		}
		ps = append(ps, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	portSet := false
	for _, kv := range octoyaml.Pairs(o.Get("healthcheck")) {
		switch k, v := kv.Key.Value, kv.Val; k {
		case "protocol":
			c.Protocol = octoyaml.Str(v)
			switch c.Protocol {
			case "HTTP", "HTTPS", "TCP":
			case "ICMP", "UDP":
				bad(v, "healthcheck protocol %s is not supported; use HTTP, HTTPS or TCP", c.Protocol)
			}
		case "host":
			c.Host = octoyaml.Str(v)
		case "path":
			c.Path = octoyaml.Str(v)
		case "port":
			n, ok := octoyaml.Int(v)
			if !ok || n < 1 || n > 65535 {
				bad(v, "invalid healthcheck port %s", octoyaml.Repr(v))
			}
			c.Port, portSet = int(n), true
		}
	}
	if c.Protocol == "HTTP" && !portSet {
		c.Port = 80
	}
	for _, kv := range octoyaml.Pairs(octoyaml.Map(o.Get("meridian")).Get("healthcheck")) {
		parseMeridianCheck(c, kv.Key.Value, kv.Val, bad)
	}
	if c.Timeout >= c.Interval {
		bad(octoyaml.Map(o.Get("meridian")).Get("healthcheck"), "healthcheck timeout %s must be shorter than the interval %s", c.Timeout, c.Interval)
	}
	return c, ps
}

// parseMeridianCheck applies one key of octodns.meridian.healthcheck.
func parseMeridianCheck(c *Check, k string, v *yaml.Node, bad func(*yaml.Node, string, ...any)) {
	dur := func(dst *time.Duration) {
		d, err := time.ParseDuration(octoyaml.Str(v))
		if err != nil || d <= 0 {
			bad(v, "invalid healthcheck %s %s, expected a duration like 1s or 500ms", k, octoyaml.Repr(v))
			return
		}
		*dst = d
	}
	count := func(dst *int) {
		n, ok := octoyaml.Int(v)
		if !ok || n < 1 || n > 100 {
			bad(v, "invalid healthcheck %s %s, expected 1..100", k, octoyaml.Repr(v))
			return
		}
		*dst = int(n)
	}
	switch k {
	case "interval":
		dur(&c.Interval)
	case "timeout":
		dur(&c.Timeout)
	case "rise":
		count(&c.Rise)
	case "fall":
		count(&c.Fall)
	case "expect":
		rs, err := ParseExpect(expectItems(v))
		if err != nil {
			bad(v, "invalid healthcheck expect: %v", err)
			return
		}
		c.Expect = rs
	case "body":
		c.Body = octoyaml.Str(v)
	case "tls_verify":
		switch octoyaml.Str(v) {
		case "True":
			c.TLSVerify = true
		case "False":
			c.TLSVerify = false
		default:
			bad(v, "invalid healthcheck tls_verify %s, expected true or false", octoyaml.Repr(v))
		}
	case "headers":
		c.Headers = map[string]string{}
		for _, h := range octoyaml.Pairs(v) {
			c.Headers[h.Key.Value] = octoyaml.Str(h.Val)
		}
	case "target":
		c.Target = octoyaml.Str(v)
		if !strings.Contains(c.Target, ":") {
			bad(v, "invalid healthcheck target %q, expected host:port", c.Target)
		}
	default:
		bad(v, "unknown key %q in octodns.meridian.healthcheck", k)
	}
}

func expectItems(v *yaml.Node) []string {
	if items := octoyaml.Items(v); v != nil && octoyaml.Resolve(v).Kind == yaml.SequenceNode {
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = octoyaml.Str(it)
		}
		return out
	}
	return strings.Split(octoyaml.Str(v), ",")
}

// ParseExpect reads HTTP status ranges: "200-399", "200", or several.
func ParseExpect(items []string) ([]StatusRange, error) {
	var out []StatusRange
	for _, it := range items {
		it = strings.TrimSpace(it)
		lo, hi, isRange := strings.Cut(it, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(strings.TrimSpace(lo))
		h, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
			return nil, fmt.Errorf("%q is not a status code or range like 200-399", it)
		}
		out = append(out, StatusRange{l, h})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty")
	}
	return out, nil
}

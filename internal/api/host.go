package api

import (
	"net"
	"net/netip"
	"strings"
)

// A web page can point a name it controls at 127.0.0.1 (DNS rebinding)
// and then read the API from the operator's browser as its own origin:
// status, explain and metrics need no credentials. The browser still
// sends that name as Host, so the API answers only requests addressed to
// a name it knows: an IP literal, localhost (and names below it, which
// browsers keep on loopback), the host of its listen address, or one of
// api.allowed_hosts.

// hostPolicy is the set of Host names the API answers to besides IP
// literals and localhost.
type hostPolicy struct {
	names map[string]bool // lower case, without a trailing dot
}

func newHostPolicy(listen string, allowed []string) hostPolicy {
	p := hostPolicy{names: map[string]bool{}}
	if h, _, err := net.SplitHostPort(listen); err == nil && h != "" {
		p.names[canonicalHost(h)] = true
	}
	for _, h := range allowed {
		p.names[canonicalHost(h)] = true
	}
	return p
}

// canonicalHost is h in lower case, without brackets or a trailing dot.
func canonicalHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// allows reports whether a request with Host header host (name or
// address, with or without a port) may be answered. An empty Host, which
// only HTTP/1.0 clients send, is no browser's and is answered.
func (p hostPolicy) allows(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	h := canonicalHost(host)
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || p.names[h]
}

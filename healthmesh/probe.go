package healthmesh

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	defaultTimeout = 2 * time.Second
	maxBody        = 64 << 10 // bytes of an HTTP body read to look for Check.Body
	userAgent      = "meridian-healthcheck"
)

// Prober runs single probes. Its zero value is ready to use, and it is safe
// for concurrent use by many goroutines.
type Prober struct {
	// Resolver looks up host-name endpoints (dynamic CNAME values) and
	// host-name targets; nil means net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}

	once   sync.Once
	client *http.Client
}

// dialKey carries a probe's dialTarget to the shared transport's dialers.
type dialKey struct{}

// dialTarget is where and how one HTTP(S) probe connects. The transport is
// shared, so what varies per probe travels in the request context.
type dialTarget struct {
	ctx  context.Context // the probe's own context: the transport detaches dials from it
	addr string          // ip:port actually dialled, whatever the URL says
	tls  *tls.Config     // nil for plain HTTP
}

// Probe checks ep once within ep.Check.Timeout (2s if zero) and ctx, and
// reports the result. It never panics and leaves no connection open.
func (p *Prober) Probe(ctx context.Context, ep Endpoint) Result {
	start := time.Now()
	timeout := ep.Check.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	r := p.probe(ctx, ep)
	r.At = start
	r.Latency = time.Since(start)
	return r
}

func (p *Prober) probe(ctx context.Context, ep Endpoint) Result {
	host, ip := endpointHost(ep.Address)
	addr, err := p.dialAddr(ctx, ep, host, ip)
	if err != nil {
		return Result{Reason: reason(err)}
	}
	switch ep.Check.Protocol {
	case "TCP":
		return probeTCP(ctx, addr)
	case "HTTP", "HTTPS":
		if ep.Check.Host != "" {
			host = ep.Check.Host
		}
		return p.probeHTTP(ctx, ep.Check, host, addr)
	}
	return Result{Reason: fmt.Sprintf("unknown protocol %q", ep.Check.Protocol)}
}

// endpointHost splits an endpoint address into a host name (without the
// final dot) or an IP address.
func endpointHost(address string) (host string, ip netip.Addr) {
	if a, err := netip.ParseAddr(address); err == nil {
		return a.String(), a
	}
	return strings.TrimSuffix(address, "."), netip.Addr{}
}

// dialAddr decides the ip:port to connect to: the check's Target if set,
// else the endpoint's IP, else the first address its host name resolves to.
func (p *Prober) dialAddr(ctx context.Context, ep Endpoint, host string, ip netip.Addr) (string, error) {
	port := strconv.Itoa(ep.Check.Port)
	if ep.Check.Target != "" {
		h, tport, err := net.SplitHostPort(ep.Check.Target)
		if err != nil {
			return "", fmt.Errorf("target: %w", err)
		}
		host, port = h, tport
		ip, _ = netip.ParseAddr(h)
	}
	if !ip.IsValid() {
		var err error
		if ip, err = p.resolve(ctx, host); err != nil {
			return "", err
		}
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// resolveError marks a failed name lookup, so that its reason says so.
type resolveError struct{ err error }

func (e resolveError) Error() string { return "resolve: " + e.err.Error() }
func (e resolveError) Unwrap() error { return e.err }

func (p *Prober) resolve(ctx context.Context, host string) (netip.Addr, error) {
	var r interface {
		LookupNetIP(context.Context, string, string) ([]netip.Addr, error)
	} = net.DefaultResolver
	if p.Resolver != nil {
		r = p.Resolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, resolveError{err}
	}
	if len(addrs) == 0 {
		return netip.Addr{}, resolveError{errors.New("no addresses")}
	}
	// The system resolver may hand back IPv4 addresses in IPv6 form.
	return addrs[0].Unmap(), nil
}

func probeTCP(ctx context.Context, addr string) Result {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Reason: reason(err)}
	}
	c.Close()
	return Result{OK: true, Reason: "connected"}
}

func (p *Prober) probeHTTP(ctx context.Context, c Check, host, addr string) Result {
	scheme, dt := "http", dialTarget{ctx: ctx, addr: addr}
	if c.Protocol == "HTTPS" {
		scheme = "https"
		dt.tls = &tls.Config{
			// crypto/tls sends no SNI for an IP but still verifies the
			// certificate against it.
			ServerName:         hostOnly(host),
			InsecureSkipVerify: !c.TLSVerify,
		}
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, dialKey{}, dt), http.MethodGet, scheme+"://"+hostHeader(host)+path, nil)
	if err != nil {
		return Result{Reason: "bad request: " + err.Error()}
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", userAgent)

	resp, err := p.httpClient().Do(req)
	if err != nil {
		return Result{Reason: reason(err)}
	}
	defer resp.Body.Close()
	return judge(c, resp)
}

// judge reads the response's verdict: its status, then (only if the check
// asks) its body.
func judge(c Check, resp *http.Response) Result {
	res := Result{Status: resp.StatusCode, Reason: "status " + strconv.Itoa(resp.StatusCode)}
	if !statusOK(c.Expect, resp.StatusCode) {
		return res
	}
	if c.Body != "" {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if !strings.Contains(string(b), c.Body) {
			if err != nil {
				res.Reason = reason(err)
			} else {
				res.Reason = fmt.Sprintf("body does not contain %q", c.Body)
			}
			return res
		}
	}
	res.OK = true
	return res
}

func statusOK(expect []StatusRange, code int) bool {
	if len(expect) == 0 {
		return code >= 200 && code <= 399
	}
	for _, r := range expect {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// hostHeader formats a host name or IP for a URL and Host header.
func hostHeader(host string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		if _, err := netip.ParseAddr(host); err == nil {
			return "[" + host + "]"
		}
	}
	return host
}

// hostOnly drops a port (and IPv6 brackets) from a Host value.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}

// httpClient returns the prober's client, built on first use. Keep-alives
// are off so each probe opens a fresh connection and a dead origin is
// noticed; redirects are judged, not followed.
func (p *Prober) httpClient() *http.Client {
	p.once.Do(func() {
		p.client = &http.Client{
			Transport: &http.Transport{
				DialContext:       dialHTTP,
				DialTLSContext:    dialHTTPS,
				DisableKeepAlives: true,
				Proxy:             nil, // probes go to the origin itself
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return p.client
}

func dialHTTP(ctx context.Context, _, _ string) (net.Conn, error) {
	dt, ok := ctx.Value(dialKey{}).(dialTarget)
	if !ok {
		return nil, errors.New("healthmesh: dial outside a probe")
	}
	// Dial under the probe's context: the transport detaches dials from
	// the request's cancellation, which would let a dial outlive the probe.
	var d net.Dialer
	return d.DialContext(dt.ctx, "tcp", dt.addr)
}

// handshakeError marks a failure during the TLS handshake.
type handshakeError struct{ err error }

func (e handshakeError) Error() string { return "tls handshake: " + e.err.Error() }
func (e handshakeError) Unwrap() error { return e.err }

func dialHTTPS(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := dialHTTP(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	dt := ctx.Value(dialKey{}).(dialTarget)
	tc := tls.Client(c, dt.tls)
	if err := tc.HandshakeContext(dt.ctx); err != nil {
		c.Close()
		return nil, handshakeError{err}
	}
	return tc, nil
}

// reason turns a probe error into a short, stable reason: these end up in
// logs, metrics labels and (later) gossip, so they must not carry addresses
// or ports.
func reason(err error) string {
	var (
		re  resolveError
		he  handshakeError
		ne  net.Error
		dns *net.DNSError
	)
	switch {
	case errors.As(err, &re):
		if errors.As(err, &dns) {
			switch {
			case dns.IsNotFound:
				return "resolve: no such host"
			case dns.IsTimeout:
				return "resolve: timeout"
			}
			return "resolve: " + dns.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return "resolve: timeout"
		}
		return re.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.As(err, &he):
		return tlsReason(he.err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return innermost(err)
}

// tlsReason names a handshake failure without its details.
func tlsReason(err error) string {
	var (
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
		rh tls.RecordHeaderError
		ae tls.AlertError
	)
	switch {
	case errors.As(err, &ua):
		return "tls: unknown authority"
	case errors.As(err, &hn):
		return "tls: certificate name mismatch"
	case errors.As(err, &ci):
		if ci.Reason == x509.Expired {
			return "tls: certificate expired"
		}
		return "tls: invalid certificate"
	case errors.As(err, &rh):
		return "tls: not a tls server"
	case errors.As(err, &ae):
		return ae.Error() // "tls: handshake failure" and the like
	case errors.Is(err, io.EOF):
		return "tls: eof"
	}
	return "tls: " + strings.TrimPrefix(innermost(err), "tls: ")
}

// innermost is the message of the deepest wrapped error, which is usually
// the specific one without the outer layers' addresses.
func innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

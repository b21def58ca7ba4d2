package healthmesh

import (
	"bufio"
	"compress/gzip"
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

	"golang.org/x/net/http/httpguts"
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

// probeHTTP sends one GET over a connection of its own and judges the
// response. It speaks HTTP/1.1 on that connection itself instead of going
// through an http.Transport, which spends a dial goroutine, a read loop
// and a write loop on every connection: with a fresh connection per
// probe, those hand-offs were most of a node's probing CPU. On the wire
// it is what a transport with keep-alives off sends (Connection: close,
// Accept-Encoding: gzip unless the check sets it), and the response is
// read as a transport reads it: 1xx responses skipped, gzip undone, and
// redirects judged, not followed.
func (p *Prober) probeHTTP(ctx context.Context, c Check, host, addr string) Result {
	req, gz, err := newProbeRequest(ctx, c, host)
	if err != nil {
		return Result{Reason: reason(err)}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Result{Reason: reason(err)}
	}
	defer conn.Close()
	// One deadline bounds the rest of the exchange, and a cancelled probe
	// cuts it short.
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	defer context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })()

	var rw net.Conn = conn
	if c.Protocol == "HTTPS" {
		tc := tls.Client(conn, &tls.Config{
			// crypto/tls sends no SNI for an IP but still verifies the
			// certificate against it.
			ServerName:         hostOnly(host),
			InsecureSkipVerify: !c.TLSVerify,
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			return Result{Reason: reason(ctxErr(ctx, handshakeError{err}))}
		}
		rw = tc
	}
	b := exchangePool.Get().(*exchange)
	defer b.release()
	resp, err := b.roundTrip(rw, req)
	if err != nil {
		return Result{Reason: reason(ctxErr(ctx, err))}
	}
	if gz && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		resp.Body = &gunzip{r: resp.Body}
	}
	// The body is not closed: that would read it to its end, and closing
	// the connection ends it anyway.
	return judge(c, resp)
}

// newProbeRequest builds the GET a check sends and reports whether it
// asks for gzip. Header names and values are checked as http.Transport
// checks them, with its errors.
func newProbeRequest(ctx context.Context, c Check, host string) (*http.Request, bool, error) {
	scheme := "http"
	if c.Protocol == "HTTPS" {
		scheme = "https"
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+hostHeader(host)+path, nil)
	if err != nil {
		return nil, false, fmt.Errorf("bad request: %v", err) // the whole message is the reason
	}
	for k, v := range c.Headers {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, false, fmt.Errorf("net/http: invalid header field name %q", k)
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return nil, false, fmt.Errorf("net/http: invalid header field value for %q", k)
		}
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Close = true
	gz := req.Header.Get("Accept-Encoding") == "" && req.Header.Get("Range") == ""
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	return req, gz, nil
}

// ctxErr prefers the probe's own end (timeout, cancellation) to the error
// it caused on the connection.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// maxHeader bounds what a probe reads of a response before its body
// (1xx responses included), as http.Transport's MaxResponseHeaderBytes
// does.
const maxHeader = 1 << 20

var errHeaderTooLarge = errors.New("response headers too large")

// exchange is the buffers of one request and response, pooled: probes
// run by the thousand and each would otherwise allocate them afresh.
type exchange struct {
	bw  *bufio.Writer
	br  *bufio.Reader
	lim limitReader
}

var exchangePool = sync.Pool{New: func() any {
	e := &exchange{bw: bufio.NewWriterSize(nil, 1024)}
	e.br = bufio.NewReaderSize(&e.lim, 4096)
	return e
}}

// release lets go of the connection and pools e again.
func (e *exchange) release() {
	e.bw.Reset(nil)
	e.lim = limitReader{}
	e.br.Reset(&e.lim)
	exchangePool.Put(e)
}

// roundTrip writes req to rw and reads the final response. The response
// body reads from e, so it must be done with before e is pooled again.
func (e *exchange) roundTrip(rw io.ReadWriter, req *http.Request) (*http.Response, error) {
	e.bw.Reset(rw)
	if err := req.Write(e.bw); err != nil {
		return nil, err
	}
	if err := e.bw.Flush(); err != nil { // Write flushes only a writer of its own
		return nil, err
	}
	e.lim = limitReader{r: rw, n: maxHeader}
	e.br.Reset(&e.lim)
	for {
		resp, err := http.ReadResponse(e.br, req)
		if err != nil {
			return nil, err
		}
		// 1xx responses other than 101 precede the real one.
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			e.lim.n += maxBody // room for what judge reads of the body
			return resp, nil
		}
	}
}

// limitReader reads from r until n bytes are read, then fails with
// errHeaderTooLarge.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// gunzip undoes the gzip a probe asked for, as http.Transport does. The
// gzip reader is made on the first read, so that a body never read costs
// nothing.
type gunzip struct {
	r  io.ReadCloser
	zr *gzip.Reader
}

func (g *gunzip) Read(p []byte) (int, error) {
	if g.zr == nil {
		zr, err := gzip.NewReader(g.r)
		if err != nil {
			return 0, err
		}
		g.zr = zr
	}
	return g.zr.Read(p)
}

func (g *gunzip) Close() error { return g.r.Close() }

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

// handshakeError marks a failure during the TLS handshake.
type handshakeError struct{ err error }

func (e handshakeError) Error() string { return "tls handshake: " + e.err.Error() }
func (e handshakeError) Unwrap() error { return e.err }

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

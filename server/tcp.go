package server

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// TCP clients are bounded so that no client, however slow or numerous its
// connections, can hold what others need:
//
//   - at most TCPMaxConns connections over all listeners; when full, a new
//     connection takes the place of the one that has waited longest
//     without sending a query (an idle one), and is refused only when no
//     connection is idle;
//   - at most TCPMaxPerClient connections from one address;
//   - a connection lasts at most TCPMaxLifetime (a zone transfer under way
//     is not cut short), answers at most TCPMaxQueries queries, waits at
//     most TCPReadTimeout for its first query and TCPIdleTimeout between
//     queries (both in miekg/dns's server);
//   - each response must be written within TCPWriteTimeout: a client that
//     does not read loses its connection.
//
// None of this is on the UDP path; accept takes a mutex.

// tcpLimiter is shared by every TCP listener of a server.
type tcpLimiter struct {
	s        *Server
	mu       sync.Mutex
	conns    map[*tcpConn]struct{}
	byClient map[netip.Addr]int
	open     *atomic.Int64 // len(conns), readable without the lock
}

func newTCPLimiter(s *Server) *tcpLimiter {
	return &tcpLimiter{s: s, conns: map[*tcpConn]struct{}{}, byClient: map[netip.Addr]int{}, open: &s.tcpConn}
}

// limitListener applies the limiter to the connections it accepts.
type limitListener struct {
	net.Listener
	l *tcpLimiter
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := ll.l.admit(c); tc != nil {
			return tc, nil
		}
	}
}

// admit wraps c, or closes it when its client is at its limit or every
// slot is busy.
func (l *tcpLimiter) admit(c net.Conn) *tcpConn {
	o := l.s.opts.Load()
	var client netip.Addr
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		client = a.AddrPort().Addr().Unmap()
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if o.TCPMaxPerClient > 0 && l.byClient[client] >= o.TCPMaxPerClient {
		l.s.metrics.tcpRefused.Add(1)
		c.Close()
		return nil
	}
	if o.TCPMaxConns > 0 && len(l.conns) >= o.TCPMaxConns {
		victim := l.idlest()
		if victim == nil {
			l.s.metrics.tcpRefused.Add(1)
			c.Close()
			return nil
		}
		l.s.metrics.tcpEvicted.Add(1)
		l.releaseLocked(victim)
		victim.Conn.Close() // its server goroutine sees the error and finishes
	}
	tc := &tcpConn{Conn: c, l: l, client: client, write: o.TCPWriteTimeout}
	if o.TCPMaxLifetime > 0 {
		tc.expires = now.Add(o.TCPMaxLifetime)
	}
	tc.active.Store(now.UnixNano())
	l.conns[tc] = struct{}{}
	l.byClient[client]++
	l.open.Store(int64(len(l.conns)))
	return tc
}

// idlest returns the connection that has gone longest without a query,
// provided it is not in the middle of one; nil when none qualifies.
func (l *tcpLimiter) idlest() *tcpConn {
	var best *tcpConn
	var bestAt int64
	for c := range l.conns {
		if c.busy.Load() > 0 {
			continue
		}
		if at := c.active.Load(); best == nil || at < bestAt {
			best, bestAt = c, at
		}
	}
	return best
}

func (l *tcpLimiter) releaseLocked(c *tcpConn) {
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	if l.byClient[c.client]--; l.byClient[c.client] <= 0 {
		delete(l.byClient, c.client)
	}
	l.open.Store(int64(len(l.conns)))
}

// holdOpen exempts the connection from remote from the lifetime limit and
// from eviction until release is called: a zone transfer must not be cut
// short. Unknown connections get a release that does nothing.
func (l *tcpLimiter) holdOpen(remote net.Addr) (release func()) {
	if l == nil || remote == nil {
		return func() {}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if c.RemoteAddr().String() == remote.String() {
			c.held.Store(true)
			c.busy.Add(1)
			return func() {
				c.busy.Add(-1)
				c.held.Store(false)
			}
		}
	}
	return func() {}
}

// lastQuery returns the bytes of the query last read on the connection
// from remote, for the log of a panic; nil when the connection is unknown.
// It is called on the connection's own goroutine.
func (l *tcpLimiter) lastQuery(remote net.Addr) []byte {
	if l == nil || remote == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if c.RemoteAddr().String() == remote.String() {
			return c.query
		}
	}
	return nil
}

// tcpConn is one accepted connection under the limits.
type tcpConn struct {
	net.Conn
	l       *tcpLimiter
	client  netip.Addr
	expires time.Time     // end of its lifetime; zero: none
	write   time.Duration // per-response write deadline; 0: none
	active  atomic.Int64  // unix nanoseconds of the last query bytes read
	busy    atomic.Int32  // >0 while a response is being written or a transfer runs
	held    atomic.Bool   // a transfer: the lifetime does not apply
	once    sync.Once

	// query is the last query read (tcpReader); only the connection's
	// own goroutine touches it.
	query []byte
}

// SetReadDeadline keeps every wait for a query within the lifetime.
func (c *tcpConn) SetReadDeadline(t time.Time) error {
	if !c.expires.IsZero() && !c.held.Load() && (t.IsZero() || t.After(c.expires)) {
		t = c.expires
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *tcpConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.active.Store(time.Now().UnixNano())
	}
	return n, err
}

// Write gives each response its own deadline, and closes the connection
// when a client does not take a response in time: the queries it may have
// queued behind it would each wait as long again.
func (c *tcpConn) Write(b []byte) (int, error) {
	c.busy.Add(1)
	defer c.busy.Add(-1)
	if c.write > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.write))
	}
	n, err := c.Conn.Write(b)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.l.s.metrics.tcpSlow.Add(1)
		c.Conn.Close()
	}
	return n, err
}

func (c *tcpConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.releaseLocked(c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// holdTCP exempts the TCP connection from remote from the lifetime limit
// and from eviction until the returned release is called: a zone transfer
// must not be cut short.
func (s *Server) holdTCP(remote net.Addr) (release func()) {
	return s.tcpLimits.holdOpen(remote)
}

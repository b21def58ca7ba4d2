// Package server puts Meridian on the wire: UDP and TCP listeners, EDNS0,
// NSID, CHAOS identity queries, truncation and the mapping of zone lookup
// results to DNS responses.
//
// The query path reads two immutable things, the server options and the
// zone set, each through one atomic pointer load; it takes no locks. Each
// answered query is counted with atomic adds (metrics.go) and, when
// sampled, handed to the query log without waiting.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/querylog"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// Options configures the wire behaviour. The zero value is not useful;
// start from DefaultOptions.
type Options struct {
	Listen  []string // host:port addresses, each served on UDP and TCP
	UDPSize uint16   // EDNS buffer size we advertise; also caps what we send
	NSID    string   // RFC 5001 NSID payload; "" disables NSID, hostname.bind and id.server
	Version string   // version.bind answer; "" answers REFUSED

	// UDPSockets is the number of UDP sockets per listen address, each
	// read by its own goroutine; 0 means one per CPU Go uses (GOMAXPROCS).
	UDPSockets int

	// RRL is response rate limiting of UDP answers (see rrl.go).
	RRL RRL

	TCPMaxConns    int           // TCP connections open at once over all listeners
	TCPIdleTimeout time.Duration // close a TCP connection idle this long between queries
	TCPReadTimeout time.Duration // time allowed for the first query on a connection
	// TCPMaxPerClient caps the connections one client address holds open.
	TCPMaxPerClient int
	TCPMaxQueries   int           // queries answered on one connection before closing it; 0 = no limit
	TCPMaxLifetime  time.Duration // how long a connection may stay open, however busy
	TCPWriteTimeout time.Duration // time allowed to write one response
}

// DefaultOptions returns the options Meridian uses when the config is
// silent.
func DefaultOptions() Options {
	return Options{
		Listen:          []string{"127.0.0.1:5353"},
		UDPSize:         1232,
		TCPMaxConns:     512,
		TCPIdleTimeout:  10 * time.Second,
		TCPReadTimeout:  5 * time.Second,
		TCPMaxPerClient: 32,
		TCPMaxQueries:   1000,
		TCPMaxLifetime:  2 * time.Minute,
		TCPWriteTimeout: 5 * time.Second,
	}
}

// ZoneSource gives the zone set to answer from. Current must be cheap and
// safe to call from many goroutines (an atomic load).
type ZoneSource interface {
	Current() *zones.Set
}

// Server answers DNS queries from a ZoneSource.
type Server struct {
	log     *slog.Logger
	zones   ZoneSource
	opts    atomic.Pointer[Options]
	geo     atomic.Pointer[geo.Reader]
	health  atomic.Pointer[healthBox]
	qlog    atomic.Pointer[querylog.Log] // nil: no query log
	rrl     atomic.Pointer[rrlTable]     // nil: no rate limiting
	xfr     transfers                    // zone transfer settings and counts (transfer.go)
	metrics metrics
	ecsTCP  ecsMarks // TCP queries whose ECS address octets do not fit (ecswire.go)

	panicName string   // the test hook's poison name (panics.go); "" when off
	panicLog  panicLog // bounds the log lines of contained panics

	mu      sync.Mutex // guards udp, servers and addrs
	udp     []*udpListener
	servers []*dns.Server // TCP
	addrs   []net.Addr
	tcpConn atomic.Int64 // TCP connections open, over all listeners

	tcpLimits *tcpLimiter // set by the first Start; guarded by mu
}

// New returns a server that is not yet listening.
func New(o Options, src ZoneSource, log *slog.Logger) *Server {
	s := &Server{log: log, zones: src, panicName: testPanicName()}
	s.SetOptions(o)
	s.metrics.init(src.Current)
	if s.panicName != "" {
		log.Warn("test hook armed: every query for this name panics; never set "+panicNameEnv+" in production",
			"name", s.panicName)
	}
	return s
}

// SetGeo sets the GeoIP databases used to locate clients (nil: none).
func (s *Server) SetGeo(g *geo.Reader) { s.geo.Store(g) }

// healthBox lets an interface value sit behind an atomic pointer.
type healthBox struct{ h pools.Health }

// SetHealth sets where value health and drains come from (nil: all up).
func (s *Server) SetHealth(h pools.Health) { s.health.Store(&healthBox{h}) }

func (s *Server) healthSource() pools.Health {
	if b := s.health.Load(); b != nil && b.h != nil {
		return b.h
	}
	return pools.AllUp{}
}

// SetOptions swaps the wire options (a config reload). Listen addresses,
// UDP sockets, the TCP read timeout and the TCP query limit apply at the
// next start only; the other TCP limits apply to new connections.
func (s *Server) SetOptions(o Options) {
	if !s.rrl.Load().same(o.RRL) {
		s.rrl.Store(newRRLTable(o.RRL))
	}
	s.opts.Store(&o)
}

// Start binds every listen address on UDP and TCP and serves in the
// background. It returns once all sockets are bound, or the first error
// (after closing what it bound).
func (s *Server) Start() error {
	o := s.opts.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, addr := range o.Listen {
		conns, tl, err := listenBoth(addr, udpSockets(o))
		if err != nil {
			s.closeLocked()
			return err
		}
		s.addrs = append(s.addrs, conns[0].LocalAddr())
		udp := &udpListener{s: s, conns: conns}
		s.udp = append(s.udp, udp)
		udp.start()
		if s.tcpLimits == nil {
			s.tcpLimits = newTCPLimiter(s)
		}
		maxQueries := o.TCPMaxQueries
		if maxQueries == 0 {
			maxQueries = -1 // miekg/dns: no limit
		}
		tcp := &dns.Server{
			Listener: &limitListener{Listener: tl, l: s.tcpLimits},
			Handler:  dns.HandlerFunc(s.serveTCPContained), // transfers, then ServeDNS
			DecorateReader: func(r dns.Reader) dns.Reader {
				return ecsReader{Reader: tcpReader{r}, marks: &s.ecsTCP}
			},
			TsigProvider:  tsigKeys{s: s, tcp: true},
			MsgAcceptFunc: accept,
			ReadTimeout:   o.TCPReadTimeout,
			IdleTimeout:   func() time.Duration { return s.opts.Load().TCPIdleTimeout },
			MaxTCPQueries: maxQueries,
		}
		started := make(chan struct{})
		tcp.NotifyStartedFunc = func() { close(started) }
		s.servers = append(s.servers, tcp)
		go func() {
			if err := tcp.ActivateAndServe(); err != nil {
				s.log.Error("dns listener stopped", "addr", tl.Addr().String(), "err", err)
			}
		}()
		<-started
		s.log.Info("listening", "addr", conns[0].LocalAddr().String(), "transports", "udp,tcp", "udp_sockets", len(conns))
	}
	return nil
}

// listenBoth binds addr on UDP (n sockets) and then TCP on the port UDP
// got, so that port 0 yields one port for both transports. With port 0
// the kernel's pick may be taken on TCP; it tries again a few times.
func listenBoth(addr string, n int) ([]*net.UDPConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	for try := 0; ; try++ {
		conns, err := listenUDP(addr, n)
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp %s: %w", addr, err)
		}
		tl, err := net.Listen("tcp", conns[0].LocalAddr().String())
		if err == nil {
			return conns, tl, nil
		}
		for _, c := range conns {
			c.Close()
		}
		if port != "0" || try == 10 {
			return nil, nil, fmt.Errorf("listen tcp %s: %w", addr, err)
		}
	}
}

// Addrs returns the bound addresses (useful when listening on port 0).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Shutdown stops accepting queries and waits, until ctx ends, for queries
// in flight to be answered.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, u := range s.udp {
		if err := u.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, srv := range s.servers {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.udp, s.servers = nil, nil
	return errors.Join(errs...)
}

func (s *Server) closeLocked() {
	for _, u := range s.udp {
		u.shutdown(context.Background())
	}
	for _, srv := range s.servers {
		srv.Shutdown()
	}
	s.udp, s.servers, s.addrs = nil, nil, nil
}

// accept decides what to do with a message before it is fully unpacked:
// responses are dropped silently (answering them invites loops and
// reflection), other opcodes get NOTIMP, anything but one question FORMERR.
func accept(h dns.Header) dns.MsgAcceptAction {
	if h.Bits&(1<<15) != 0 { // QR
		return dns.MsgIgnore
	}
	if op := int(h.Bits>>11) & 0xF; op != dns.OpcodeQuery {
		return dns.MsgRejectNotImplemented
	}
	if h.Qdcount != 1 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// ServeDNS answers one query; it is the miekg/dns handler for both
// transports. A signed query gets a signed answer (tsig.go).
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if req.IsTsig() != nil {
		s.serveSigned(w, req)
		return
	}
	var src netip.Addr
	tcp := false
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		src = a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		src, tcp = a.AddrPort().Addr().Unmap(), true
	}
	q := queryInfo{client: src, tcp: tcp, ecsOctets: tcp && s.ecsTCP.take(w)}
	m := s.respondCounted(req, &q)
	if m == nil {
		return
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write response", "client", w.RemoteAddr().String(), "err", err)
	}
}

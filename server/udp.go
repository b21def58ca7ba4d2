package server

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/miekg/dns"
)

// udpReadBuffer is the socket receive buffer asked of the kernel (which
// caps it at net.core.rmem_max): room for bursts while a reader is busy.
const udpReadBuffer = 4 << 20

// udpListener serves one listen address over UDP with several sockets
// bound to the same port (SO_REUSEPORT, where the kernel spreads queries
// over them by flow), each read by one goroutine that also answers: no
// goroutine per packet, no channel hand-off.
type udpListener struct {
	s     *Server
	conns []*net.UDPConn
	wg    sync.WaitGroup
}

// udpSockets is the number of sockets per address: as configured, else one
// per CPU the Go runtime uses.
func udpSockets(o *Options) int {
	if o.UDPSockets > 0 {
		return o.UDPSockets
	}
	return runtime.GOMAXPROCS(0)
}

// listenUDP binds n sockets to addr; with port 0 the first picks the port
// and the others join it.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{}
	if n > 1 {
		lc.Control = reusePort
	}
	var conns []*net.UDPConn
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		c := pc.(*net.UDPConn)
		c.SetReadBuffer(udpReadBuffer) // best effort: the kernel may cap it
		conns = append(conns, c)
		addr = c.LocalAddr().String()
	}
	return conns, nil
}

func (l *udpListener) start() {
	for _, c := range l.conns {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.serve(c)
		}()
	}
}

// serveSimple reads and answers queries on c, one system call per packet
// each way, until c is closed.
func (l *udpListener) serveSimple(c *net.UDPConn) {
	buf := make([]byte, dns.MaxMsgSize)
	for !l.serveLoop(c, buf) {
	}
}

// serveLoop is serveSimple's loop: it returns true when c is closed, and
// false after containing a panic (see panics.go), having answered the
// query at fault SERVFAIL; serveSimple then starts it again with a new
// worker.
func (l *udpListener) serveLoop(c *net.UDPConn, buf []byte) (closed bool) {
	w := newWorker(l.s)
	var pkt []byte // the query being answered; nil between queries
	var from netip.AddrPort
	defer func() {
		if p := recover(); p != nil {
			l.s.panicked(p, pkt, from.Addr().Unmap(), false)
			if out := servfail(nil, pkt); out != nil {
				c.WriteToUDPAddrPort(out, from)
			}
		}
	}()
	for {
		pkt = nil
		n, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return true
			}
			continue // e.g. ICMP errors reported on the socket
		}
		pkt, from = buf[:n], src
		var out []byte
		if n > maxUDPQuery {
			out = w.oversize(pkt, from.Addr().Unmap())
		} else {
			out = w.answer(pkt, from.Addr().Unmap())
		}
		if out == nil {
			continue
		}
		if _, err := c.WriteToUDPAddrPort(out, from); err != nil {
			l.s.log.Debug("write response", "client", from.String(), "err", err)
		}
	}
}

// shutdown closes the sockets and waits, until ctx ends, for the queries
// being answered.
func (l *udpListener) shutdown(ctx context.Context) error {
	for _, c := range l.conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// general answers pkt the general way, exactly as a miekg/dns server with
// our accept function, TSIG provider and handler would: unpack, check the
// TSIG of a signed query, Respond, pack (and sign). Queries it rejects
// before the handler (see accept) get FORMERR or NOTIMP with the header
// echoed and no sections, and are not counted.
func (w *worker) general(pkt []byte, src netip.Addr) []byte {
	if len(pkt) < 12 {
		return nil
	}
	var h dns.Header
	h.Bits = binary.BigEndian.Uint16(pkt[2:])
	h.Qdcount = binary.BigEndian.Uint16(pkt[4:])
	action := accept(h)
	req := new(dns.Msg)
	w.rrl = rrlKey{class: rrlError}
	switch action {
	case dns.MsgIgnore:
		return nil
	case dns.MsgAccept:
		if err := req.Unpack(pkt); err == nil {
			if req.IsTsig() != nil {
				return w.signed(pkt, req, src)
			}
			qi := queryInfo{client: src, ecsOctets: badECSOctets(pkt)}
			m := w.s.respondCounted(req, &qi)
			if m == nil {
				return nil
			}
			w.classifyAnswer(m, &qi)
			return w.pack(m)
		}
	default:
		req = headerOnly(pkt)
	}
	return w.reject(req, action)
}

// reject answers req as a miekg/dns server answers a message it rejects
// before its handler: FORMERR (NOTIMP when action says so) with the
// header, and the question if one unpacked, and nothing else.
func (w *worker) reject(req *dns.Msg, action dns.MsgAcceptAction) []byte {
	opcode := req.Opcode
	req.SetRcodeFormatError(req)
	req.Zero = false
	if action == dns.MsgRejectNotImplemented {
		req.Opcode = opcode
		req.Rcode = dns.RcodeNotImplemented
	}
	req.Ns, req.Answer, req.Extra = nil, nil, nil
	return w.pack(req)
}

// headerOnly is the message of the ID and flags of pkt alone, as a server
// that rejects it sees it.
func headerOnly(pkt []byte) *dns.Msg {
	var hdr [12]byte
	copy(hdr[:4], pkt)
	req := new(dns.Msg)
	req.Unpack(hdr[:])
	return req
}

// maxUDPQuery is the longest UDP query read whole; a longer one gets
// oversize's answer. No query an authoritative server answers comes near
// it: a question, an OPT and a TSIG fit in well under 1 KiB.
const maxUDPQuery = 4096

// oversize answers a UDP query longer than maxUDPQuery, of which pkt is
// the start: FORMERR with the header alone (nothing to a response), rate
// limited as any error. Dropping it would leave the client to time out
// without a clue; FORMERR says the message was refused.
func (w *worker) oversize(pkt []byte, src netip.Addr) []byte {
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		return nil
	}
	w.rrl = rrlKey{class: rrlError}
	return w.rateLimit(w.reject(headerOnly(pkt), dns.MsgReject), src)
}

// classifyAnswer notes the rate-limiting class of the answer m to the
// query qi describes.
func (w *worker) classifyAnswer(m *dns.Msg, qi *queryInfo) {
	referral := !m.Authoritative && len(m.Answer) == 0 && len(m.Ns) > 0
	w.rrl = classify(m.Rcode, m.Answer, referral, zoneOrigin(qi.zone), qi.synth, qi.qname)
}

func (w *worker) pack(m *dns.Msg) []byte {
	out, err := m.PackBuffer(w.out)
	if err != nil {
		w.s.log.Debug("pack response", "err", err)
		return nil
	}
	return out
}

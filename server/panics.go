package server

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// A bug that panics while answering one query must not take the node
// down: the same query sent to every node would take the whole fleet down
// at once. So the query path contains panics:
//
//   - each UDP worker loop recovers, answers the query at fault SERVFAIL
//     and starts again with the next packet (serveBatches, serveLoop); the
//     recover is set up once per start of the loop, not once per packet;
//   - each TCP query recovers in the handler (serveTCPContained), as does
//     the TSIG check miekg/dns makes before calling it (tsigKeys.Verify).
//     What miekg/dns does itself before the handler, reading the length
//     and unpacking the message, is not covered; the general UDP path
//     unpacks with the same code, and FuzzQuery runs it.
//
// Every contained panic is logged at error level with the query in hex and
// the stack, and counted in meridian_dns_panics_total.

// panicNameEnv names the environment variable of a test-only hook: when it
// holds a domain name, every query for that name panics while it is being
// answered, on either path and transport, so that tests of the built
// binary can check that panics are contained. Unset, the hook is off; no
// config key reaches it, and the node warns at start when it is set.
const panicNameEnv = "MERIDIAN_TEST_PANIC_NAME"

// testPanicName reads the hook's name from the environment: lower case,
// fully qualified; "" when off.
func testPanicName() string {
	name := strings.TrimSpace(os.Getenv(panicNameEnv))
	if name == "" {
		return ""
	}
	return strings.ToLower(dns.Fqdn(name))
}

// testPanic panics when the test hook is armed and name is its name.
func (s *Server) testPanic(name string) {
	if s.panicName != "" && strings.EqualFold(name, s.panicName) {
		panic("test hook " + panicNameEnv + ": a query for the poison name")
	}
}

// maxPanicHex bounds the part of a query a panic log line shows.
const maxPanicHex = 4096

// panicLogLimit is how many panics a second are logged; the others are
// counted, and the next line logged says how many were left out.
const panicLogLimit = 10

// panicLog bounds the log lines of panics: a poison query sent at a high
// rate must not fill the disk.
type panicLog struct {
	mu      sync.Mutex
	second  int64 // unix second of the lines counted in n
	n       int
	skipped int // lines left out since the last one logged
}

// allow reports whether a panic at now may be logged, and how many were
// left out before it.
func (l *panicLog) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sec := now.Unix(); sec != l.second {
		l.second, l.n = sec, 0
	}
	if l.n >= panicLogLimit {
		l.skipped++
		return false, 0
	}
	l.n++
	skipped := l.skipped
	l.skipped = 0
	return true, skipped
}

// panicked counts and logs the panic p, raised while answering the query
// pkt (nil when no query was being answered, or its bytes are gone) from
// client.
func (s *Server) panicked(p any, pkt []byte, client netip.Addr, tcp bool) {
	t := 0
	if tcp {
		t = 1
	}
	s.metrics.panics[t].Add(1)
	ok, skipped := s.panicLog.allow(time.Now())
	if !ok {
		return
	}
	q := pkt
	if len(q) > maxPanicHex {
		q = q[:maxPanicHex]
	}
	s.log.Error("panic while answering a query; answered SERVFAIL where possible, still serving",
		"transport", transportNames[t], "client", client.String(), "query", hex.EncodeToString(q), "query_bytes", len(pkt),
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()), "panics_not_logged", skipped)
}

// servfail writes into buf the SERVFAIL answer to the query pkt as a
// reply built from the query alone, without unpacking it: its ID and
// opcode, RD and CD for a QUERY, and its question when it reads cleanly
// (as dns.Msg.SetRcode would answer). It returns nil when pkt has no
// header or is itself a response.
func servfail(buf, pkt []byte) []byte {
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		return nil
	}
	out := append(buf[:0], pkt[:12]...)
	out[2] = 0x80 | pkt[2]&0x78 // QR, the opcode
	out[3] = dns.RcodeServerFailure
	if (pkt[2]>>3)&0xF == dns.OpcodeQuery {
		out[2] |= pkt[2] & 0x01 // RD
		out[3] |= pkt[3] & 0x10 // CD
	}
	clear(out[4:12])
	if binary.BigEndian.Uint16(pkt[4:]) > 0 {
		if end := skipQuestion(pkt); end > 0 {
			out = append(out, pkt[12:end]...)
			out[5] = 1
		}
	}
	return out
}

// serveTCPContained is the handler of the TCP listeners: serveTCP, with a
// panic contained to the query that raised it.
func (s *Server) serveTCPContained(w dns.ResponseWriter, req *dns.Msg) {
	defer func() {
		if p := recover(); p != nil {
			s.tcpPanicked(w, req, p)
		}
	}()
	s.serveTCP(w, req)
}

// tcpPanicked answers req SERVFAIL after the panic p, unsigned (signing
// may be what failed). A transfer may have sent part of the zone already:
// its connection is closed instead, so the secondary sees it fail.
func (s *Server) tcpPanicked(w dns.ResponseWriter, req *dns.Msg, p any) {
	s.panicked(p, s.tcpLimits.lastQuery(w.RemoteAddr()), clientOf(w.RemoteAddr()), true)
	defer func() {
		if recover() != nil { // writing the answer panicked too
			w.Close()
		}
	}()
	if isTransfer(req) {
		w.Close()
		return
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write response", "client", w.RemoteAddr().String(), "err", err)
	}
}

// tcpReader keeps, on each connection, the bytes of the query it last
// read, so that a panic answering it can log them.
type tcpReader struct{ dns.Reader }

func (r tcpReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	m, err := r.Reader.ReadTCP(conn, timeout)
	if c, ok := conn.(*tcpConn); ok {
		c.query = m
	}
	return m, err
}

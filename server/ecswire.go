package server

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// An ECS option must carry its address cut to the source prefix in as few
// octets as hold it (RFC 7871 6): a /24 has three, a /0 none. Unpacking
// into a dns.Msg hides the count (miekg/dns pads or drops octets to a whole
// address), so the check reads the query as it came off the wire: the UDP
// general path has the packet at hand, and TCP queries are read through
// ecsReader, which tells the handler about a query that fails it.

// ecsOption returns the data of the first ECS option in the first OPT
// record of the raw message msg; nil when it has none, or when msg does not
// parse that far (unpacking then refuses it for its own reasons).
func ecsOption(msg []byte) []byte {
	if len(msg) < 12 {
		return nil
	}
	qd, an := int(binary.BigEndian.Uint16(msg[4:])), int(binary.BigEndian.Uint16(msg[6:]))
	ns, ar := int(binary.BigEndian.Uint16(msg[8:])), int(binary.BigEndian.Uint16(msg[10:]))
	if ar == 0 {
		return nil
	}
	off := 12
	for range qd {
		if off = skipName(msg, off) + 4; off < 4 || off > len(msg) {
			return nil
		}
	}
	for i := range an + ns + ar {
		if off = skipName(msg, off); off < 0 || off+10 > len(msg) {
			return nil
		}
		typ, rdlen := binary.BigEndian.Uint16(msg[off:]), int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10
		if off+rdlen > len(msg) {
			return nil
		}
		if typ == dns.TypeOPT && i >= an+ns {
			return optionData(msg[off:off+rdlen], dns.EDNS0SUBNET)
		}
		off += rdlen
	}
	return nil
}

// skipName returns the offset just past the (possibly compressed) name at
// off in msg, or -1 when there is no whole name there.
func skipName(msg []byte, off int) int {
	for off < len(msg) {
		l := int(msg[off])
		switch l & 0xC0 {
		case 0xC0: // a pointer ends the name
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		case 0:
			if l == 0 {
				return off + 1
			}
			off += 1 + l
		default:
			return -1
		}
	}
	return -1
}

// optionData returns the data of the first option with code in OPT RDATA
// rd; nil when there is none.
func optionData(rd []byte, code uint16) []byte {
	for len(rd) >= 4 {
		c, l := binary.BigEndian.Uint16(rd), int(binary.BigEndian.Uint16(rd[2:]))
		if 4+l > len(rd) {
			return nil
		}
		if c == code {
			return rd[4 : 4+l : 4+l]
		}
		rd = rd[4+l:]
	}
	return nil
}

// ecsOctetsFit reports whether ECS option data holds as many address
// octets as its source prefix needs, no more and no fewer. Data too short
// for the fixed fields is left to unpacking, which refuses it.
func ecsOctetsFit(data []byte) bool {
	if len(data) < 4 {
		return true
	}
	return len(data)-4 == (int(data[2])+7)/8
}

// badECSOctets reports whether the raw query msg has an ECS option whose
// address is not in the fewest octets its source prefix needs.
func badECSOctets(msg []byte) bool {
	d := ecsOption(msg)
	return d != nil && !ecsOctetsFit(d)
}

// TCP queries reach the handler unpacked. ecsReader reads each one off
// its connection and, when its ECS address octets do not fit, marks the
// connection; the handler, called next for that query on the same
// goroutine, takes the mark. A mark is set only for a query the server is
// sure to hand to the handler (accepted and unpacking), so none outlives
// its query.

// connKey names a TCP connection while it is open.
type connKey struct{ local, remote netip.AddrPort }

func keyOf(local, remote net.Addr) (connKey, bool) {
	l, ok1 := local.(*net.TCPAddr)
	r, ok2 := remote.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return connKey{}, false
	}
	return connKey{l.AddrPort(), r.AddrPort()}, true
}

// ecsMarks are the TCP connections whose query being answered has ECS
// address octets that do not fit.
type ecsMarks struct {
	n atomic.Int64 // entries in m: the handler looks only when there are some
	m sync.Map     // connKey → struct{}
}

func (e *ecsMarks) mark(k connKey) {
	if _, loaded := e.m.LoadOrStore(k, struct{}{}); !loaded {
		e.n.Add(1)
	}
}

// take reports whether the connection of w was marked, and clears it.
func (e *ecsMarks) take(w dns.ResponseWriter) bool {
	if e.n.Load() == 0 {
		return false
	}
	k, ok := keyOf(w.LocalAddr(), w.RemoteAddr())
	if !ok {
		return false
	}
	if _, ok := e.m.LoadAndDelete(k); ok {
		e.n.Add(-1)
		return true
	}
	return false
}

// ecsReader is the TCP server's reader (see ecsMarks).
type ecsReader struct {
	dns.Reader
	marks *ecsMarks
}

func (r ecsReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	b, err := r.Reader.ReadTCP(conn, timeout)
	if err != nil || !badECSOctets(b) || !handled(b) {
		return b, err
	}
	if k, ok := keyOf(conn.LocalAddr(), conn.RemoteAddr()); ok {
		r.marks.mark(k)
	}
	return b, err
}

// handled reports whether the miekg/dns server hands msg to the handler:
// its header is accepted and it unpacks.
func handled(msg []byte) bool {
	var h dns.Header
	h.Bits = binary.BigEndian.Uint16(msg[2:]) // ecsOption found a header
	h.Qdcount = binary.BigEndian.Uint16(msg[4:])
	return accept(h) == dns.MsgAccept && new(dns.Msg).Unpack(msg) == nil
}

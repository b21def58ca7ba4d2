package server

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// The UDP fast path answers the queries that make up nearly all of an
// authoritative server's traffic — one question in class IN, at most an
// OPT with ECS, NSID, cookie or padding options — without unpacking them
// into a dns.Msg: it reads the header, the question and the OPT in place,
// looks the name up and packs the answer into a buffer it reuses. It gives
// up, and the general path (unpack, Respond, pack) answers instead,
// whenever a query or an answer is anything else: other classes and
// opcodes, EDNS versions, malformed or unusual options, names that need
// escaping, referrals, and answers that would not fit uncompressed. Both
// paths give the same response; fastpath_test.go checks that they do.

// fastVerdict says what the fast path made of a packet.
type fastVerdict int

const (
	fastAnswer  fastVerdict = iota // answered by the fast path
	fastDrop                       // not answered at all (a response, or no header)
	fastGeneral                    // answer with the general path
)

// wireQuery is what the fast path reads from a query packet.
type wireQuery struct {
	id      uint16
	flags   uint16 // of the query
	qend    int    // offset just past the question
	qtype   uint16
	nameLen int // length of the presentation name in worker.name

	edns    bool
	udpSize uint16
	nsid    bool // NSID asked for
	ecs     bool // ECS present
	ecsFam  uint16
	ecsSrc  uint8
	ecsAddr [16]byte // the address, zero beyond the source prefix
}

// worker is the per-socket state of the fast path: buffers reused for
// every packet, so answering allocates nothing. A worker is used by one
// goroutine at a time.
type worker struct {
	s     *Server
	q     wireQuery
	name  [256]byte // query name as asked, presentation format
	low   [256]byte // the same in lower case
	msg   dns.Msg   // the response, packed into out
	qs    [1]dns.Question
	chain [16]dns.RR   // a CNAME chain's answer is assembled here
	picks [16]dns.RR   // and a dynamic answer of several values here
	wire  [1024]byte   // with its wire form here
	geo   geo.Cache    // recent client locations
	res   zones.Result // the last lookup's
	out   []byte
	rrl   rrlKey // the rate-limiting class of the last answer
	slip  []byte // a rate-limited answer's truncated form
}

func newWorker(s *Server) *worker {
	return &worker{s: s, out: make([]byte, dns.MaxMsgSize), slip: make([]byte, 0, 512)}
}

// answer returns the response to pkt from src, or nil when no response is
// to be sent (response rate limiting included). The result is valid until
// the next call.
func (w *worker) answer(pkt []byte, src netip.Addr) []byte {
	out, v := w.fast(pkt, src)
	switch v {
	case fastDrop:
		return nil
	case fastGeneral:
		out = w.general(pkt, src)
	}
	return w.rateLimit(out, src)
}

// plainLower maps the bytes a name label may hold on the fast path, those
// that presentation format writes as themselves, to their lower case; any
// other byte to 0.
var plainLower = func() (t [256]byte) {
	for c := byte('a'); c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = c, c
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	t['-'], t['_'], t['*'] = '-', '_', '*'
	return t
}()

// parse reads the header, question and OPT of pkt into w.q.
func (w *worker) parse(pkt []byte) fastVerdict {
	if len(pkt) < 12 {
		return fastDrop // no header: nothing to answer to
	}
	q := &w.q
	*q = wireQuery{}
	q.id = binary.BigEndian.Uint16(pkt)
	q.flags = binary.BigEndian.Uint16(pkt[2:])
	if q.flags&0x8000 != 0 {
		return fastDrop // a response: answering invites loops
	}
	if (q.flags>>11)&0xF != dns.OpcodeQuery ||
		binary.BigEndian.Uint16(pkt[4:]) != 1 || binary.BigEndian.Uint16(pkt[6:]) != 0 ||
		binary.BigEndian.Uint16(pkt[8:]) != 0 {
		return fastGeneral
	}
	ar := binary.BigEndian.Uint16(pkt[10:])
	if ar > 1 {
		return fastGeneral
	}
	off, n, wire := 12, 0, 0
	for {
		if off >= len(pkt) {
			return fastGeneral
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			break
		}
		wire += l + 1
		if l > 63 || off+l > len(pkt) || wire > 254 {
			return fastGeneral // compression pointer, bad label or too long
		}
		label := pkt[off : off+l]
		name, low := w.name[n:n+l+1], w.low[n:n+l+1] // wire <= 254: in range
		for i, c := range label {
			lc := plainLower[c]
			if lc == 0 {
				return fastGeneral
			}
			name[i], low[i] = c, lc
		}
		name[l], low[l] = '.', '.'
		n += l + 1
		off += l
	}
	if n == 0 || off+4 > len(pkt) {
		return fastGeneral // the root, or a truncated question
	}
	q.nameLen = n
	q.qtype = binary.BigEndian.Uint16(pkt[off:])
	if binary.BigEndian.Uint16(pkt[off+2:]) != dns.ClassINET {
		return fastGeneral
	}
	switch q.qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return fastGeneral
	}
	off += 4
	q.qend = off
	if ar == 0 {
		if off != len(pkt) {
			return fastGeneral
		}
		return fastAnswer
	}
	return w.parseOPT(pkt[off:])
}

// parseOPT reads the OPT pseudo-RR that makes up the rest of the packet.
func (w *worker) parseOPT(b []byte) fastVerdict {
	q := &w.q
	// root owner, type, class (UDP size), TTL (ext rcode, version, flags), rdlength
	if len(b) < 11 || b[0] != 0 || binary.BigEndian.Uint16(b[1:]) != dns.TypeOPT || b[6] != 0 {
		return fastGeneral // another RR, or EDNS version > 0 (BADVERS)
	}
	q.edns = true
	q.udpSize = binary.BigEndian.Uint16(b[3:])
	rd := b[11:]
	if int(binary.BigEndian.Uint16(b[9:])) != len(rd) {
		return fastGeneral
	}
	for len(rd) > 0 {
		if len(rd) < 4 {
			return fastGeneral
		}
		code, l := binary.BigEndian.Uint16(rd), int(binary.BigEndian.Uint16(rd[2:]))
		if 4+l > len(rd) {
			return fastGeneral
		}
		data := rd[4 : 4+l]
		rd = rd[4+l:]
		switch code {
		case dns.EDNS0NSID:
			q.nsid = true
		case dns.EDNS0SUBNET:
			if q.ecs || !w.parseECS(data) {
				return fastGeneral
			}
		case dns.EDNS0COOKIE:
			if l < 8 || l > 40 {
				return fastGeneral
			}
		case dns.EDNS0PADDING:
		default:
			return fastGeneral
		}
	}
	return fastAnswer
}

// parseECS reads an ECS option that the general path would accept as it
// is; false leaves the rest (errors included) to the general path.
func (w *worker) parseECS(b []byte) bool {
	q := &w.q
	if len(b) < 4 || b[3] != 0 { // a query's scope must be 0
		return false
	}
	fam, src := binary.BigEndian.Uint16(b), int(b[2])
	addr := b[4:]
	bits := 0
	switch fam {
	case 0:
		if src != 0 || len(addr) != 0 {
			return false
		}
	case 1:
		bits = 32
	case 2:
		bits = 128
	default:
		return false
	}
	if src > bits || len(addr) != (src+7)/8 {
		return false
	}
	if len(addr) > 0 && src%8 != 0 && addr[len(addr)-1]&(0xFF>>(src%8)) != 0 {
		return false // bits set beyond the source prefix
	}
	q.ecs, q.ecsFam, q.ecsSrc = true, fam, uint8(src)
	copy(q.ecsAddr[:], addr)
	return true
}

// ecsClient is the ECS address, when the query has one with a non-zero
// source prefix. An IPv4-mapped address stays mapped, as on the general
// path.
func (q *wireQuery) ecsClient() (netip.Addr, bool) {
	switch {
	case !q.ecs || q.ecsSrc == 0:
		return netip.Addr{}, false
	case q.ecsFam == 1:
		return netip.AddrFrom4([4]byte(q.ecsAddr[:4])), true
	}
	return netip.AddrFrom16(q.ecsAddr), true
}

// fast answers pkt when it can.
func (w *worker) fast(pkt []byte, src netip.Addr) ([]byte, fastVerdict) {
	if v := w.parse(pkt); v != fastAnswer {
		return nil, v
	}
	s, q := w.s, &w.q
	info := queryInfo{client: src, qtype: q.qtype, ecs: q.ecs}
	if l := s.qlog.Load(); l != nil && l.Sample() {
		info.log, info.start = l, time.Now()
	}
	qname := unsafe.String(&w.name[0], q.nameLen)
	lname := unsafe.String(&w.low[0], q.nameLen)
	s.testPanic(lname)
	client := src
	if a, ok := q.ecsClient(); ok {
		client = a
	}
	c := pools.NewClient(client, s.geo.Load())
	c.Scratch, c.WireScratch, c.GeoCache = w.picks[:0], w.wire[:0], &w.geo
	res := &w.res
	s.zones.Current().LookupLower(qname, lname, q.qtype, &c, s.healthSource(), w.chain[:0], res)
	if res.Kind == zones.Delegation {
		return nil, fastGeneral // referral glue has its own truncation rule
	}
	o := s.opts.Load()
	m := &w.msg
	*m = dns.Msg{}
	m.Id = q.id
	m.Response = true
	m.RecursionDesired = q.flags&0x0100 != 0
	m.CheckingDisabled = q.flags&0x0010 != 0
	w.qs[0] = dns.Question{Name: qname, Qtype: q.qtype, Qclass: dns.ClassINET}
	m.Question = w.qs[:]
	m.Rcode, m.Authoritative = rcodeFor(res.Kind)
	if res.Kind != zones.Refused {
		m.Answer, m.Ns, m.Extra = res.Answer, res.Ns, res.Extra
	}
	var out []byte
	ok := false
	if res.Packed.OK {
		out, ok = appendPacked(w.out, m, pkt[12:q.qend], &res.Packed)
	}
	if !ok {
		out, ok = appendMsg(w.out, m, pkt[12:q.qend])
	}
	if !ok {
		var err error
		if out, err = m.PackBuffer(w.out); err != nil {
			return nil, fastGeneral
		}
	}
	if q.edns {
		out = w.appendOPT(out, o, res)
	}
	if len(out) > udpLimit(o, q.edns, q.udpSize) {
		return nil, fastGeneral // truncation (and compression) are the general path's
	}
	info.rcode = m.Rcode
	if info.log != nil { // only the query log reads the name and the ECS prefix
		info.qname = string(w.name[:q.nameLen]) // the log outlives the buffer
		switch {
		case q.ecs && q.ecsFam == 1:
			info.ecsPrefix = netip.PrefixFrom(netip.AddrFrom4([4]byte(q.ecsAddr[:4])), int(q.ecsSrc))
		case q.ecs && q.ecsFam == 2:
			info.ecsPrefix = netip.PrefixFrom(netip.AddrFrom16(q.ecsAddr), int(q.ecsSrc))
		}
	}
	info.zone, info.dynamic, info.decision = res.Zone, res.Dynamic, &res.Decision
	s.account(&info)
	w.rrl = classify(m.Rcode, m.Answer, false, zoneOrigin(res.Zone), res.Synth, lname)
	return out, fastAnswer
}

// appendOPT appends our OPT record to the packed message out and counts it
// in ARCOUNT: our buffer size, NSID when asked for and configured, and the
// ECS option echoed with the answer's scope (ecsScope).
func (w *worker) appendOPT(out []byte, o *Options, res *zones.Result) []byte {
	q := &w.q
	start := len(out)
	out = append(out, 0, 0, byte(dns.TypeOPT), byte(o.UDPSize>>8), byte(o.UDPSize), 0, 0, 0, 0, 0, 0)
	if o.NSID != "" && q.nsid {
		out = binary.BigEndian.AppendUint16(out, dns.EDNS0NSID)
		out = binary.BigEndian.AppendUint16(out, uint16(len(o.NSID)))
		out = append(out, o.NSID...)
	}
	if q.ecs {
		n := (int(q.ecsSrc) + 7) / 8
		out = binary.BigEndian.AppendUint16(out, dns.EDNS0SUBNET)
		out = binary.BigEndian.AppendUint16(out, uint16(4+n))
		out = binary.BigEndian.AppendUint16(out, q.ecsFam)
		out = append(out, q.ecsSrc, ecsScope(res, q.ecsSrc))
		out = append(out, q.ecsAddr[:n]...)
	}
	binary.BigEndian.PutUint16(out[start+9:], uint16(len(out)-start-11))
	binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
	return out
}

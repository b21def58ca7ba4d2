package server

import (
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Zone transfers to secondaries: AXFR (RFC 5936) over TCP, and IXFR
// answered with the whole zone in AXFR form (RFC 1995 4) or, when the
// secondary is up to date, with the SOA alone. Who may transfer and the
// TSIG key (RFC 8945) sit behind one atomic pointer, so a config reload
// applies to the next request.
//
// Order of checks for a transfer request, each answered as an operator of
// BIND or Knot would expect:
//
//  1. a TSIG that does not verify: NOTAUTH with the TSIG error (BADKEY,
//     BADSIG, BADTIME), as RFC 8945 5.2 requires, before anything else;
//  2. transfers off, or a client outside Allow: REFUSED;
//  3. a key configured and the request unsigned: REFUSED;
//  4. a name that is not the apex of a zone served: NOTAUTH (RFC 5936 2.2.1);
//  5. otherwise the zone, each message signed when the request was.
//
// Over UDP (see transferOneMessage) AXFR is FORMERR, as BIND answers it:
// AXFR is not defined over UDP (RFC 5936 4.2). IXFR over UDP gets the
// current SOA alone (RFC 1995 2), which tells the secondary to come back
// over TCP.

// TransferOptions says who may copy the zones. The zero value transfers
// nothing.
type TransferOptions struct {
	// Allow lists the networks that may transfer; empty means nobody.
	Allow []netip.Prefix
	// Key, when its Name is set, must sign every transfer request (on top
	// of Allow). Answers to signed requests are signed with it.
	Key TSIGKey
}

// TSIGKey is a shared transaction key (RFC 8945).
type TSIGKey struct {
	Name      string // fully qualified, lower case; "" means no key
	Algorithm string // RFC 8945 name, such as dns.HmacSHA256
	Secret    []byte // the key itself (decoded, not base64)
}

// transferMessageBytes bounds the uncompressed size of the records in one
// transfer message: well inside the 64 KiB limit of a DNS message over
// TCP, with room for the question and a TSIG, and small enough that a
// secondary sees steady progress.
const transferMessageBytes = 16 << 10

// transfers is the server's transfer state: settings and counts.
type transfers struct {
	opts atomic.Pointer[TransferOptions] // nil: transfers off

	ok, refused, failed atomic.Uint64
}

// SetTransfer sets who may transfer the zones and the TSIG key (at start
// and on every config reload); the next request sees the new settings.
func (s *Server) SetTransfer(o TransferOptions) { s.xfr.opts.Store(&o) }

func (s *Server) transferOptions() *TransferOptions {
	if o := s.xfr.opts.Load(); o != nil {
		return o
	}
	return &TransferOptions{}
}

func (o *TransferOptions) allows(client netip.Addr) bool {
	for _, p := range o.Allow {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// serveTCP is the handler of the TCP listeners. Transfers need the
// connection to send many messages; everything else is ServeDNS.
func (s *Server) serveTCP(w dns.ResponseWriter, req *dns.Msg) {
	if isTransfer(req) {
		s.ecsTCP.take(w) // a transfer has no use for ECS, but the mark is this query's
		s.serveTransfer(w, req)
		return
	}
	s.ServeDNS(w, req)
}

func isTransfer(req *dns.Msg) bool {
	if req.Response || req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		return false
	}
	q := req.Question[0]
	return q.Qclass == dns.ClassINET && (q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR)
}

func clientOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// serveTransfer answers an AXFR or IXFR over TCP.
func (s *Server) serveTransfer(w dns.ResponseWriter, req *dns.Msg) {
	q := req.Question[0]
	client := clientOf(w.RemoteAddr())
	qi := queryInfo{client: client, tcp: true, qname: q.Name, qtype: q.Qtype}
	qt := dns.TypeToString[q.Qtype]
	if err := w.TsigStatus(); err != nil && req.IsTsig() != nil {
		s.xfr.refused.Add(1)
		s.log.Info("zone transfer refused", "client", client.String(), "zone", q.Name, "type", qt,
			"reason", "TSIG did not verify: "+err.Error())
		s.writeTSIGError(w, req, err, &qi)
		return
	}
	z := s.zones.Current().Zone(strings.ToLower(q.Name))
	if rcode, reason := s.mayTransfer(client, req, z); rcode != dns.RcodeSuccess {
		s.xfr.refused.Add(1)
		s.log.Info("zone transfer refused", "client", client.String(), "zone", q.Name, "type", qt, "reason", reason)
		m := new(dns.Msg)
		m.SetRcode(req, rcode)
		sign(m, req)
		qi.rcode = rcode
		s.account(&qi)
		if err := w.WriteMsg(m); err != nil {
			s.log.Debug("write response", "client", w.RemoteAddr().String(), "err", err)
		}
		return
	}
	qi.zone = z
	s.account(&qi)

	rrs := z.TransferRRs()
	if q.Qtype == dns.TypeIXFR && upToDate(req, z.SOA.Serial) {
		rrs = rrs[:0:0] // the SOA alone: nothing newer to send
	}
	start := time.Now()
	msgs, err := s.streamZone(w, req, z, rrs)
	if err != nil {
		s.xfr.failed.Add(1)
		s.log.Info("zone transfer failed", "client", client.String(), "zone", z.Origin, "type", qt,
			"serial", z.SOA.Serial, "messages", msgs, "err", err)
		return
	}
	s.xfr.ok.Add(1)
	s.log.Info("zone transferred", "client", client.String(), "zone", z.Origin, "type", qt,
		"serial", z.SOA.Serial, "records", len(rrs)+1, "messages", msgs, "duration", time.Since(start).Round(time.Microsecond))
}

// mayTransfer applies the settings to a request whose TSIG, if any,
// verified: NOERROR, or the rcode to refuse with and why.
func (s *Server) mayTransfer(client netip.Addr, req *dns.Msg, z *zones.Zone) (int, string) {
	o := s.transferOptions()
	switch {
	case len(o.Allow) == 0:
		return dns.RcodeRefused, "transfers are off: transfer.allow is empty"
	case !o.allows(client):
		return dns.RcodeRefused, "client not in transfer.allow"
	case o.Key.Name != "" && req.IsTsig() == nil:
		return dns.RcodeRefused, "request not signed with transfer.tsig"
	case z == nil:
		return dns.RcodeNotAuth, "not the apex of a zone served here"
	}
	return dns.RcodeSuccess, ""
}

// upToDate reports whether an IXFR's SOA (authority section) carries our
// serial or a later one (RFC 1982 arithmetic).
func upToDate(req *dns.Msg, ours uint32) bool {
	for _, rr := range req.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return int32(ours-soa.Serial) <= 0
		}
	}
	return false
}

// streamZone writes the SOA, rrs (which start with the SOA, or are empty)
// and the closing SOA in messages of at most transferMessageBytes of
// records, each signed when req was (RFC 8945 5.3.1: the first over the
// request's MAC, the others over the previous MAC and the timers). It
// returns the messages written.
//
// The connection is exempt from the TCP lifetime and eviction while the
// zone goes out: a transfer is never cut short for having lasted long.
func (s *Server) streamZone(w dns.ResponseWriter, req *dns.Msg, z *zones.Zone, rrs []dns.RR) (int, error) {
	release := s.holdTCP(w.RemoteAddr())
	defer release()
	msgs := 0
	send := func(answer []dns.RR) error {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		m.Compress = true
		m.Answer = answer
		sign(m, req)
		if err := w.WriteMsg(m); err != nil {
			return err
		}
		msgs++
		w.TsigTimersOnly(true)
		return nil
	}
	if len(rrs) == 0 {
		return msgs, send([]dns.RR{z.SOA})
	}
	var batch []dns.RR
	size := 0
	for _, rr := range append(rrs, z.SOA) {
		n := dns.Len(rr)
		if size+n > transferMessageBytes && len(batch) > 0 {
			if err := send(batch); err != nil {
				return msgs, err
			}
			batch, size = nil, 0
		}
		batch = append(batch, rr)
		size += n
	}
	return msgs, send(batch)
}

// transferOneMessage answers an AXFR or IXFR that reached respond: one
// over UDP, or a call of Respond, neither of which can send a zone in
// several messages (the TCP listeners stream transfers in serveTCP before
// respond is reached).
func (s *Server) transferOneMessage(m *dns.Msg, q dns.Question, qi *queryInfo) {
	switch {
	case qi.tcp:
		m.Rcode = dns.RcodeRefused
		return
	case q.Qtype == dns.TypeAXFR:
		m.Rcode = dns.RcodeFormatError // AXFR over UDP is not defined (RFC 5936 4.2)
		return
	}
	// IXFR: the SOA alone says "come over TCP" (RFC 1995 2). The SOA is
	// public, so no TSIG is needed for it, but an outsider still gets
	// REFUSED, as over TCP.
	if !s.transferOptions().allows(qi.client) {
		m.Rcode = dns.RcodeRefused
		return
	}
	z := s.zones.Current().Zone(strings.ToLower(q.Name))
	if z == nil {
		m.Rcode = dns.RcodeNotAuth
		return
	}
	qi.zone = z
	m.Authoritative = true
	m.Answer = []dns.RR{z.SOA}
}

// TransferStats counts transfer requests over TCP since start.
type TransferStats struct {
	OK      uint64 // zones sent in full (or, for an up-to-date IXFR, the SOA)
	Refused uint64 // requests answered with an error: REFUSED, NOTAUTH
	Failed  uint64 // transfers cut short: the secondary went away or stopped reading
}

// TransferStats returns the transfer counts.
func (s *Server) TransferStats() TransferStats {
	return TransferStats{OK: s.xfr.ok.Load(), Refused: s.xfr.refused.Load(), Failed: s.xfr.failed.Load()}
}

var transfersDesc = prometheus.NewDesc("meridian_transfers_total",
	"Zone transfer requests (AXFR, IXFR) over TCP, by result: ok, refused (REFUSED or NOTAUTH: not allowed, TSIG missing or bad, not a zone) or failed (cut short).",
	[]string{"result"}, nil)

// TransferCollector returns the collector of the transfer counts.
func (s *Server) TransferCollector() prometheus.Collector { return transferCollector{s} }

type transferCollector struct{ s *Server }

func (c transferCollector) Describe(ch chan<- *prometheus.Desc) { ch <- transfersDesc }

func (c transferCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.TransferStats()
	ch <- prometheus.MustNewConstMetric(transfersDesc, prometheus.CounterValue, float64(st.OK), "ok")
	ch <- prometheus.MustNewConstMetric(transfersDesc, prometheus.CounterValue, float64(st.Refused), "refused")
	ch <- prometheus.MustNewConstMetric(transfersDesc, prometheus.CounterValue, float64(st.Failed), "failed")
}

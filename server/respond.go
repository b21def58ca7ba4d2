package server

import (
	"encoding/hex"
	"net/netip"
	"strings"

	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// respond builds the response to req from qi.client over qi.tcp, or
// returns nil when the query must be dropped. It notes in qi what account
// needs.
func (s *Server) respond(req *dns.Msg, qi *queryInfo) *dns.Msg {
	src, tcp := qi.client, qi.tcp
	if req.Response {
		return nil
	}
	m := new(dns.Msg)
	m.Compress = true
	if req.Opcode != dns.OpcodeQuery {
		m.SetRcode(req, dns.RcodeNotImplemented)
		m.Question = nil
		return m
	}
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		m.Question = nil
		return m
	}
	m.SetReply(req)
	qi.qname, qi.qtype = req.Question[0].Name, req.Question[0].Qtype
	s.testPanic(qi.qname)
	o := s.opts.Load()

	opt, ok := requestOPT(req)
	if !ok {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	var ropt *dns.OPT
	var ecs *dns.EDNS0_SUBNET
	client := src
	if opt != nil {
		ropt = s.replyOPT(o, opt)
		m.Extra = append(m.Extra, ropt)
		if opt.Version() != 0 {
			// RFC 6891 6.1.3: BADVERS, whose upper bits live in the OPT.
			m.Rcode = dns.RcodeBadVers
			ropt.SetExtendedRcode(dns.RcodeBadVers)
			return m
		}
		var err error
		if ecs, err = clientSubnet(opt); err != nil || (ecs != nil && qi.ecsOctets) {
			m.Rcode = dns.RcodeFormatError
			return m
		}
		if ecs != nil {
			qi.ecs = true
			if a, ok := netip.AddrFromSlice(ecs.Address); ok {
				qi.ecsPrefix = netip.PrefixFrom(a, int(ecs.SourceNetmask))
			}
		}
		if ecs != nil && ecs.SourceNetmask > 0 {
			// An IPv4-mapped address stays mapped: the client is its IPv4
			// address, but the scope must come back in IPv6 bits.
			client, _ = netip.AddrFromSlice(ecs.Address)
		}
	}

	q := req.Question[0]
	switch {
	case q.Qclass == dns.ClassCHAOS:
		s.chaos(o, m, q)
	case q.Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		s.transferOneMessage(m, q, qi) // over TCP, serveTCP streams them instead
	case q.Qtype == dns.TypeOPT || q.Qtype == dns.TypeTSIG || q.Qtype == dns.TypeTKEY:
		m.Rcode = dns.RcodeFormatError
	default:
		c := pools.NewClient(client, s.geo.Load())
		res := s.zones.Current().LookupFor(q.Name, q.Qtype, zones.Query{Client: &c, Health: s.healthSource()})
		qi.zone, qi.dynamic, qi.decision = res.Zone, res.Dynamic, &res.Decision
		qi.synth = res.Synth
		fill(m, res)
		if ecs != nil {
			echoSubnet(ropt, ecs, res)
		}
	}

	if !tcp {
		var size uint16
		if opt != nil {
			size = opt.UDPSize()
		}
		truncate(m, udpLimit(o, opt != nil, size)-qi.reserve)
	}
	return m
}

// rcodeFor maps the kind of a lookup result to the response's rcode and
// AA bit. Both paths take it from here, so that they cannot disagree.
func rcodeFor(k zones.Kind) (rcode int, aa bool) {
	switch k {
	case zones.Refused:
		return dns.RcodeRefused, false
	case zones.Delegation:
		return dns.RcodeSuccess, false // a referral is not our answer
	case zones.NameError:
		return dns.RcodeNameError, true
	case zones.YXDomain:
		return dns.RcodeYXDomain, true
	}
	return dns.RcodeSuccess, true
}

// fill maps a lookup result onto the response.
func fill(m *dns.Msg, res zones.Result) {
	opt := m.Extra
	m.Rcode, m.Authoritative = rcodeFor(res.Kind)
	if res.Kind == zones.Refused {
		return
	}
	m.Answer = res.Answer
	m.Ns = res.Ns
	if len(res.Extra) > 0 {
		m.Extra = make([]dns.RR, 0, len(res.Extra)+len(opt))
		m.Extra = append(m.Extra, res.Extra...)
		m.Extra = append(m.Extra, opt...)
	}
}

// requestOPT returns the query's OPT record, nil when it has none, and
// false when it has more than one or one whose owner is not the root
// (RFC 6891 6.1.1, 6.1.2: FORMERR).
func requestOPT(req *dns.Msg) (*dns.OPT, bool) {
	var opt *dns.OPT
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if opt != nil || o.Hdr.Name != "." {
				return nil, false
			}
			opt = o
		}
	}
	return opt, true
}

// replyOPT builds our OPT: our buffer size, version 0, NSID when asked for
// and configured. Unknown options are ignored, as RFC 6891 requires.
func (s *Server) replyOPT(o *Options, q *dns.OPT) *dns.OPT {
	r := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	r.SetUDPSize(o.UDPSize)
	if o.NSID == "" {
		return r
	}
	for _, e := range q.Option {
		if e.Option() == dns.EDNS0NSID {
			r.Option = append(r.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: hex.EncodeToString([]byte(o.NSID))})
			break
		}
	}
	return r
}

// udpLimit is the largest UDP response the client accepts: 512 without
// EDNS, else the smaller of its buffer (size, from its OPT) and ours, never
// below 512. Both paths take it from here.
func udpLimit(o *Options, edns bool, size uint16) int {
	if !edns {
		return dns.MinMsgSize
	}
	return max(dns.MinMsgSize, int(min(size, o.UDPSize)))
}

// truncate makes m fit in limit bytes. When the answer or authority section
// does not fit, the response carries TC and no records at all, so the client
// retries over TCP instead of caching a partial RRset. Additional records
// that do not fit are simply left out (RFC 2181 9), except referral glue
// (RFC 9471), whose loss sets TC.
func truncate(m *dns.Msg, limit int) {
	if m.Len() <= limit {
		return
	}
	na, nn := len(m.Answer), len(m.Ns)
	referral := !m.Authoritative && nn > 0 && len(m.Answer) == 0
	m.Truncate(limit) // which takes a limit under 512 for 512
	if len(m.Answer) == na && len(m.Ns) == nn && !referral && m.Len() <= limit {
		m.Truncated = false
		return
	}
	m.Truncated = true
	m.Answer, m.Ns = nil, nil
	opt := m.IsEdns0()
	m.Extra = nil
	if opt != nil {
		m.Extra = []dns.RR{opt}
	}
}

// chaos answers the CHAOS-class identity queries (RFC 4892) when the
// operator configured them, and refuses everything else in class CH.
func (s *Server) chaos(o *Options, m *dns.Msg, q dns.Question) {
	var txt string
	if q.Qtype == dns.TypeTXT || q.Qtype == dns.TypeANY {
		switch strings.ToLower(q.Name) {
		case "version.bind.", "version.server.":
			txt = o.Version
		case "hostname.bind.", "id.server.":
			txt = o.NSID
		}
	}
	if txt == "" {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = true
	m.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{txt},
	}}
}

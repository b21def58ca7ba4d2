package server

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TSIG (RFC 8945): the one key of the transfer settings signs zone
// transfers (transfer.go) and the ordinary queries of secondaries, such as
// their SOA checks.

// serveSigned answers a TSIG-signed query that is not a transfer (a
// secondary's SOA check, say), over either transport, through a miekg/dns
// writer, which checked the TSIG and signs what it writes.
func (s *Server) serveSigned(w dns.ResponseWriter, req *dns.Msg) {
	qi := queryInfo{client: clientOf(w.RemoteAddr())}
	_, qi.tcp = w.RemoteAddr().(*net.TCPAddr)
	// The mark is this query's, whatever its TSIG says.
	qi.ecsOctets = qi.tcp && s.ecsTCP.take(w)
	m := s.respondSigned(req, w.TsigStatus(), &qi)
	if m == nil {
		return
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write response", "client", w.RemoteAddr().String(), "err", err)
	}
}

// signed is serveSigned for the general UDP path: it checks the TSIG of
// req (pkt on the wire) from src, responds and signs, as a miekg/dns
// server with our handler does (udp_miekg_test.go checks that it does).
func (w *worker) signed(pkt []byte, req *dns.Msg, src netip.Addr) []byte {
	keys := tsigKeys{s: w.s}
	// The check rewrites the ID and ARCOUNT of the packet it is given.
	status := dns.TsigVerifyWithProvider(append([]byte(nil), pkt...), keys, "", false)
	qi := queryInfo{client: src, ecsOctets: badECSOctets(pkt)}
	m := w.s.respondSigned(req, status, &qi)
	if m == nil {
		return nil
	}
	w.classifyAnswer(m, &qi)
	out, _, err := dns.TsigGenerateWithProvider(m, keys, req.IsTsig().MAC, false)
	if err != nil {
		w.s.log.Debug("sign response", "client", src.String(), "err", err)
		return nil
	}
	return out
}

// respondSigned builds the response to the signed request req whose TSIG
// check gave status (nil: it verified), with our TSIG record last for the
// writer to sign: NOTAUTH with the TSIG error (RFC 8945 5.2), or the usual
// answer. Over UDP the answer leaves room for that record: one that does
// not fit is truncated, and the truncated answer signed (RFC 8945 5.3).
func (s *Server) respondSigned(req *dns.Msg, status error, qi *queryInfo) *dns.Msg {
	if status != nil {
		if len(req.Question) == 1 {
			qi.qname, qi.qtype = req.Question[0].Name, req.Question[0].Qtype
		}
		return s.tsigError(req, status, qi)
	}
	if !qi.tcp {
		qi.reserve = tsigLen(req.IsTsig())
	}
	m := s.respondCounted(req, qi)
	if m != nil {
		sign(m, req)
	}
	return m
}

// tsigLen is the length of the TSIG record that signs the answer to a
// request signed with t: the same key and algorithm, so a MAC as long as
// t's once t verified, and no error or other data.
func tsigLen(t *dns.TSIG) int {
	r := *t
	r.Error, r.OtherLen, r.OtherData = 0, 0, ""
	return dns.Len(&r)
}

// sign adds to m the TSIG record of the key that signed req, for the
// writer to compute the MAC.
func sign(m, req *dns.Msg) {
	if t := req.IsTsig(); t != nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	}
}

// writeTSIGError answers a request whose TSIG did not verify (see
// tsigError).
func (s *Server) writeTSIGError(w dns.ResponseWriter, req *dns.Msg, err error, qi *queryInfo) {
	m := s.tsigError(req, err, qi)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write response", "client", w.RemoteAddr().String(), "err", err)
	}
}

// tsigError builds, and counts, the answer to a request whose TSIG did not
// verify (RFC 8945 5.2): NOTAUTH and the TSIG error, which the writer
// leaves unsigned for BADKEY and BADSIG and signs, with the server's time
// in it, for BADTIME.
func (s *Server) tsigError(req *dns.Msg, err error, qi *queryInfo) *dns.Msg {
	t := req.IsTsig()
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeNotAuth)
	m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	rt := m.Extra[len(m.Extra)-1].(*dns.TSIG)
	switch err {
	case dns.ErrSig:
		rt.Error = dns.RcodeBadSig
	case dns.ErrTime:
		rt.Error = dns.RcodeBadTime
		rt.TimeSigned = t.TimeSigned
		var now [8]byte
		binary.BigEndian.PutUint64(now[:], uint64(time.Now().Unix()))
		rt.OtherLen, rt.OtherData = 6, hex.EncodeToString(now[2:])
	default:
		rt.Error = dns.RcodeBadKey
	}
	qi.rcode = m.Rcode
	s.account(qi)
	return m
}

// tsigKeys is the TSIG provider of both transports: it knows the one key
// of the transfer settings in force.
type tsigKeys struct {
	s   *Server
	tcp bool // the provider of the TCP listeners
}

// key returns the configured key when t names it, else dns.ErrSecret
// (which the server answers with BADKEY).
func (k tsigKeys) key(t *dns.TSIG) (*TSIGKey, error) {
	o := k.s.transferOptions()
	if o.Key.Name == "" || !strings.EqualFold(dns.CanonicalName(t.Hdr.Name), o.Key.Name) ||
		!strings.EqualFold(dns.CanonicalName(t.Algorithm), o.Key.Algorithm) {
		return nil, dns.ErrSecret
	}
	return &o.Key, nil
}

func (k tsigKeys) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	key, err := k.key(t)
	if err != nil {
		return nil, err
	}
	return tsigMAC(key, msg)
}

func (k tsigKeys) Verify(msg []byte, t *dns.TSIG) (err error) {
	// On TCP, miekg/dns checks the TSIG before calling the handler, out of
	// reach of its recover (panics.go).
	defer func() {
		if p := recover(); p != nil {
			k.s.panicked(p, nil, netip.Addr{}, k.tcp)
			err = dns.ErrSig
		}
	}()
	key, err := k.key(t)
	if err != nil {
		return err
	}
	want, err := tsigMAC(key, msg)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(got, want) {
		return dns.ErrSig
	}
	return nil
}

// tsigMAC is the HMAC of msg under key.
func tsigMAC(key *TSIGKey, msg []byte) ([]byte, error) {
	var h func() hash.Hash
	switch dns.CanonicalName(key.Algorithm) {
	case dns.HmacSHA1:
		h = sha1.New
	case dns.HmacSHA224:
		h = sha256.New224
	case dns.HmacSHA256:
		h = sha256.New
	case dns.HmacSHA384:
		h = sha512.New384
	case dns.HmacSHA512:
		h = sha512.New
	default:
		return nil, dns.ErrKeyAlg
	}
	mac := hmac.New(h, key.Secret)
	mac.Write(msg)
	return mac.Sum(nil), nil
}

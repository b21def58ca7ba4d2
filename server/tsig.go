package server

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TSIG (RFC 8945): the one key of the transfer settings signs zone
// transfers (transfer.go) and the ordinary queries of secondaries, such as
// their SOA checks.

// serveSigned answers a TSIG-signed query that is not a transfer (a
// secondary's SOA check, say): a TSIG error, or the usual answer signed.
func (s *Server) serveSigned(w dns.ResponseWriter, req *dns.Msg) {
	client := clientOf(w.RemoteAddr())
	if err := w.TsigStatus(); err != nil {
		qi := queryInfo{client: client, tcp: true}
		if len(req.Question) == 1 {
			qi.qname, qi.qtype = req.Question[0].Name, req.Question[0].Qtype
		}
		s.writeTSIGError(w, req, err, &qi)
		return
	}
	m := s.Respond(req, client, true)
	if m == nil {
		return
	}
	sign(m, req)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write response", "client", w.RemoteAddr().String(), "err", err)
	}
}

// sign asks the connection to sign m with the key that signed req (the
// miekg/dns writer computes the MAC).
func sign(m, req *dns.Msg) {
	if t := req.IsTsig(); t != nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	}
}

// writeTSIGError answers a request whose TSIG did not verify (RFC 8945
// 5.2): NOTAUTH and the TSIG error, unsigned for BADKEY and BADSIG, signed
// with the server's time for BADTIME.
func (s *Server) writeTSIGError(w dns.ResponseWriter, req *dns.Msg, err error, qi *queryInfo) {
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
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("write response", "client", w.RemoteAddr().String(), "err", err)
	}
}

// tsigKeys is the TSIG provider of the TCP listeners: it knows the one
// key of the transfer settings in force.
type tsigKeys struct{ s *Server }

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

func (k tsigKeys) Verify(msg []byte, t *dns.TSIG) error {
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

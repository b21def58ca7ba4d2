package server

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// Response rate limiting (RRL), in the style of BIND and NSD, keeps
// Meridian from being a useful reflector: an attacker who forges a
// victim's address gets at most RRL.Rate answers of one class per second
// per victim network, whatever it sends. Each client network (/24 for
// IPv4, /56 for IPv6) has a token bucket per answer class, keyed so that
// an attacker cannot make up new keys faster than the zones hold names:
//
//   - positive answers: per owner name and the type of the RRset that
//     answers (the first record of the answer section), so every type
//     asked of a CNAME or DNAME shares one budget;
//   - NODATA: per owner name, whatever the type asked;
//   - NXDOMAIN and referrals: per zone, so random names share one budget;
//   - errors (REFUSED, FORMERR, SERVFAIL, NOTIMP, ...): one per network.
//
// The owner name is the query name, except when a wildcard or a DNAME
// answered for it: then it is the wildcard's owner ("*.example.org.") or
// the DNAME's, so random labels below either share one budget.
//
// A bucket holds at most Rate tokens (one second's burst) and refills at
// Rate per second; a response over budget still spends a token, down to a
// debt of Window × Rate, so a network that keeps flooding stays limited
// until it has been quiet for up to Window. Of the limited responses,
// every Slip-th is sent truncated and empty (TC set, question only) so a
// real resolver behind a forged flood retries over TCP, which cannot be
// forged; the rest are dropped. Only UDP is limited.
//
// The buckets live in a fixed table, updated with atomic compare-and-swap:
// no locks, no allocation, bounded memory. A hash of (network, class,
// name, type) names two slots where a key may live. A key uses the one it
// holds; else it takes whichever is idle (its bucket full again, so
// nothing is owed there), and when neither is, it spends from the fuller
// of the two without taking it. So a key being limited keeps its slot and
// its debt whatever collides with it: a newcomer can never reset a bucket,
// only share one, and under a flood that keeps both its slots busy a key
// may be limited sooner than its own budget says, never later.

// RRL configures response rate limiting; the zero value turns it off.
type RRL struct {
	Rate   int            // responses per second per network and class; 0 = off
	Slip   int            // every Slip-th limited response is sent truncated; 0 = none
	Window time.Duration  // how long a flood's debt lasts
	Exempt []netip.Prefix // networks never limited
}

const (
	rrlBits  = 17
	rrlSlots = 1 << rrlBits
)

// rrlClass is the kind of response budgeted separately.
type rrlClass uint8

const (
	rrlAnswer   rrlClass = iota + 1 // positive answer: per owner and type
	rrlNoData                       // empty NOERROR: per owner
	rrlNXDomain                     // per zone
	rrlReferral                     // per zone
	rrlError                        // any other rcode: per network
)

// rrlKey is what a response is budgeted by, besides the client network.
type rrlKey struct {
	class rrlClass
	name  string // owner or zone, in any case; "" for errors
	rtype uint16 // the answering RRset's type; positive answers only
}

// rrlDecision says what to do with a response.
type rrlDecision int

const (
	rrlSend rrlDecision = iota
	rrlDrop
	rrlSlip
)

type rrlSlot struct {
	key   atomic.Uint64 // the hash of the key that holds the slot
	state atomic.Uint64 // second (high 32 bits) and balance (low 32, signed); 0: never used
	slips atomic.Uint32
}

// rrlTable is the state of one RRL configuration.
type rrlTable struct {
	conf  RRL
	start time.Time
	slots []rrlSlot
}

func newRRLTable(c RRL) *rrlTable {
	if c.Rate <= 0 {
		return nil
	}
	return &rrlTable{conf: c, start: time.Now(), slots: make([]rrlSlot, rrlSlots)}
}

// same reports whether t was built for c, so a reload that leaves RRL as
// it was keeps the buckets.
func (t *rrlTable) same(c RRL) bool {
	if t == nil || c.Rate <= 0 {
		return t == nil && c.Rate <= 0
	}
	a := t.conf
	if a.Rate != c.Rate || a.Slip != c.Slip || a.Window != c.Window || len(a.Exempt) != len(c.Exempt) {
		return false
	}
	for i := range a.Exempt {
		if a.Exempt[i] != c.Exempt[i] {
			return false
		}
	}
	return true
}

// check spends one token of src's bucket for k and says what to do.
func (t *rrlTable) check(src netip.Addr, k *rrlKey) rrlDecision {
	for _, p := range t.conf.Exempt {
		if p.Contains(src) {
			return rrlSend
		}
	}
	h := rrlHash(src, k)
	a, b := &t.slots[h&(rrlSlots-1)], &t.slots[(h>>rrlBits)&(rrlSlots-1)]
	now := uint32(time.Since(t.start)/time.Second) + 1 // from 1: a zero state is a slot never used
	slot := a
	for range 8 {
		held := true
		switch {
		case a.key.Load() == h:
			slot = a
		case b.key.Load() == h:
			slot = b
		default:
			// Not held: the fuller of the two, which is ours when idle.
			held = false
			slot = a
			if t.level(b.state.Load(), now) > t.level(a.state.Load(), now) {
				slot = b
			}
		}
		old := slot.state.Load()
		bal := t.level(old, now)
		idle := bal == int64(t.conf.Rate)
		bal = max(t.floor(), bal-1)
		if !slot.state.CompareAndSwap(old, rrlState(max(now, uint32(old>>32)), bal)) {
			continue
		}
		if !held && idle {
			slot.key.Store(h)
			slot.slips.Store(0)
		}
		if bal >= 0 {
			return rrlSend
		}
		break
	}
	if s := t.conf.Slip; s > 0 && slot.slips.Add(1)%uint32(s) == 0 {
		return rrlSlip
	}
	return rrlDrop
}

// level is the balance of the bucket in state at second now: what was
// left, refilled at the rate for the seconds since, up to the rate. A
// slot never used is full.
func (t *rrlTable) level(state uint64, now uint32) int64 {
	rate := int64(t.conf.Rate)
	if state == 0 {
		return rate
	}
	sec, bal := uint32(state>>32), int64(int32(uint32(state)))
	if now > sec {
		bal = min(rate, bal+int64(now-sec)*rate)
	}
	return bal
}

// floor is the deepest debt a bucket can run up: window × rate.
func (t *rrlTable) floor() int64 {
	return -int64(t.conf.Window/time.Second) * int64(t.conf.Rate)
}

func rrlState(sec uint32, bal int64) uint64 {
	return uint64(sec)<<32 | uint64(uint32(int32(bal)))
}

// rrlHash is FNV-1a over the client network, the class, the name folded
// to lower case and the type.
func rrlHash(src netip.Addr, k *rrlKey) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	mix := func(b byte) { h = (h ^ uint64(b)) * prime }
	if src.Is4() {
		a := src.As4()
		mix(4)
		for _, b := range a[:3] { // the /24
			mix(b)
		}
	} else {
		a := src.As16()
		mix(6)
		for _, b := range a[:7] { // the /56
			mix(b)
		}
	}
	mix(byte(k.class))
	for i := 0; i < len(k.name); i++ {
		c := k.name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		mix(c)
	}
	mix(byte(k.rtype >> 8))
	mix(byte(k.rtype))
	return h
}

// classify returns the budget a response draws from. synth is the owner
// of the wildcard or DNAME that answered for qname, "" when none (see
// zones.Result.Synth); zone is the origin of the zone that answered.
func classify(rcode int, answer []dns.RR, referral bool, zone, synth, qname string) rrlKey {
	owner := qname
	if synth != "" {
		owner = synth
	}
	switch {
	case rcode == dns.RcodeSuccess && referral:
		return rrlKey{class: rrlReferral, name: zone}
	case rcode == dns.RcodeSuccess && len(answer) > 0:
		return rrlKey{class: rrlAnswer, name: owner, rtype: answer[0].Header().Rrtype}
	case rcode == dns.RcodeSuccess:
		return rrlKey{class: rrlNoData, name: owner}
	case rcode == dns.RcodeNameError:
		return rrlKey{class: rrlNXDomain, name: zone}
	}
	return rrlKey{class: rrlError}
}

// rateLimit applies RRL to the UDP response out for src, classed by
// w.rrl: out itself, nil (dropped) or a truncated copy in w.slip.
func (w *worker) rateLimit(out []byte, src netip.Addr) []byte {
	t := w.s.rrl.Load()
	if t == nil || out == nil {
		return out
	}
	switch t.check(src, &w.rrl) {
	case rrlSend:
		return out
	case rrlDrop:
		w.s.metrics.rrlDropped.Add(1)
		return nil
	}
	w.s.metrics.rrlSlipped.Add(1)
	return w.truncated(out)
}

// truncated is the slipped form of the response out: its header with TC
// set and only the question (none when it had none), in w.slip.
func (w *worker) truncated(out []byte) []byte {
	end := 12
	if binary.BigEndian.Uint16(out[4:]) == 1 {
		end = skipQuestion(out)
	}
	if end < 0 {
		end = 12
	}
	b := append(w.slip[:0], out[:end]...)
	b[2] |= 0x02 // TC
	if end == 12 {
		binary.BigEndian.PutUint16(b[4:], 0)
	}
	clear(b[6:12]) // no answer, authority or additional records
	w.slip = b
	return b
}

// skipQuestion returns the offset just past the first question of msg
// when its name is plain labels (no compression) of a legal length, else
// -1. Our responses write the question that way; a query that does not
// gets no question copied from it.
func skipQuestion(msg []byte) int {
	off := 12
	for off < len(msg) {
		l := int(msg[off])
		switch {
		case l == 0:
			if off+1-12 > 255 || off+5 > len(msg) {
				return -1
			}
			return off + 5
		case l&0xC0 != 0:
			return -1
		}
		off += 1 + l
	}
	return -1
}

func zoneOrigin(z *zones.Zone) string {
	if z == nil {
		return ""
	}
	return z.Origin
}

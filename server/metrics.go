package server

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandns/meridian/internal/querylog"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// queryInfo is what one answered query leaves behind for the metrics and
// the query log. Whatever path answers a query fills one on its stack and
// passes it to account, which does not retain it.
type queryInfo struct {
	client    netip.Addr   // the packet's source address
	ecs       bool         // the query carried an ECS option
	ecsPrefix netip.Prefix // its source prefix; invalid when it has no address
	ecsOctets bool         // as received, its address was not in the octets its source prefix needs (ecswire.go)
	qname     string       // as asked; "" when the query had no question
	qtype     uint16
	zone      *zones.Zone // the zone of the query name; nil outside every zone
	synth     string      // the wildcard or DNAME that answered for it (zones.Result.Synth)
	rcode     int         // the response's full rcode (BADVERS included)
	tcp       bool
	reserve   int // bytes a UDP answer leaves free for a TSIG record added after respond
	truncated bool
	dynamic   bool            // a dynamic record chose (part of) the answer
	decision  *pools.Decision // the first choice, when dynamic; valid until the query is accounted

	log   *querylog.Log // non-nil when this query was sampled for the query log
	start time.Time     // when handling began; set only when log is non-nil
}

// The query counters are fixed arrays indexed by small buckets, so the
// query path only ever does atomic adds: qtypes and rcodes outside the
// common ones share an "other" bucket, which bounds label cardinality.
const (
	nTransports = 2 // udp, tcp
	nQtypes     = len(qtypeNames)
	nRcodes     = len(rcodeNames)
)

var (
	transportNames = [nTransports]string{"udp", "tcp"}
	qtypeNames     = [...]string{"A", "AAAA", "CNAME", "MX", "NS", "SOA", "TXT", "SRV", "PTR", "CAA", "HTTPS", "SVCB",
		"DS", "DNSKEY", "NAPTR", "ANY", "other"}
	rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "BADVERS", "other"}
)

func qtypeBucket(t uint16) int {
	switch t {
	case dns.TypeA:
		return 0
	case dns.TypeAAAA:
		return 1
	case dns.TypeCNAME:
		return 2
	case dns.TypeMX:
		return 3
	case dns.TypeNS:
		return 4
	case dns.TypeSOA:
		return 5
	case dns.TypeTXT:
		return 6
	case dns.TypeSRV:
		return 7
	case dns.TypePTR:
		return 8
	case dns.TypeCAA:
		return 9
	case dns.TypeHTTPS:
		return 10
	case dns.TypeSVCB:
		return 11
	case dns.TypeDS:
		return 12
	case dns.TypeDNSKEY:
		return 13
	case dns.TypeNAPTR:
		return 14
	case dns.TypeANY:
		return 15
	}
	return nQtypes - 1
}

func rcodeBucket(rc int) int {
	switch rc {
	case dns.RcodeSuccess, dns.RcodeFormatError, dns.RcodeServerFailure, dns.RcodeNameError,
		dns.RcodeNotImplemented, dns.RcodeRefused, dns.RcodeYXDomain:
		return rc // 0..6, in rcodeNames order
	case dns.RcodeBadVers:
		return 7
	}
	return nRcodes - 1
}

// zoneCounters counts the queries of one zone, over all its versions.
type zoneCounters struct {
	queries [nTransports][nQtypes][nRcodes]atomic.Uint64
}

// decisionKey names one series of the decision counter.
type decisionKey struct {
	zone, record string
	typ          uint16
	rule         int // index of the rule; -1 when none matched
	pool         string
	outcome      pools.Outcome
}

// lookup finds counters by the pointers a query carries: hashing a
// pointer is much cheaper than hashing names. It is built for one zone set
// and immutable once published; the nil zone key stands for names outside
// every zone.
type lookup struct {
	set     *zones.Set
	zones   map[*zones.Zone]*zoneCounters
	records map[*pools.Record]string // the origin of each dynamic record's zone
}

// metrics holds the query counters. The query path loads one lookup
// table, reads two maps and does atomic adds. The table is rebuilt, under
// the mutex, by the first query that meets a zone set it was not built
// for: once per reload, in one pass over the set, so a set of many
// records costs one rebuild rather than one per record. Entries for
// versions no longer served are dropped then, so old snapshots are not
// kept alive.
type metrics struct {
	fast    atomic.Pointer[lookup]
	current func() *zones.Set // the set served

	mu          sync.Mutex // serialises publishing fast; guards the maps below
	zonesByName map[string]*zoneCounters
	decisions   map[decisionKey]*atomic.Uint64

	ecs        [2]atomic.Uint64 // [absent, present]
	truncated  atomic.Uint64
	rrlDropped atomic.Uint64 // responses response rate limiting dropped
	rrlSlipped atomic.Uint64 // and sent truncated instead
	tcpRefused atomic.Uint64 // TCP connections closed at accept (client at its limit, or no idle one to replace)
	tcpEvicted atomic.Uint64 // idle TCP connections closed to make room for a new one
	tcpSlow    atomic.Uint64 // TCP connections closed because the client did not read a response in time

	panics [nTransports]atomic.Uint64 // panics contained while answering a query (panics.go)
}

func (m *metrics) init(current func() *zones.Set) {
	m.current = current
	m.zonesByName = map[string]*zoneCounters{}
	m.decisions = map[decisionKey]*atomic.Uint64{}
	m.fast.Store(&lookup{zones: map[*zones.Zone]*zoneCounters{}, records: map[*pools.Record]string{}})
}

// zone returns the counters of z (nil: outside every zone).
func (m *metrics) zone(z *zones.Zone) *zoneCounters {
	if c := m.fast.Load().zones[z]; c != nil {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.tableLocked().zones[z]; c != nil {
		return c
	}
	// A version replaced while its query was in flight.
	return m.byNameLocked(z.Origin)
}

// recordZone returns the origin of r's zone, which names its decision
// series.
func (m *metrics) recordZone(r *pools.Record) string {
	if z, ok := m.fast.Load().records[r]; ok {
		return z
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if z, ok := m.tableLocked().records[r]; ok {
		return z
	}
	// A version replaced while its query was in flight: count it in the
	// series of the served zone that holds its name.
	return m.zoneOf(r.Name)
}

// tableLocked returns the lookup table of the set being served, building
// it when the set changed.
func (m *metrics) tableLocked() *lookup {
	old, cur := m.fast.Load(), m.current()
	if old.set == cur && cur != nil {
		return old
	}
	t := &lookup{set: cur, zones: map[*zones.Zone]*zoneCounters{nil: m.byNameLocked("")},
		records: map[*pools.Record]string{}}
	if cur != nil {
		for _, z := range cur.Zones() {
			t.zones[z] = m.byNameLocked(z.Origin)
			for _, rec := range z.Records {
				if r := rec.Policy; r != nil {
					t.records[r] = z.Origin
				}
			}
		}
	}
	m.fast.Store(t)
	return t
}

// byNameLocked returns the counters of the zone named origin ("" for
// names outside every zone), which every version of the zone shares.
func (m *metrics) byNameLocked(origin string) *zoneCounters {
	c := m.zonesByName[origin]
	if c == nil {
		c = new(zoneCounters)
		m.zonesByName[origin] = c
	}
	return c
}

func (m *metrics) zoneOf(name string) string {
	best := ""
	for _, z := range m.current().Zones() {
		if dns.IsSubDomain(z.Origin, name) && len(z.Origin) > len(best) {
			best = z.Origin
		}
	}
	return best
}

// series returns the counter of one decision series.
func (m *metrics) series(k decisionKey) *atomic.Uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.decisions[k]
	if c == nil {
		c = new(atomic.Uint64)
		m.decisions[k] = c
	}
	return c
}

// decision counts d. A record's cells (pools.Record.Cell) point at the
// counters of their series, shared by every version of the record, so a
// reload that recompiles it keeps counting in the same series; a cell is
// resolved by the first decision that needs it.
func (m *metrics) decision(d *pools.Decision) {
	r := d.Record
	cell := r.Cell(d)
	if cell != nil {
		if c := cell.Load(); c != nil {
			c.Add(1)
			return
		}
	}
	k := decisionKey{zone: m.recordZone(r), record: r.Name, typ: r.Type, rule: -1, outcome: d.Outcome}
	if d.Rule != nil {
		k.rule = d.Rule.Index
	}
	if d.Pool != nil {
		k.pool = d.Pool.ID
	}
	c := m.series(k)
	if cell != nil {
		cell.Store(c)
	}
	c.Add(1)
}

// Respond builds the response to req from src, or returns nil when the
// query must be dropped. tcp says whether the answer goes over TCP (no size
// limit). The query is counted in the metrics and, when sampled, logged.
func (s *Server) Respond(req *dns.Msg, src netip.Addr, tcp bool) *dns.Msg {
	q := queryInfo{client: src, tcp: tcp}
	return s.respondCounted(req, &q)
}

// respondCounted is Respond for a query whose client and transport q
// already holds; q also tells the caller what was answered.
func (s *Server) respondCounted(req *dns.Msg, q *queryInfo) *dns.Msg {
	if l := s.qlog.Load(); l != nil && l.Sample() {
		q.log, q.start = l, time.Now()
	}
	m := s.respond(req, q)
	if m != nil {
		q.rcode, q.truncated = m.Rcode, m.Truncated
		s.account(q)
	}
	return m
}

// account counts one answered query and hands it to the query log when
// it was sampled. It is the one place every answering path reports to;
// it takes no locks (after a zone or decision's first query) and does not
// allocate.
func (s *Server) account(q *queryInfo) {
	m := &s.metrics
	t := 0
	if q.tcp {
		t = 1
	}
	m.zone(q.zone).queries[t][qtypeBucket(q.qtype)][rcodeBucket(q.rcode)].Add(1)
	if q.ecs {
		m.ecs[1].Add(1)
	} else {
		m.ecs[0].Add(1)
	}
	if q.truncated {
		m.truncated.Add(1)
	}
	if q.dynamic && q.decision != nil && q.decision.Record != nil {
		m.decision(q.decision)
	}
	if q.log != nil {
		s.logQuery(q)
	}
}

// logQuery queues q's query log line; the log drops it, and counts the
// drop, when its writer is behind.
func (s *Server) logQuery(q *queryInfo) {
	e := querylog.Entry{
		Time: q.start, Client: q.client, QName: q.qname, QType: q.qtype, Rcode: q.rcode,
		TCP: q.tcp, Latency: time.Since(q.start),
	}
	if q.zone != nil {
		e.Zone = q.zone.Origin
	}
	if q.ecs {
		e.ECS = q.ecsPrefix
	}
	if q.dynamic && q.decision != nil {
		e.Outcome = q.decision.Outcome.String()
		e.Values = q.decision.Answer
		if len(e.Values) > 1 { // possibly a worker's scratch (pools.Client.Scratch), reused by its next query
			e.Values = slices.Clone(e.Values)
		}
		if q.decision.Pool != nil {
			e.Pool = q.decision.Pool.ID
		}
	}
	q.log.Write(&e)
}

// SetQueryLog sets where sampled queries are logged (nil: nowhere). The
// caller closes the previous log, after this returns.
func (s *Server) SetQueryLog(l *querylog.Log) { s.qlog.Store(l) }

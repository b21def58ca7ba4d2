package server

import (
	"strconv"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	queriesDesc = prometheus.NewDesc("meridian_dns_queries_total",
		`DNS queries answered, by zone ("" outside every zone served), query type, response code and transport.`,
		[]string{"zone", "qtype", "rcode", "transport"}, nil)
	decisionsDesc = prometheus.NewDesc("meridian_dns_dynamic_decisions_total",
		`Answers chosen by dynamic records, by zone, record name and type, rule number (from 1, as explain and the status page count; "" when none matched), pool ("" for fail-open) and outcome (pool, fallback, nearest, failopen, norule).`,
		[]string{"zone", "record", "type", "rule", "pool", "outcome"}, nil)
	ecsDesc = prometheus.NewDesc("meridian_dns_ecs_queries_total",
		"DNS queries answered, by whether they carried an EDNS Client Subnet option (present, absent).",
		[]string{"ecs"}, nil)
	truncatedDesc = prometheus.NewDesc("meridian_dns_truncated_responses_total",
		"UDP responses sent truncated (TC set) because they did not fit the client's buffer.", nil, nil)
	rrlDesc = prometheus.NewDesc("meridian_dns_rrl_responses_total",
		"UDP responses response rate limiting held back, by action: dropped, or slipped (sent truncated and empty so the client retries over TCP).",
		[]string{"action"}, nil)
	tcpOpenDesc = prometheus.NewDesc("meridian_dns_tcp_connections",
		"TCP connections open, over all listeners.", nil, nil)
	tcpLimitedDesc = prometheus.NewDesc("meridian_dns_tcp_limited_total",
		"TCP connections closed by the connection limits, by action: refused at accept (the client at its limit, or every connection busy), evicted (idle, to make room for a new client), or write_timeout (the client did not read a response in time).",
		[]string{"action"}, nil)
	panicsDesc = prometheus.NewDesc("meridian_dns_panics_total",
		"Panics contained while answering a query, by transport: the query was answered SERVFAIL where possible, logged at error level, and the node kept serving. Any is a bug to report.",
		[]string{"transport"}, nil)
)

// Collector returns the collector of the server's query metrics. It reads
// the counters at scrape time; series appear with their first query.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queriesDesc
	ch <- decisionsDesc
	ch <- ecsDesc
	ch <- truncatedDesc
	ch <- rrlDesc
	ch <- tcpOpenDesc
	ch <- tcpLimitedDesc
	ch <- panicsDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := &c.s.metrics
	m.mu.Lock()
	defer m.mu.Unlock()
	for zone, zc := range m.zonesByName {
		for t := range zc.queries {
			for qt := range zc.queries[t] {
				for rc := range zc.queries[t][qt] {
					if v := zc.queries[t][qt][rc].Load(); v > 0 {
						ch <- prometheus.MustNewConstMetric(queriesDesc, prometheus.CounterValue, float64(v),
							zone, qtypeNames[qt], rcodeNames[rc], transportNames[t])
					}
				}
			}
		}
	}
	for k, v := range m.decisions {
		rule := ""
		if k.rule >= 0 {
			rule = strconv.Itoa(k.rule + 1) // rule 1 is the first, as every other view counts
		}
		ch <- prometheus.MustNewConstMetric(decisionsDesc, prometheus.CounterValue, float64(v.Load()),
			k.zone, k.record, dns.TypeToString[k.typ], rule, k.pool, k.outcome.String())
	}
	ch <- prometheus.MustNewConstMetric(ecsDesc, prometheus.CounterValue, float64(m.ecs[0].Load()), "absent")
	ch <- prometheus.MustNewConstMetric(ecsDesc, prometheus.CounterValue, float64(m.ecs[1].Load()), "present")
	ch <- prometheus.MustNewConstMetric(truncatedDesc, prometheus.CounterValue, float64(m.truncated.Load()))
	ch <- prometheus.MustNewConstMetric(rrlDesc, prometheus.CounterValue, float64(m.rrlDropped.Load()), "dropped")
	ch <- prometheus.MustNewConstMetric(rrlDesc, prometheus.CounterValue, float64(m.rrlSlipped.Load()), "slipped")
	ch <- prometheus.MustNewConstMetric(tcpOpenDesc, prometheus.GaugeValue, float64(c.s.tcpConn.Load()))
	ch <- prometheus.MustNewConstMetric(tcpLimitedDesc, prometheus.CounterValue, float64(m.tcpRefused.Load()), "refused")
	ch <- prometheus.MustNewConstMetric(tcpLimitedDesc, prometheus.CounterValue, float64(m.tcpEvicted.Load()), "evicted")
	ch <- prometheus.MustNewConstMetric(tcpLimitedDesc, prometheus.CounterValue, float64(m.tcpSlow.Load()), "write_timeout")
	for t, name := range transportNames {
		ch <- prometheus.MustNewConstMetric(panicsDesc, prometheus.CounterValue, float64(m.panics[t].Load()), name)
	}
}

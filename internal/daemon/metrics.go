package daemon

import (
	"log/slog"
	"net/http"
	"runtime"

	"github.com/meridiandns/meridian/internal/api"
	"github.com/meridiandns/meridian/internal/querylog"
	"github.com/meridiandns/meridian/internal/version"
	"github.com/meridiandns/meridian/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is the node's Prometheus registry. It is private (not the
// client library's global one) so /metrics serves exactly what Meridian
// registers. The parts keep their own counts; collectors read them at
// scrape time.
type metrics struct {
	reg        *prometheus.Registry
	collectors []prometheus.Collector // every one registered, in order

	configReloads *prometheus.CounterVec // by result
	geoipReloads  *prometheus.CounterVec // by result
	notifies      *prometheus.CounterVec // by result
	queryLog      *querylog.Counters     // shared by every query log the node opens
}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), queryLog: new(querylog.Counters)}
	m.configReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridian_config_reloads_total",
		Help: "Config file reloads (SIGHUP), by result (ok, error); a failed one keeps the running config.",
	}, []string{"result"})
	m.geoipReloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridian_geoip_reloads_total",
		Help: "GeoIP database reloads after a change, by result (ok, error); a failed one keeps the previous database.",
	}, []string{"result"})
	m.notifies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridian_notifies_total",
		Help: "NOTIFY messages to the secondaries in transfer.notify, by result: acked (answered NOERROR), failed (an error answer, or none after every retry).",
	}, []string{"result"})
	for _, r := range []string{"ok", "error"} {
		m.configReloads.WithLabelValues(r)
		m.geoipReloads.WithLabelValues(r)
	}
	m.notifies.WithLabelValues("acked")
	m.notifies.WithLabelValues("failed")
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meridian_build_info",
		Help: "Always 1; the labels say which build is running.",
	}, []string{"version", "goversion"})
	info.WithLabelValues(version.Version, runtime.Version()).Set(1)
	m.register(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		info,
		d.srv.Collector(),
		d.srv.TransferCollector(),
		d.health.Collector(),
		zoneCollector{d.loader},
		stateCollector{d},
		m.configReloads,
		m.geoipReloads,
		m.notifies,
		m.queryLog,
	)
	return m
}

func (m *metrics) register(cs ...prometheus.Collector) {
	for _, c := range cs {
		m.reg.MustRegister(c)
		m.collectors = append(m.collectors, c)
	}
}

// handler serves the registry in the Prometheus exposition formats.
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

var (
	zoneReloadsDesc = prometheus.NewDesc("meridian_zone_reloads_total",
		"Zone directory reloads, by result: ok, or error when any zone had problems (those zones keep their previous version).",
		[]string{"result"}, nil)
	zoneErrorsDesc = prometheus.NewDesc("meridian_zone_load_errors_total",
		`Reloads in which a zone failed to load, by zone; zone="" counts problems outside any one zone.`,
		[]string{"zone"}, nil)
	zoneLastOKDesc = prometheus.NewDesc("meridian_zone_last_reload_successful",
		"1 when the last zone reload had no problems, else 0.", nil, nil)
	zoneLastAtDesc = prometheus.NewDesc("meridian_zone_last_reload_timestamp_seconds",
		"When the last zone reload ran, in seconds since the Unix epoch.", nil, nil)
	zoneSerialDesc = prometheus.NewDesc("meridian_zone_serial",
		"SOA serial of each zone served.", []string{"zone"}, nil)
	zonesServedDesc = prometheus.NewDesc("meridian_zones_served",
		"Zones served now; 0 means every query is answered REFUSED.", nil, nil)
	zoneDirDesc = prometheus.NewDesc("meridian_zone_directory_usable",
		"1 when the last reload could read the zones directory and found zone files in it; 0 when it was missing, unreadable or empty (every zone loaded keeps serving).", nil, nil)
)

// zoneCollector reads the zone loader's counts and the served set.
type zoneCollector struct{ l *zones.Loader }

func (c zoneCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{zoneReloadsDesc, zoneErrorsDesc, zoneLastOKDesc, zoneLastAtDesc, zoneSerialDesc,
		zonesServedDesc, zoneDirDesc} {
		ch <- d
	}
}

func (c zoneCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.l.Stats()
	ch <- prometheus.MustNewConstMetric(zoneReloadsDesc, prometheus.CounterValue, float64(st.OK), "ok")
	ch <- prometheus.MustNewConstMetric(zoneReloadsDesc, prometheus.CounterValue, float64(st.Failed), "error")
	for zone, n := range st.ZoneErrors {
		ch <- prometheus.MustNewConstMetric(zoneErrorsDesc, prometheus.CounterValue, float64(n), zone)
	}
	ps, at := c.l.LastReload()
	ok := 0.0
	if len(ps) == 0 {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(zoneLastOKDesc, prometheus.GaugeValue, ok)
	if !at.IsZero() {
		ch <- prometheus.MustNewConstMetric(zoneLastAtDesc, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
	}
	zs := c.l.Current().Zones()
	for _, z := range zs {
		ch <- prometheus.MustNewConstMetric(zoneSerialDesc, prometheus.GaugeValue, float64(z.SOA.Serial), z.Origin)
	}
	ch <- prometheus.MustNewConstMetric(zonesServedDesc, prometheus.GaugeValue, float64(len(zs)))
	usable := 1.0
	if dir, _ := c.l.Source(); dir != zones.DirOK {
		usable = 0
	}
	ch <- prometheus.MustNewConstMetric(zoneDirDesc, prometheus.GaugeValue, usable)
}

var (
	stateFailingDesc = prometheus.NewDesc("meridian_state_write_failing",
		"1 while the last write of a state file failed (drains, zone_serials, zone_last_good), else 0; the state still applies in memory.",
		[]string{"state"}, nil)
	stateErrorsDesc = prometheus.NewDesc("meridian_state_write_errors_total",
		"Failed writes of a state file (drains, zone_serials, zone_last_good) since the node started.",
		[]string{"state"}, nil)
)

// stateNames are the state files metrics report, each with a series even
// when no state dir is set, so that an alert sees 0 rather than nothing.
var stateNames = []string{"drains", "zone_serials", "zone_last_good"}

// stateCollector reads how writing the state files is going.
type stateCollector struct{ d *Daemon }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- stateFailingDesc
	ch <- stateErrorsDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	byName := map[string]api.StateFile{}
	for _, f := range c.d.StateFiles() {
		byName[f.Name] = f
	}
	for _, name := range stateNames {
		f, ok := byName[name]
		failing := 0.0
		if ok && !f.OK {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(stateFailingDesc, prometheus.GaugeValue, failing, name)
		ch <- prometheus.MustNewConstMetric(stateErrorsDesc, prometheus.CounterValue, float64(f.Failures), name)
	}
}

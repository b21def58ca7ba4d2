// Package daemon wires a node together for `meridian serve`: config, zone
// loader, DNS server, health mesh, API, metrics, query log, file watcher
// and signals.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/api"
	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/querylog"
	"github.com/meridiandns/meridian/pools"
	"github.com/meridiandns/meridian/server"
	"github.com/meridiandns/meridian/zones"
	"github.com/prometheus/client_golang/prometheus"
)

// Daemon is one running node.
type Daemon struct {
	log     *slog.Logger
	level   *slog.LevelVar
	loader  *zones.Loader
	srv     *server.Server
	geo     *geo.Reader // nil without geoip.databases
	health  *healthmesh.Node
	api     *api.Server // nil when api.listen is empty
	metrics *metrics
	// decisions gathers the server's query metrics for the status's
	// decision counts.
	decisions *prometheus.Registry
	notify    *notifier // NOTIFY to transfer.notify (notify.go)
	// zoneWatch watches the zones directory while Run runs with
	// zones.watch on; nil otherwise.
	zoneWatch atomic.Pointer[zoneWatch]

	mu   sync.Mutex // serialises reloads; guards cfg and said
	cfg  *config.Config
	said string // what the last zone reload logged, in short

	qmu  sync.Mutex    // guards qlog
	qlog *querylog.Log // nil when the query log is off

}

// NewLogger returns the logger the config asks for, writing to w, and the
// level variable that a reload can change.
func NewLogger(c config.Log, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	lv.Set(parseLevel(c.Level))
	ho := &slog.HandlerOptions{Level: lv}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho)), lv
	}
	return slog.New(slog.NewTextHandler(w, ho)), lv
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// ZoneOptions converts the config's zone settings.
func ZoneOptions(c *config.Config) zones.Options {
	return zones.Options{
		Dir:      c.Zones.Dir,
		StateDir: c.StateDir,
		SOA: zones.SOAValues{
			MName: c.SOA.MName, RName: c.SOA.RName, Refresh: c.SOA.Refresh, Retry: c.SOA.Retry,
			Expire: c.SOA.Expire, Minimum: c.SOA.Minimum, TTL: c.SOA.TTL,
		},
		DynamicTTL:  c.DynamicTTL,
		DegradedTTL: c.DegradedTTL,
		Health:      CheckDefaults(c),
	}
}

// CheckDefaults converts the config's health defaults.
func CheckDefaults(c *config.Config) pools.CheckDefaults {
	expect, _ := pools.ParseExpect(c.Health.Expect) // validated by config.Load
	return pools.CheckDefaults{Interval: c.Health.Interval, Timeout: c.Health.Timeout,
		Rise: c.Health.Rise, Fall: c.Health.Fall, Expect: expect, TLSVerify: c.Health.TLSVerify}
}

func serverOptions(c *config.Config) server.Options {
	return server.Options{
		Listen:         c.DNS.Listen,
		UDPSize:        c.DNS.UDPSize,
		UDPSockets:     c.DNS.UDPSockets,
		NSID:           c.DNS.NSID,
		Version:        c.DNS.Version,
		TCPMaxConns:    c.DNS.TCP.MaxConnections,
		TCPIdleTimeout: c.DNS.TCP.IdleTimeout,
		TCPReadTimeout: c.DNS.TCP.ReadTimeout,
		RRL: server.RRL{Rate: c.DNS.RRL.ResponsesPerSecond, Slip: c.DNS.RRL.Slip, Window: c.DNS.RRL.Window,
			Exempt: c.RRLExempt()},
		TCPMaxPerClient: c.DNS.TCP.MaxConnectionsPerClient,
		TCPMaxQueries:   c.DNS.TCP.MaxQueries,
		TCPMaxLifetime:  c.DNS.TCP.MaxLifetime,
		TCPWriteTimeout: c.DNS.TCP.WriteTimeout,
	}
}

// New loads the zones of the node configured by c. Run binds the listeners.
// It refuses to start when anything Preflight checks is unusable, with
// the problems in the error, one per line, each starting with the config
// file and key.
func New(c *config.Config, log *slog.Logger, level *slog.LevelVar) (*Daemon, error) {
	if errs := preflight(c, false); len(errs) > 0 {
		return nil, inConfig(c, errs...)
	}
	if err := checkBind("mesh.bind", c.Mesh.Bind); c.Mesh.Bind != "" && err != nil {
		return nil, inConfig(c, err)
	}
	var g *geo.Reader // before the mesh is joined, which a failure here would leave at once
	if len(c.GeoIP.Databases) > 0 {
		var err error
		if g, err = geo.Open(c.GeoIP.Databases); err != nil {
			return nil, inConfig(c, geoError(err))
		}
	}
	loader, err := zones.NewLoader(ZoneOptions(c), log)
	if err != nil {
		log.Error("zone serial state unreadable; serials restart from the clock", "err", err)
	}
	d := &Daemon{log: log, level: level, loader: loader, cfg: c}
	checker := healthmesh.NewChecker(healthmesh.Options{AssumeUp: c.Health.Assume == "up", Concurrency: c.Health.Concurrency},
		&healthmesh.Prober{}, log)
	mo, err := meshOptions(c)
	if err != nil {
		return nil, inConfig(c, err)
	}
	d.health, err = healthmesh.NewNode(healthmesh.NodeOptions{Name: c.Node.Name, Region: c.Node.Region,
		StateDir: c.Mesh.StateDir, Mesh: mo, Log: log}, checker)
	if d.health == nil {
		return nil, err
	}
	if err != nil {
		log.Error("drain state", "err", err)
	}
	logDrains(log, d.health.Drains(), c.Mesh.StateDir)
	d.srv = server.New(serverOptions(c), loader, log)
	d.srv.SetHealth(d.health)
	d.metrics = newMetrics(d)
	d.decisions = newDecisionRegistry(d.srv.Collector())
	d.srv.SetTransfer(transferOptions(c))
	d.notify = newNotifier(log, d.metrics.notifies)
	d.notify.configure(c)
	if c.API.Listen != "" {
		if d.api, err = api.New(api.Options{Listen: c.API.Listen, TokenFile: c.API.TokenFile, AllowedHosts: c.API.AllowedHosts, Log: log}, backend{d}); err != nil {
			d.closeHealth()
			return nil, inConfig(c, &KeyError{Key: "api.token_file", Err: err})
		}
		d.api.Handle("GET /metrics", d.metrics.handler(log))
		if c.API.Pprof {
			mountPprof(d.api)
		}
	} else if c.API.Pprof {
		log.Warn("pprof needs the API listener; api.listen is empty, so it is not served")
	}
	if g != nil {
		d.geo = g
		d.srv.SetGeo(g)
		log.Info("geoip databases loaded", "files", len(c.GeoIP.Databases))
	}
	ql, err := d.openQueryLog(c.Log.Queries)
	if err != nil {
		d.closeHealth()
		return nil, inConfig(c, &KeyError{Key: "log.queries.path", Err: err})
	}
	d.swapQueryLog(ql)
	restore := loadGC()
	d.ReloadZones() // also starts the health checks
	restore()
	debug.FreeOSMemory() // before serving: the loading garbage is gone, not just unused
	return d, nil
}

// startupLimit is the soft memory limit the collector works to while
// the first zone load runs. Parsing allocates several times what a zone
// set keeps, and the collector's usual pacing (GOGC) lets the heap reach
// twice what was live at its last cycle, which while loading includes
// the files being parsed: the peak comes out near three times the loaded
// set. Nothing is answered yet, so the collector may as well run when the
// total nears the limit instead; a set of 100,000 static and 10,000
// dynamic records (about 130 MB loaded) then peaks under 270 MB. A set
// whose live data passes three quarters of the limit does not fit under
// it: the limit is lifted then, and the load goes on with the usual
// pacing rather than a collector running back to back.
var startupLimit int64 = 256 << 20

// loadGC sets the collector for the first load and returns what undoes
// it. An operator's own GOGC or GOMEMLIMIT is left alone.
func loadGC() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	old := debug.SetMemoryLimit(startupLimit)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		live := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			rtmetrics.Read(live)
			if v := live[0].Value; v.Kind() == rtmetrics.KindUint64 && v.Uint64() > uint64(startupLimit/4*3) {
				debug.SetMemoryLimit(old)
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		debug.SetMemoryLimit(old)
	}
}

// Server returns the DNS server (for tests that need its addresses).
func (d *Daemon) Server() *server.Server { return d.srv }

// Loader returns the zone loader.
func (d *Daemon) Loader() *zones.Loader { return d.loader }

func (d *Daemon) logProblems(ps zones.Problems) {
	for _, p := range ps {
		if p.State {
			// The zones are fine: saying "zone problem" here sent
			// operators looking in the wrong place (a state dir the
			// service user cannot write, a full disk).
			d.log.Error("cannot write the state dir; the zones are served as loaded, but their serials and last good copies are not kept",
				"state_dir", d.cfg.StateDir, "problem", p.String())
			continue
		}
		d.log.Error("zone problem; the previous version of the zone, if any, keeps serving", "problem", p.String())
	}
}

// ReloadZones reloads the zone files with the current config, then
// points the health checker at the new set's endpoints.
func (d *Daemon) ReloadZones() zones.Problems { return d.reloadZones(false) }

// reloadZones is ReloadZones. A retry (the watch trying again while the
// directory cannot be used) logs what the reload before it logged
// already at debug level only: a directory missing for an hour is one
// error line, not one every few seconds.
func (d *Daemon) reloadZones(retry bool) zones.Problems {
	d.mu.Lock()
	defer d.mu.Unlock()
	ps := d.loader.Reload()
	none := len(d.loader.Current().Zones()) == 0
	said := fmt.Sprint(none, ps.Error())
	if retry && said == d.said {
		d.log.Debug("zone reload retried; nothing changed", "problems", len(ps))
	} else {
		d.logProblems(ps)
		if none {
			d.log.Error("no zone is served: every query is answered REFUSED", "dir", d.cfg.Zones.Dir)
		}
	}
	d.said = said
	d.health.Reconcile(healthmesh.Endpoints(d.loader.Current().Policies()))
	d.health.SetZones(zoneSet(d.loader.Current()))
	d.notify.zonesLoaded(d.loader.Current()) // sends in the background
	// Parsing a large zone set leaves hundreds of megabytes of garbage,
	// and the replaced set is garbage too: give it back to the system now
	// rather than when the runtime's scavenger gets to it. The collection
	// runs alongside answering; nothing waits for it.
	go debug.FreeOSMemory()
	return ps
}

// Health returns the node's health authority.
func (d *Daemon) Health() *healthmesh.Node { return d.health }

// StateFiles reports the state files the node keeps and whether they can
// be written, for the status API and metrics.
func (d *Daemon) StateFiles() []api.StateFile {
	var out []api.StateFile
	if dp := d.health.DrainPersistence(); dp.Path != "" {
		f := stateFile("drains", dp.Path, dp.Err, dp.Since, dp.Failures)
		if dp.LoadErr != nil {
			f.LoadError = dp.LoadErr.Error()
		}
		out = append(out, f)
	}
	for _, w := range d.loader.StateWrites() {
		out = append(out, stateFile(w.Name, w.Path, w.Err, w.Since, w.Failures))
	}
	return out
}

func stateFile(name, path string, err error, since time.Time, failures uint64) api.StateFile {
	f := api.StateFile{Name: name, Path: path, OK: err == nil, Since: since, Failures: failures}
	if err != nil {
		f.Error = err.Error()
	}
	return f
}

// StateFiles implements api.StateReporter.
func (b backend) StateFiles() []api.StateFile { return b.d.StateFiles() }

// meshOptions converts the mesh config; nil when the node runs alone.
func meshOptions(c *config.Config) (*healthmesh.MeshOptions, error) {
	if c.Mesh.Bind == "" {
		return nil, nil
	}
	o := &healthmesh.MeshOptions{Bind: c.Mesh.Bind, Advertise: c.Mesh.Advertise, Join: c.Mesh.Join,
		Insecure: c.Mesh.Insecure, GossipInterval: c.Mesh.GossipInterval, ProbeInterval: c.Mesh.ProbeInterval,
		PushPullInterval: c.Mesh.PushPullInterval, DriftGrace: c.Mesh.DriftGrace, ProbersPerRegion: c.Mesh.ProbersPerRegion}
	if c.Mesh.Keyfile != "" {
		key, err := healthmesh.ReadKey(c.Mesh.Keyfile)
		if err != nil {
			return nil, meshKeyError(c.Mesh.Keyfile, err)
		}
		o.Key = key
	}
	return o, nil
}

// ReloadConfig re-reads the config file and then the zones. A config that
// fails to load keeps the running one; the error is returned.
func (d *Daemon) ReloadConfig() error {
	d.mu.Lock()
	old := d.cfg
	c, err := config.Load(old.Path)
	if err == nil {
		err = zonesDirUsable(c.Zones.Dir)
	}
	if err != nil {
		d.mu.Unlock()
		d.metrics.configReloads.WithLabelValues("error").Inc()
		d.log.Error("config reload failed; keeping the running config", "err", err)
		return err
	}
	if fmt.Sprint(c.DNS.Listen) != fmt.Sprint(old.DNS.Listen) || c.DNS.UDPSockets != old.DNS.UDPSockets ||
		c.DNS.TCP.ReadTimeout != old.DNS.TCP.ReadTimeout || c.DNS.TCP.MaxQueries != old.DNS.TCP.MaxQueries {
		d.log.Warn("dns.listen, dns.udp_sockets, dns.tcp.read_timeout and dns.tcp.max_queries change only on restart")
	}
	var ql *querylog.Log
	newQueryLog := c.Log.Queries != old.Log.Queries
	if newQueryLog {
		if ql, err = d.openQueryLog(c.Log.Queries); err != nil {
			d.mu.Unlock()
			d.metrics.configReloads.WithLabelValues("error").Inc()
			d.log.Error("config reload failed; keeping the running config", "err", err)
			return err
		}
	}
	if fmt.Sprint(c.GeoIP.Databases) != fmt.Sprint(old.GeoIP.Databases) {
		err := d.openGeo(c.GeoIP.Databases)
		d.metrics.geoipReloads.WithLabelValues(result(err)).Inc()
		if err != nil {
			d.mu.Unlock()
			if ql != nil {
				ql.Close()
			}
			d.metrics.configReloads.WithLabelValues("error").Inc()
			d.log.Error("config reload failed; keeping the running config", "err", err)
			return err
		}
	}
	if newQueryLog {
		d.swapQueryLog(ql)
	}
	d.cfg = c
	d.level.Set(parseLevel(c.Log.Level))
	d.srv.SetOptions(serverOptions(c))
	d.srv.SetTransfer(transferOptions(c))
	d.notify.configure(c)
	d.loader.SetOptions(ZoneOptions(c))
	d.mu.Unlock()
	d.metrics.configReloads.WithLabelValues("ok").Inc()
	d.log.Info("config reloaded", "path", c.Path)
	if zw := d.zoneWatch.Load(); zw != nil {
		zw.Rearm() // zones.dir may name another directory now
	}
	d.reloadGeo()
	d.ReloadZones()
	return nil
}

// zonesDirUsable refuses, in a config reload, a zones directory that
// cannot be read: a mistyped path would otherwise be taken, and only the
// zones loaded so far would keep serving, with no change ever seen again.
// (At start a missing directory is accepted: a mount may not be up yet,
// and the last good copies serve meanwhile.)
func zonesDirUsable(dir string) error {
	if _, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("zones.dir: cannot read %s: %w", dir, unwrapPathErr(err))
	}
	return nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openGeo replaces the GeoIP databases with a new list (a config change).
func (d *Daemon) openGeo(paths []string) error {
	var g *geo.Reader
	if len(paths) > 0 {
		var err error
		if g, err = geo.Open(paths); err != nil {
			return fmt.Errorf("geoip: %w", err)
		}
	}
	old := d.geo
	d.geo = g
	d.srv.SetGeo(g)
	if old != nil {
		old.Close()
	}
	return nil
}

// reloadGeo re-reads database files that changed on disk; a broken file
// keeps its old version serving.
func (d *Daemon) reloadGeo() {
	d.mu.Lock()
	g := d.geo
	d.mu.Unlock()
	if g == nil {
		return
	}
	changed, err := g.Reload()
	if err != nil {
		d.metrics.geoipReloads.WithLabelValues("error").Inc()
		d.log.Error("geoip reload failed; the previous database keeps serving", "err", err)
	}
	if changed {
		d.metrics.geoipReloads.WithLabelValues("ok").Inc()
		d.log.Info("geoip databases reloaded")
	}
}

// Config returns the config in force.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Run serves until ctx ends or SIGTERM/SIGINT arrives, reloading on SIGHUP
// and on changes under the zones directory. It shuts down gracefully.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	var wg sync.WaitGroup
	watch := func(what string, dirs []string, reload func()) {
		w, err := newWatcher(dirs, d.Config().Zones.Debounce, d.log)
		if err != nil {
			d.log.Error("cannot watch "+what+"; reload with SIGHUP", "err", err)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, reload)
		}()
	}
	if d.Config().WatchZones() {
		zw, err := newZoneWatch(func() string { return d.Config().Zones.Dir }, d.Config().Zones.Debounce, d.log)
		if err != nil {
			d.log.Error("cannot watch the zones directory; reload with SIGHUP", "err", err)
		} else {
			d.zoneWatch.Store(zw)
			wg.Add(1)
			go func() {
				defer wg.Done()
				zw.run(ctx, func(retry bool) bool {
					if !retry {
						d.log.Info("zone files changed; reloading")
					}
					d.reloadZones(retry)
					return d.loader.Pending()
				})
			}()
		}
	}
	if dbs := d.Config().GeoIP.Databases; len(dbs) > 0 {
		watch("geoip databases", parentDirs(dbs), d.reloadGeo)
	}

	// Listen last: once the listening line is logged, signals and file
	// changes are already handled.
	if err := d.srv.Start(); err != nil {
		cancel()
		wg.Wait()
		d.closeHealth()
		d.swapQueryLog(nil)
		return inConfig(d.Config(), listenError("dns.listen", err))
	}
	if d.api != nil {
		if err := d.api.Start(); err != nil {
			cancel()
			wg.Wait()
			d.srv.Shutdown(context.Background())
			d.closeHealth()
			d.swapQueryLog(nil)
			return inConfig(d.Config(), listenError("api.listen", err))
		}
		d.log.Info("api listening", "addr", d.api.Addr())
	}
	d.notify.start(ctx) // every zone once, now that secondaries can fetch them
	d.log.Info("serving", "node", d.Config().Node.Name, "region", d.Config().Node.Region)
	var runErr error // why the node stopped by itself
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-d.health.Err():
			d.log.Error("stopping", "err", err)
			runErr = err
			break loop
		case s := <-sigs:
			if s == syscall.SIGHUP {
				d.ReloadConfig()
				d.reopenQueryLog()
				continue
			}
			d.log.Info("shutting down", "signal", s.String())
			break loop
		}
	}
	cancel()
	wg.Wait()
	d.notify.wait()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	err := d.srv.Shutdown(sctx)
	d.swapQueryLog(nil) // writes the lines still buffered
	if d.api != nil {
		d.api.Shutdown(sctx)
	}
	d.closeHealth() // leaves the mesh politely
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("shutdown: %w", err)
	}
	d.log.Info("stopped")
	return runErr
}

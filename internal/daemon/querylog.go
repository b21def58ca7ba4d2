package daemon

import (
	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/querylog"
)

// openQueryLog opens the query log c describes; nil when it is off.
func (d *Daemon) openQueryLog(c config.QueryLog) (*querylog.Log, error) {
	if !c.Enabled {
		return nil, nil
	}
	return querylog.Open(querylog.Options{Path: c.Path, Sample: c.Sample, Counters: d.metrics.queryLog, Log: d.log})
}

// swapQueryLog makes l (nil: none) the query log, and closes the previous
// one once the server no longer writes to it.
func (d *Daemon) swapQueryLog(l *querylog.Log) {
	d.qmu.Lock()
	defer d.qmu.Unlock()
	old := d.qlog
	d.qlog = l
	d.srv.SetQueryLog(l)
	if old != nil {
		old.Close()
	}
}

// reopenQueryLog reopens the query log's file, so that logrotate can move
// it away and signal SIGHUP.
func (d *Daemon) reopenQueryLog() {
	d.qmu.Lock()
	defer d.qmu.Unlock()
	if d.qlog == nil {
		return
	}
	if err := d.qlog.Reopen(); err != nil {
		d.log.Error("query log reopen failed; still writing to the old file", "err", err)
	}
}

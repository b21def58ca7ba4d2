package healthmesh

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridiandns/meridian/internal/atomicfile"
	"github.com/meridiandns/meridian/pools"
	"github.com/prometheus/client_golang/prometheus"
)

// NodeOptions configures a Node.
type NodeOptions struct {
	Name   string // this node's name in the mesh
	Region string // this node's region: observers vote by region
	// StateDir is where drains are persisted; "" keeps them in memory.
	StateDir string
	// Mesh configures gossip with other nodes; nil runs the node alone.
	Mesh *MeshOptions
	Log  *slog.Logger
}

// Node is the health authority of one server: it turns its own probe
// results and its peers' gossiped observations into verdicts, holds the
// operator drains, and answers pools.Health for the query path from two
// immutable tables behind atomic pointers.
type Node struct {
	name, region string
	log          *slog.Logger
	checker      *Checker
	drainPath    string
	mesh         *mesh // nil without a mesh

	verdicts atomic.Pointer[verdictTable]
	drainTab atomic.Pointer[drainTable]
	zoneSet  atomic.Pointer[ZoneSet]   // this node's, from SetZones; nil before the first
	drift    atomic.Pointer[driftView] // published by the ticker; nil before its first tick
	driftT   driftTracker              // the ticker's alone

	verdictChanges *prometheus.CounterVec // by endpoint and new verdict

	mu        sync.Mutex                      // guards everything below
	obs       map[string]map[string]*obsEntry // endpoint ID → observer → entry
	endpoints map[string]Endpoint             // the endpoints this node knows (from its zones)
	last      map[string]verdictState         // last verdict per endpoint
	drains    map[string]Drain                // by target, tombstones included
	seq       uint64                          // last sequence number handed out
	drainErr  error                           // last persistence error
	drainW    drainWrites                     // persistence, for status and metrics
	refused   map[string]uint64               // peers' drains refused, by reason (future, limit)

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// drainWrites follows the writes of the drains file.
type drainWrites struct {
	since    time.Time // when the writes began failing; zero while they succeed
	tried    time.Time // last write attempt
	failures uint64    // failed writes since the node started
	loadErr  error     // reading the file at start failed (a corrupt one is moved aside)
}

// drainRetry is how often a failed drains write is retried while nothing
// changes, so that the file catches up soon after space is freed.
const drainRetry = 5 * time.Second

// PersistStatus is how keeping a state file is going.
type PersistStatus struct {
	Path     string    // the file; "" when nothing is persisted
	Err      error     // of the last write; nil when it succeeded
	Since    time.Time // when the writes began failing; zero while they succeed
	Failures uint64    // failed writes since the node started
	// LoadErr is why the file could not be read at start, nil when it
	// was read or absent. A corrupt file is moved aside, not emptied.
	LoadErr error
}

type verdictState struct {
	up    bool
	since time.Time
}

// drainTable is the query path's view of the active drains.
type drainTable struct {
	values map[string]bool
	pools  map[string]bool
	next   time.Time // earliest expiry, or time a drain is forgotten; zero = none
}

// NewNode returns a node that probes with checker. Drains persisted in
// StateDir are loaded before anything else, so a restarted node applies
// them before it rejoins. A corrupt drains file is moved aside and
// reported in the error; the node still starts.
func NewNode(o NodeOptions, checker *Checker) (*Node, error) {
	n := &Node{
		name: o.Name, region: o.Region, log: o.Log, checker: checker,
		obs: map[string]map[string]*obsEntry{}, endpoints: map[string]Endpoint{},
		last: map[string]verdictState{}, drains: map[string]Drain{}, refused: map[string]uint64{}, stop: make(chan struct{}),
		verdictChanges: newVerdictChanges(),
	}
	n.verdicts.Store(&verdictTable{state: map[string]pools.State{}})
	n.drainTab.Store(&drainTable{})
	var loadErr error
	if o.StateDir != "" {
		n.drainPath = filepath.Join(o.StateDir, "drains.json")
		loadErr = n.loadDrains()
		n.drainW.loadErr = loadErr
	}
	n.publishDrainsLocked(time.Now())
	checker.notify = n.observeLocal
	if o.Mesh != nil {
		m, err := newMesh(n, *o.Mesh)
		if err != nil {
			return nil, err
		}
		n.mesh = m
	}
	n.wg.Add(1)
	go n.tick()
	return n, loadErr
}

// Checker returns the node's prober.
func (n *Node) Checker() *Checker { return n.checker }

// Reconcile sets the endpoints this node probes and decides on.
func (n *Node) Reconcile(eps []Endpoint) {
	n.mu.Lock()
	n.endpoints = make(map[string]Endpoint, len(eps))
	for _, e := range eps {
		n.endpoints[e.ID()] = e
	}
	n.mu.Unlock()
	n.checker.Reconcile(eps)
	n.recompute(time.Now())
}

// Close leaves the mesh politely (others see a leave, not a failure),
// stops probing and waits for every goroutine.
// Close is safe to call more than once.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		close(n.stop)
		n.wg.Wait()
		if n.mesh != nil {
			n.mesh.leave()
		}
		n.checker.Stop()
	})
}

// tick recomputes verdicts (observations age out), expires drains and
// sends this node's periodic observation refresh.
func (n *Node) tick() {
	defer n.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	lastRefresh := time.Now()
	for {
		select {
		case <-n.stop:
			return
		case now := <-t.C:
			n.recompute(now)
			n.updateDrift(now)
			n.mu.Lock()
			if dt := n.drainTab.Load(); !dt.next.IsZero() && !now.Before(dt.next) {
				n.publishDrainsLocked(now)
			}
			if n.drainErr != nil && now.Sub(n.drainW.tried) >= drainRetry {
				n.persistDrainsLocked(true)
			}
			n.mu.Unlock()
			if n.mesh != nil && now.Sub(lastRefresh) >= n.refreshEvery() {
				lastRefresh = now
				n.mesh.broadcastOwn()
			}
		}
	}
}

// refreshEvery is how often a node re-announces its observations: the
// shortest check interval, so they stay younger than 3 intervals anywhere.
func (n *Node) refreshEvery() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	iv := 5 * time.Second
	for _, e := range n.endpoints {
		if e.Check.Interval > 0 && e.Check.Interval < iv {
			iv = e.Check.Interval
		}
	}
	return iv
}

// observeLocal records this node's own verdict after every probe.
func (n *Node) observeLocal(id string, up bool, since time.Time, changed bool) {
	now := time.Now()
	n.mu.Lock()
	byObs := n.obs[id]
	if byObs == nil {
		byObs = map[string]*obsEntry{}
		n.obs[id] = byObs
	}
	e := byObs[n.name]
	if e == nil || changed || e.up != up {
		n.seq = max(n.seq+1, uint64(now.UnixNano()))
		e = &obsEntry{region: n.region, up: up, since: since, seq: n.seq}
		byObs[n.name] = e
		changed = true
	}
	e.seen = now
	item := wireObs{Endpoint: id, Up: up, Since: since.UnixMilli(), Seq: e.seq}
	n.mu.Unlock()
	if changed && n.mesh != nil {
		n.mesh.broadcast(chunk(n.name, n.region, []wireObs{item}, maxMsg))
	}
	n.recompute(now)
}

// mergeBatch merges a peer's observations received at now. It reports
// whether the batch taught this node something (a newer observation, or a
// refresh that moves an observation's age forward noticeably), which is
// when the batch deserves to be relayed.
func (n *Node) mergeBatch(b *wireBatch, now time.Time) bool {
	if b.Observer == n.name {
		return false // our own, echoed back
	}
	learned := false
	n.mu.Lock()
	for _, it := range b.Items {
		byObs := n.obs[it.Endpoint]
		if byObs == nil {
			byObs = map[string]*obsEntry{}
			n.obs[it.Endpoint] = byObs
		}
		seen := now.Add(-time.Duration(it.AgeMS) * time.Millisecond)
		e := byObs[b.Observer]
		switch {
		case e == nil || it.Seq > e.seq:
			byObs[b.Observer] = &obsEntry{region: b.Region, up: it.Up, since: time.UnixMilli(it.Since), seq: it.Seq, seen: seen}
			learned = true
		case it.Seq == e.seq && seen.After(e.seen):
			if seen.Sub(e.seen) > relayAdvance {
				learned = true
			}
			e.seen = seen
		}
	}
	n.mu.Unlock()
	n.recompute(now)
	return learned
}

// relayAdvance is how much fresher a refresh must make an observation
// before it is relayed: copies of one refresh arriving by other paths
// carry the same age and are not passed on again.
const relayAdvance = 200 * time.Millisecond

// recompute derives every known endpoint's verdict from the fresh
// observations and publishes a new table when any verdict changed.
func (n *Node) recompute(now time.Time) {
	alive := func(string) bool { return true }
	if n.mesh != nil {
		alive = n.mesh.aliveSet()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	changed := false
	for id, ep := range n.endpoints {
		maxAge := 3 * ep.Check.Interval
		if maxAge <= 0 {
			maxAge = 15 * time.Second
		}
		isAlive := func(o string) bool { return o == n.name || alive(o) }
		up, ok := freshVotes(n.obs[id], now, maxAge, isAlive).decide()
		prev, had := n.last[id]
		if !had {
			prev = verdictState{up: true, since: now} // cold start: up
			n.last[id] = prev
			changed = true
		}
		if !ok || up == prev.up {
			continue
		}
		n.last[id] = verdictState{up: up, since: now}
		changed = true
		n.verdictChanges.WithLabelValues(id, ep.String(), upDown(up)).Inc()
		n.log.Info("endpoint verdict changed", "endpoint", ep.String(), "from", upDown(prev.up), "to", upDown(up),
			"votes", n.voteSummaryLocked(id, now, maxAge, isAlive))
	}
	for id := range n.last {
		if _, ok := n.endpoints[id]; !ok {
			delete(n.last, id)
			n.verdictChanges.DeletePartialMatch(prometheus.Labels{"id": id})
			changed = true
		}
	}
	if changed {
		t := &verdictTable{state: make(map[string]pools.State, len(n.last))}
		for id, v := range n.last {
			t.set(id, v.up)
		}
		n.verdicts.Store(t)
	}
}

func (n *Node) voteSummaryLocked(id string, now time.Time, maxAge time.Duration, alive func(string) bool) string {
	var parts []string
	for region, c := range freshVotes(n.obs[id], now, maxAge, alive) {
		parts = append(parts, fmt.Sprintf("%s:%d up/%d down", region, c[0], c[1]))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// State implements pools.Health: the mesh verdict for v.
func (n *Node) State(_ *pools.Record, v *pools.Value) pools.State {
	if v.Endpoint == "" {
		return pools.Unknown
	}
	return n.verdicts.Load().state[v.Endpoint]
}

// Drained implements pools.Health: v's address, or p's id, is drained.
func (n *Node) Drained(_ *pools.Record, p *pools.Pool, v *pools.Value) bool {
	t := n.drainTab.Load()
	if len(t.values) == 0 && len(t.pools) == 0 {
		return false
	}
	if t.values[v.Value] || t.values[strings.TrimSuffix(v.Value, ".")] {
		return true
	}
	return p != nil && t.pools[p.ID]
}

// Settled implements pools.Settled: no verdict is down and nothing is
// drained.
func (n *Node) Settled() bool {
	if n.verdicts.Load().down > 0 {
		return false
	}
	t := n.drainTab.Load()
	return len(t.values) == 0 && len(t.pools) == 0
}

// SetDrain writes a drain (or, with deleted, an undrain) for target, keeps
// it, persists it and replicates it. The target is stored in its
// canonical form (CanonicalTarget). A refused drain (a bad target or
// reason, one target too many: ErrBadDrain; an undo of a target not
// drained: ErrNotDrained; a drain that does not encode) returns a zero
// Drain and applies nothing. A drain that applies but cannot be persisted
// returns the drain and that error, which DrainPersistence also reports.
func (n *Node) SetDrain(target string, d time.Duration, reason, by string, deleted bool) (Drain, error) {
	target, err := CanonicalTarget(target)
	if err != nil {
		return Drain{}, err
	}
	if err := CheckDrainReason(reason); err != nil {
		return Drain{}, err
	}
	if len(by) > maxDrainBy {
		return Drain{}, badDrain("by is %d bytes; at most %d are allowed", len(by), maxDrainBy)
	}
	now := time.Now()
	dr := Drain{Target: target, Reason: reason, SetAt: now, By: by, Deleted: deleted}
	if d > 0 && !deleted {
		dr.Until = now.Add(d)
	}
	n.mu.Lock()
	old, ok := n.drains[target]
	switch {
	case deleted && (!ok || !old.Active(now)):
		n.mu.Unlock()
		return Drain{}, &drainError{msg: target + " is not drained" + notDrainedWhy(old, ok), kind: ErrNotDrained}
	case !ok && len(n.drains) >= MaxDrains:
		n.mu.Unlock()
		return Drain{}, badDrain("%d targets have drains already (undone ones are kept for %s), the most a node holds; undo or let some expire first",
			len(n.drains), DrainRetention)
	case ok && !dr.newer(old):
		dr.SetAt = old.SetAt.Add(time.Nanosecond) // our clock is behind the last writer's
	}
	msg, err := encode(msgDrain, dr)
	if err != nil {
		n.mu.Unlock()
		return Drain{}, err
	}
	n.drains[target] = dr
	err = n.persistDrainsLocked(false)
	n.publishDrainsLocked(now)
	n.mu.Unlock()
	if n.mesh != nil {
		n.mesh.broadcast([][]byte{msg}, nil)
	}
	verb := "drain set"
	if deleted {
		verb = "drain removed"
	}
	n.log.Info(verb, "target", target, "until", dr.Until, "reason", reason, "by", by)
	return dr, err
}

// notDrainedWhy says what became of a drain that is no longer in force.
func notDrainedWhy(old Drain, ok bool) string {
	switch {
	case !ok:
		return ""
	case old.Deleted:
		return " (undone at " + old.SetAt.UTC().Format(time.RFC3339) + " by " + old.By + ")"
	}
	return " (expired at " + old.Until.UTC().Format(time.RFC3339) + ")"
}

// mergeDrain applies a drain from a peer under last-writer-wins, in its
// canonical form. Drains stamped beyond MaxDrainSkew in the future, and
// new targets beyond MaxDrains, are refused and counted; a forgettable
// one (see DrainRetention) only replaces an older write.
func (n *Node) mergeDrain(d Drain) bool {
	t, err := CanonicalTarget(d.Target)
	if err != nil {
		return false // wellFormed refused it before
	}
	d.Target = t
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	old, ok := n.drains[d.Target]
	switch {
	case ok && !d.newer(old):
		return false
	case d.future(now):
		n.refused["future"]++
		n.log.Warn("mesh: refused a drain stamped in the future", "target", d.Target, "set_at", d.SetAt, "by", d.By, "skew", MaxDrainSkew)
		return false
	case !ok && d.forgettable(now):
		return false
	case !ok && len(n.drains) >= MaxDrains:
		n.refused["limit"]++
		n.log.Warn("mesh: refused a drain: too many targets", "target", d.Target, "by", d.By, "max", MaxDrains)
		return false
	}
	n.drains[d.Target] = d
	n.persistDrainsLocked(false)
	n.publishDrainsLocked(now)
	n.log.Info("drain replicated", "target", d.Target, "deleted", d.Deleted, "by", d.By)
	return true
}

// Drains returns the active drains, sorted by target.
func (n *Node) Drains() []Drain {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Drain
	for _, d := range n.drains {
		if d.Active(now) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// DrainError returns the last error persisting drains (nil when fine).
func (n *Node) DrainError() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.drainErr
}

// DrainPersistence reports how keeping the drains file is going; the zero
// value without a state dir.
func (n *Node) DrainPersistence() PersistStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return PersistStatus{Path: n.drainPath, Err: n.drainErr, Since: n.drainW.since,
		Failures: n.drainW.failures, LoadErr: n.drainW.loadErr}
}

// publishDrainsLocked publishes the active drains, forgets the undone and
// expired ones older than DrainRetention (persisting what is left), and
// notes when it must run again.
func (n *Node) publishDrainsLocked(now time.Time) {
	t := &drainTable{values: map[string]bool{}, pools: map[string]bool{}}
	forgot := false
	for target, d := range n.drains {
		if d.forgettable(now) {
			delete(n.drains, target)
			forgot = true
			continue
		}
		if at := d.forgetAt(); !at.IsZero() && (t.next.IsZero() || at.Before(t.next)) {
			t.next = at
		}
		if !d.Active(now) {
			continue
		}
		if id, ok := d.Pool(); ok {
			t.pools[id] = true
		} else {
			t.values[d.Target] = true
		}
		if !d.Until.IsZero() && (t.next.IsZero() || d.Until.Before(t.next)) {
			t.next = d.Until
		}
	}
	n.drainTab.Store(t)
	if forgot {
		n.persistDrainsLocked(false)
	}
}

// persistDrainsLocked writes every drain to the state dir. The drains
// apply in memory and on the mesh whatever happens here; a failure is kept
// for status and retried (retry says this call is such a retry, which
// logs only the recovery).
func (n *Node) persistDrainsLocked(retry bool) error {
	if n.drainPath == "" {
		return nil
	}
	list := make([]Drain, 0, len(n.drains))
	for _, d := range n.drains {
		list = append(list, d)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Target < list[j].Target })
	now := time.Now()
	failing := n.drainErr != nil
	data, err := json.MarshalIndent(list, "", "  ")
	if err == nil {
		err = atomicfile.Write(n.drainPath, data)
	} else {
		err = fmt.Errorf("drains: encoding: %w", err) // never write what did not encode
	}
	n.drainErr = err
	n.drainW.tried = now
	switch {
	case n.drainErr != nil:
		n.drainW.failures++
		if !failing {
			n.drainW.since = now
		}
		if !retry {
			n.log.Error("cannot persist drains; they apply in memory and on the mesh", "err", n.drainErr)
		}
	case failing:
		n.drainW.since = time.Time{}
		n.log.Info("drains persisted again", "path", n.drainPath)
	}
	return n.drainErr
}

// loadDrains reads the persisted drains. A corrupt file is moved aside
// (never silently emptied) and reported; drains in it that no node would
// write (malformed, or stamped in the future) are dropped and reported,
// the others kept. The file itself is left as it is.
func (n *Node) loadDrains() error {
	data, err := os.ReadFile(n.drainPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("drains: %w", err)
	}
	var list []Drain
	if err := json.Unmarshal(data, &list); err != nil {
		aside := n.drainPath + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
		if rerr := os.Rename(n.drainPath, aside); rerr != nil {
			return fmt.Errorf("drains: %s is corrupt (and could not be moved aside: %v): %w", n.drainPath, rerr, err)
		}
		return fmt.Errorf("drains: %s is corrupt (moved to %s): %w", n.drainPath, aside, err)
	}
	now := time.Now()
	var dropped []string
	for _, d := range list {
		err := d.wellFormed()
		switch {
		case err != nil:
			dropped = append(dropped, err.Error())
			continue
		case d.future(now):
			dropped = append(dropped, fmt.Sprintf("%s: set_at %s is in the future", d.Target, d.SetAt.Format(time.RFC3339)))
			continue
		}
		d.Target, _ = CanonicalTarget(d.Target)
		if old, ok := n.drains[d.Target]; !ok || d.newer(old) {
			n.drains[d.Target] = d
		}
	}
	if len(n.drains) > MaxDrains {
		dropped = append(dropped, fmt.Sprintf("%d targets, more than the %d a node holds; the oldest writes dropped", len(n.drains), MaxDrains))
		keepNewest(n.drains, MaxDrains)
	}
	if len(dropped) > 0 {
		if len(dropped) > 3 {
			dropped = append(dropped[:3], fmt.Sprintf("and %d more", len(dropped)-3))
		}
		return fmt.Errorf("drains: %s: dropped drains no node would write: %s", n.drainPath, strings.Join(dropped, "; "))
	}
	return nil
}

// keepNewest drops the oldest writes of drains until max are left.
func keepNewest(drains map[string]Drain, max int) {
	list := make([]Drain, 0, len(drains))
	for _, d := range drains {
		list = append(list, d)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].newer(list[j]) })
	for _, d := range list[max:] {
		delete(drains, d.Target)
	}
}

// Status reports members, endpoints with every observation, and drains.
func (n *Node) Status() Status {
	now := time.Now()
	st := Status{Node: n.name, Region: n.region, Drains: n.Drains()}
	if n.mesh != nil {
		st.Members = n.mesh.members()
	} else {
		st.Members = []Member{{Name: n.name, Region: n.region, State: "alive"}}
	}
	n.zoneStatus(&st)
	local := map[string]EndpointStatus{}
	for _, s := range n.checker.Status() {
		local[s.Endpoint.ID()] = s
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, ep := range n.endpoints {
		v := n.last[id]
		es := EndpointState{ID: id, Name: ep.String(), Up: v.up, Since: v.since}
		for observer, e := range n.obs[id] {
			es.Observations = append(es.Observations, Observation{Endpoint: id, Observer: observer, Region: e.region,
				Up: e.up, Since: e.since, Seq: e.seq, Age: now.Sub(e.seen).Round(time.Millisecond)})
		}
		sort.Slice(es.Observations, func(i, j int) bool { return es.Observations[i].Observer < es.Observations[j].Observer })
		if s, ok := local[id]; ok && s.Probes > 0 {
			r := s.Last
			es.LastProbe = &r
		}
		st.Endpoints = append(st.Endpoints, es)
	}
	sort.Slice(st.Endpoints, func(i, j int) bool { return st.Endpoints[i].Name < st.Endpoints[j].Name })
	return st
}

// ownItems are this node's observations with their ages, for a refresh.
func (n *Node) ownItems(now time.Time) []wireObs {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []wireObs
	for id, byObs := range n.obs {
		if e := byObs[n.name]; e != nil {
			if _, known := n.endpoints[id]; !known {
				continue
			}
			out = append(out, wireObs{Endpoint: id, Up: e.up, Since: e.since.UnixMilli(), Seq: e.seq, AgeMS: ms(now.Sub(e.seen))})
		}
	}
	return out
}

// fullState is what a push/pull sends: every observation younger than a
// minute, grouped by observer, and every drain.
func (n *Node) fullState(now time.Time) wireState {
	n.mu.Lock()
	defer n.mu.Unlock()
	byObserver := map[string]*wireBatch{}
	for id, byObs := range n.obs {
		for observer, e := range byObs {
			if now.Sub(e.seen) > time.Minute {
				continue
			}
			b := byObserver[observer]
			if b == nil {
				b = &wireBatch{Observer: observer, Region: e.region}
				byObserver[observer] = b
			}
			b.Items = append(b.Items, wireObs{Endpoint: id, Up: e.up, Since: e.since.UnixMilli(), Seq: e.seq, AgeMS: ms(now.Sub(e.seen))})
		}
	}
	st := wireState{}
	for _, b := range byObserver {
		st.Batches = append(st.Batches, *b)
	}
	for _, d := range n.drains {
		st.Drains = append(st.Drains, d)
	}
	return st
}

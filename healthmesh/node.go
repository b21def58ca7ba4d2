package healthmesh

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

	// The loop's alone (loop.go): the view of every vector, this node's
	// vector version, its endpoints by ID and those it probes.
	view             *view
	version          uint64
	known            map[string]Endpoint
	probing          map[string]bool
	tableList        listHash // the list the published verdict table follows
	probersPerRegion int

	key      ed25519.PrivateKey         // signs this node's vector; lives as long as the process
	events   chan event                 // to the loop
	probeSet chan []Endpoint            // from the loop to the checker (reconcile)
	dropped  atomic.Int64               // peer events dropped because the loop's queue was full
	eps      atomic.Pointer[[]Endpoint] // the endpoints, for metrics
	state    atomic.Pointer[[]byte]     // what push/pull hands a peer, made by the loop

	mu      sync.Mutex        // guards the drains below; the loop alone changes them
	drains  map[string]Drain  // by target, tombstones included
	drainW  *drainWriter      // persists the drains, apart
	refused map[string]uint64 // peers' drains refused, by reason (future, limit)

	errs      chan error  // fatal errors: the node cannot go on (see Err)
	failed    atomic.Bool // set with the first fatal error
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
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
		drains: map[string]Drain{}, refused: map[string]uint64{}, stop: make(chan struct{}), errs: make(chan error, 1),
		verdictChanges: newVerdictChanges(), key: newNodeKey(), events: make(chan event, queueSize),
		probeSet: make(chan []Endpoint, 1), known: map[string]Endpoint{},
	}
	grace := DefaultVectorGrace
	if o.Mesh != nil {
		n.probersPerRegion = o.Mesh.ProbersPerRegion
		if o.Mesh.VectorGrace > 0 {
			grace = o.Mesh.VectorGrace
		}
	}
	n.view = newView(o.Name, o.Region, grace)
	n.verdicts.Store(&verdictTable{state: map[string]pools.State{}})
	n.eps.Store(&[]Endpoint{})
	n.drainTab.Store(&drainTable{})
	var loadErr error
	if o.StateDir != "" {
		n.drainPath = filepath.Join(o.StateDir, "drains.json")
		loadErr = n.loadDrains()
	}
	n.drainW = newDrainWriter(n.drainPath, o.Log, n.drainList)
	n.drainW.loadErr = loadErr
	n.publishDrainsLocked(time.Now())
	checker.notify = n.observeLocal
	if o.Mesh != nil {
		m, err := newMesh(n, *o.Mesh)
		if err != nil {
			return nil, err
		}
		n.mesh = m
	}
	n.wg.Add(3)
	go n.loop()
	go n.reconcile()
	go func() {
		defer n.wg.Done()
		n.drainW.run(n.stop)
	}()
	return n, loadErr
}

// DefaultVectorGrace is how long a dead or departed member's vector is
// kept, so that a member back within it counts at once.
const DefaultVectorGrace = 30 * time.Second

// Err reports an error the node cannot go on after, such as its name
// being taken by another member of the mesh; the caller should stop.
func (n *Node) Err() <-chan error { return n.errs }

// fail reports a fatal error once.
func (n *Node) fail(err error) {
	n.failed.Store(true)
	select {
	case n.errs <- err:
	default:
	}
}

// Checker returns the node's prober.
func (n *Node) Checker() *Checker { return n.checker }

// Reconcile sets the endpoints this node probes and decides on. It
// returns once the node has taken them (verdicts, metrics and status
// follow them); the checker starts and stops probes right after.
func (n *Node) Reconcile(eps []Endpoint) {
	done := make(chan struct{})
	select {
	case n.events <- event{kind: evEndpoints, eps: slices.Clone(eps), done: done}:
	case <-n.stop:
		return
	}
	select {
	case <-done:
	case <-n.stop:
	}
}

// Close leaves the mesh politely (others see a leave, not a failure),
// stops probing and waits for every goroutine.
// Close is safe to call more than once.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		close(n.stop)
		n.wg.Wait()
		switch {
		case n.mesh != nil && n.failed.Load():
			// Leaving would announce the departure of the name this
			// node shares with another member.
			close(n.mesh.stop)
			n.mesh.wg.Wait()
			n.mesh.ml.Shutdown()
		case n.mesh != nil:
			n.mesh.leave()
		}
		n.checker.Stop()
	})
}

// tickDrains expires drains; the loop calls it.
func (n *Node) tickDrains(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if dt := n.drainTab.Load(); !dt.next.IsZero() && !now.Before(dt.next) {
		n.publishDrainsLocked(now)
	}
}

// observeLocal takes this node's own verdict after every probe, from the
// checker.
func (n *Node) observeLocal(id string, up bool, _ time.Time, _ bool) {
	select {
	case n.events <- event{kind: evLocal, id: id, up: up}:
	case <-n.stop:
	}
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
	var dr Drain
	var msg []byte
	var written <-chan error
	apply := func(*view) {
		now := time.Now()
		dr = Drain{Target: target, Reason: reason, SetAt: now, By: by, Deleted: deleted}
		if d > 0 && !deleted {
			dr.Until = now.Add(d)
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		old, ok := n.drains[target]
		switch {
		case deleted && (!ok || !old.Active(now)):
			err = &drainError{msg: target + " is not drained" + notDrainedWhy(old, ok), kind: ErrNotDrained}
			return
		case !ok && len(n.drains) >= MaxDrains:
			err = badDrain("%d targets have drains already (undone ones are kept for %s), the most a node holds; undo or let some expire first",
				len(n.drains), DrainRetention)
			return
		case ok && !dr.newer(old):
			dr.SetAt = old.SetAt.Add(time.Nanosecond) // our clock is behind the last writer's
		}
		if msg, err = encode(msgDrain, dr); err != nil {
			return
		}
		n.drains[target] = dr
		written = n.drainW.changed()
		n.publishDrainsLocked(now)
	}
	// The loop owns the drains while it runs; a closed node's caller
	// (a tool, a test) has them to itself.
	if !n.call(apply) {
		apply(nil)
	}
	if err != nil {
		return Drain{}, err
	}
	if n.mesh != nil {
		n.mesh.broadcast([][]byte{msg}, nil)
	}
	select {
	case err = <-written:
	case <-n.stop: // nobody writes any more: write now
		n.drainW.flush()
		select {
		case err = <-written:
		default:
		}
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
	n.drainW.changed()
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
func (n *Node) DrainError() error { return n.drainW.status().Err }

// DrainPersistence reports how keeping the drains file is going; the zero
// value without a state dir.
func (n *Node) DrainPersistence() PersistStatus { return n.drainW.status() }

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
	if forgot && n.drainW != nil {
		n.drainW.changed()
	}
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
	n.call(func(v *view) {
		for i, id := range v.list.ids {
			ep := n.known[id]
			es := EndpointState{ID: id, Name: ep.String(), Up: v.last[i].up, Since: v.last[i].since}
			for _, o := range v.observers {
				if !o.alive || !getBit(o.known, i) {
					continue
				}
				age := now.Sub(o.at)
				if o.name == n.name {
					age = 0
					if s, ok := local[id]; ok && s.Probes > 0 {
						age = now.Sub(s.Last.At)
					}
				}
				es.Observations = append(es.Observations, Observation{Endpoint: id, Observer: o.name, Region: o.region,
					Up: getBit(o.up, i), Since: o.changed[i], Seq: o.version, Age: age.Round(time.Millisecond)})
			}
			sort.Slice(es.Observations, func(i, j int) bool { return es.Observations[i].Observer < es.Observations[j].Observer })
			if s, ok := local[id]; ok && s.Probes > 0 {
				r := s.Last
				es.LastProbe = &r
			}
			st.Endpoints = append(st.Endpoints, es)
		}
	})
	sort.Slice(st.Endpoints, func(i, j int) bool { return st.Endpoints[i].Name < st.Endpoints[j].Name })
	return st
}

// drainList is every drain, tombstones included, for push/pull.
func (n *Node) drainList() []Drain {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Drain, 0, len(n.drains))
	for _, d := range n.drains {
		out = append(out, d)
	}
	return out
}

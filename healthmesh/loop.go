package healthmesh

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meridiandns/meridian/pools"
	"github.com/prometheus/client_golang/prometheus"
)

// The node's loop goroutine owns its view (view.go) and the drains:
// probe results, decoded peer pages and drains, membership changes,
// endpoint changes and the API's drains reach it as events on one
// channel, and it alone changes the view and the drains, publishes
// verdicts and sends this node's vector. (Others read the drains under
// Node.mu; the disk is the drain writer's, drainwriter.go.) memberlist callbacks only
// decode and enqueue; when the queue is full a peer's page is dropped
// and counted (push/pull brings it again), never waited for.

type eventKind uint8

const (
	evLocal     eventKind = iota // this node's own verdict of an endpoint
	evPage                       // a page of a peer's vector
	evList                       // a page of an endpoint list
	evMember                     // a member's metadata or state changed
	evEndpoints                  // this node's endpoints changed (a zone reload)
	evDrain                      // a drain from a peer
	evCall                       // run fn in the loop (status reads, drains set by the API)
)

type event struct {
	kind  eventKind
	id    string // evLocal
	up    bool   // evLocal
	page  *vectorPage
	raw   []byte // the page as received, to relay and to hand on in push/pull
	list  *listPage
	name  string // evMember
	mk    memberKey
	eps   []Endpoint
	done  chan struct{} // evEndpoints: closed once taken
	drain *Drain
	fn    func(v *view)
}

// echoAfter is when a vector is sent again after its last change. Gossip
// reaches every node with high probability, not certainty: a node that
// missed a change would otherwise wait for push/pull (30 s, a minute
// past 32 members). Each echo is a new version, so it spreads as a change
// does; a vector that does not change is not sent again.
var echoAfter = [...]time.Duration{time.Second, 3 * time.Second}

// queueSize bounds the events waiting for the loop.
const queueSize = 4096

// publishEvery coalesces this node's vector changes: a burst of probe
// results is sent as one version.
const publishEvery = 200 * time.Millisecond

// enqueue hands a peer's event to the loop without waiting; it reports
// false (and counts) when the queue is full.
func (n *Node) enqueue(ev event) bool {
	select {
	case n.events <- ev:
		return true
	default:
		n.dropped.Add(1)
		return false
	}
}

// call runs fn in the loop and waits for it; false when the loop has
// stopped.
func (n *Node) call(fn func(v *view)) bool {
	done := make(chan struct{})
	select {
	case n.events <- event{kind: evCall, fn: func(v *view) { fn(v); close(done) }}:
	case <-n.stop:
		return false
	}
	select {
	case <-done:
		return true
	case <-n.stop:
		return false
	}
}

// loop runs until Close.
func (n *Node) loop() {
	defer n.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var lastPublish, lastSweep time.Time
	echoes := len(echoAfter) // sent since the last change
	for {
		select {
		case <-n.stop:
			return
		case ev := <-n.events:
			now := time.Now()
			n.handle(ev, now)
			for more := true; more; {
				select {
				case ev := <-n.events:
					n.handle(ev, now)
				default:
					more = false
				}
			}
			n.publishVerdicts(now)
		case now := <-t.C:
			switch {
			case len(n.view.dirty) > 0 && now.Sub(lastPublish) >= publishEvery:
				lastPublish, echoes = now, 0
				n.sendOwn()
			case echoes < len(echoAfter) && !lastPublish.IsZero() && now.Sub(lastPublish) >= echoAfter[echoes] && n.gossipDone():
				// The vector again, as a new version that every node
				// relays: a node a wave of gossip missed gets another.
				// Not while the last wave is still being sent: when
				// the mesh is busy (a mass failure, every node's vector
				// changing) an echo would only crowd out news.
				echoes++
				n.view.dirtyAll()
				n.sendOwn()
			}
			if now.Sub(lastSweep) >= time.Second {
				lastSweep = now
				n.view.sweep(now)
				n.chooseProbed(now)
				n.publishVerdicts(now)
				n.snapshotState()
			}
			n.updateDrift(now)
			n.tickDrains(now)
		}
	}
}

func (n *Node) handle(ev event, now time.Time) {
	v := n.view
	switch ev.kind {
	case evLocal:
		if n.probing[ev.id] {
			v.local(ev.id, ev.up, now)
		}
	case evPage:
		if v.page(ev.page, ev.raw, now) && n.mesh != nil {
			n.mesh.relay(ev.raw)
		}
	case evList:
		v.listPage(ev.list, now)
	case evMember:
		v.member(ev.name, ev.mk, now)
		n.chooseProbed(now)
	case evEndpoints:
		ids := make([]string, 0, len(ev.eps))
		n.known = make(map[string]Endpoint, len(ev.eps))
		for _, e := range ev.eps {
			if id := e.ID(); validID(id) {
				ids = append(ids, id)
				n.known[id] = e
			}
		}
		v.setEndpoints(ids, now)
		n.eps.Store(&ev.eps)
		n.probing = nil // chosen again below
		n.chooseProbed(now)
		// The list itself travels by push/pull only: nodes serving the
		// same zones have it already, and gossiping a thousand IDs from
		// every node at once would crowd out the vectors.
		n.publishVerdicts(now)
		if ev.done != nil {
			close(ev.done)
		}
	case evDrain:
		if n.mergeDrain(*ev.drain) && n.mesh != nil {
			n.mesh.relay(ev.raw)
		}
	case evCall:
		ev.fn(v)
	}
}

// sendOwn signs and broadcasts the pages of this node's vector that
// changed, as its next version.
func (n *Node) sendOwn() {
	n.version++
	pages := n.view.ownPages(n.key, n.version)
	if n.mesh != nil {
		n.mesh.sendOwn(pages)
	}
}

// gossipDone reports whether memberlist is done sending this node's
// pages.
func (n *Node) gossipDone() bool { return n.mesh == nil || n.mesh.ownInFlight.Load() <= 0 }

// publishVerdicts decides the endpoints whose votes changed and, when a
// verdict changed, publishes a new table for the query path.
func (n *Node) publishVerdicts(now time.Time) {
	v := n.view
	changed := v.decide(now)
	cur := n.verdicts.Load()
	if len(changed) == 0 && len(cur.state) == len(v.list.ids) && n.tableList == v.list.hash {
		return
	}
	for _, i := range changed {
		id := v.list.ids[i]
		ep := n.known[id]
		up := v.last[i].up
		n.verdictChanges.WithLabelValues(id, ep.String(), upDown(up)).Inc()
		n.log.Info("endpoint verdict changed", "endpoint", ep.String(), "from", upDown(!up), "to", upDown(up),
			"votes", v.tally[i].summary())
	}
	t := &verdictTable{state: make(map[string]pools.State, len(v.list.ids))}
	for i, id := range v.list.ids {
		t.set(id, v.last[i].up)
	}
	for id := range cur.state {
		if _, ok := t.state[id]; !ok {
			n.verdictChanges.DeletePartialMatch(prometheus.Labels{"id": id})
		}
	}
	n.tableList = v.list.hash
	n.verdicts.Store(t)
}

func (t tally) summary() string {
	parts := make([]string, 0, len(t))
	for _, c := range t {
		if c.up > 0 || c.down > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d up/%d down", c.region, c.up, c.down))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// chooseProbed picks the endpoints this node probes: all of them, or
// with probers_per_region K, those for which it is among the K members
// of its region that rank highest by rendezvous hash. When a prober of
// the region dies or leaves, the next one ranks into its place at the
// next membership event or sweep.
func (n *Node) chooseProbed(now time.Time) {
	v := n.view
	want := make(map[string]bool, len(v.list.ids))
	peers := []string{n.name}
	if n.probersPerRegion > 0 {
		for name, mk := range v.members {
			if mk.alive && mk.region == n.region && name != n.name {
				peers = append(peers, name)
			}
		}
	}
	for _, id := range v.list.ids {
		if n.probersPerRegion <= 0 || len(peers) <= n.probersPerRegion || ranksAmong(id, n.name, peers, n.probersPerRegion) {
			want[id] = true
		}
	}
	if n.probing != nil && sameKeys(want, n.probing) {
		return
	}
	n.probing = want
	eps := make([]Endpoint, 0, len(want))
	for id := range want {
		eps = append(eps, n.known[id])
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].ID() < eps[j].ID() })
	v.forget(want, now)
	select {
	case <-n.probeSet: // not taken up yet: this set replaces it
	default:
	}
	n.probeSet <- eps
}

// reconcile hands the checker each new set of endpoints to probe, apart
// from the loop: the checker reports the probes it starts through
// observeLocal, which waits for the loop.
func (n *Node) reconcile() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case eps := <-n.probeSet:
			n.checker.Reconcile(eps)
		}
	}
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// ranksAmong reports whether self is among the k of peers ranking
// highest for endpoint id by rendezvous hash.
func ranksAmong(id, self string, peers []string, k int) bool {
	mine := rendezvous(id, self)
	higher := 0
	for _, p := range peers {
		if p == self {
			continue
		}
		if h := rendezvous(id, p); h > mine || (h == mine && p > self) {
			higher++
		}
	}
	return higher < k
}

// rendezvous is the weight of (endpoint, node): FNV-1a, mixed.
func rendezvous(id, node string) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range [...]string{id, "\x00", node} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// snapshotState encodes what push/pull hands a peer: this node's list
// and the pages of every live observer's vector, its own included.
func (n *Node) snapshotState() {
	if n.mesh == nil {
		return
	}
	v := n.view
	var items [][]byte
	items = append(items, listPages(v.list)...)
	for _, o := range v.observers {
		if !o.alive {
			continue
		}
		for _, raw := range o.raw {
			items = append(items, raw)
		}
		if l := v.lists[o.list]; l != nil && o.name != n.name {
			items = append(items, listPages(l)...)
		}
	}
	b := encodeItems(items)
	n.state.Store(&b)
}

// Push/pull state is items (vector pages, list pages, drains), each a
// message as gossip carries it, after a count and its length.
const (
	msgState      byte = 'S'
	maxStateItems      = 1 << 16
	maxItemLen         = 64 << 10
)

func encodeItems(items [][]byte) []byte {
	size := 5
	for _, it := range items {
		size += 4 + len(it)
	}
	b := make([]byte, 0, size)
	b = append(b, msgState)
	b = binary.BigEndian.AppendUint32(b, uint32(len(items)))
	for _, it := range items {
		b = binary.BigEndian.AppendUint32(b, uint32(len(it)))
		b = append(b, it...)
	}
	return b
}

// decodeItems splits a push/pull state into its items, or fails whole.
func decodeItems(b []byte) ([][]byte, error) {
	r := reader{b: b}
	if r.byte() != msgState {
		return nil, errBadPage
	}
	count := int(r.u32())
	if r.bad || count > maxStateItems {
		return nil, errBadPage
	}
	items := make([][]byte, 0, min(count, 1024))
	for range count {
		n := int(r.u32())
		if n > maxItemLen {
			return nil, errBadPage
		}
		items = append(items, r.bytes(n))
	}
	if r.bad || r.off != len(b) {
		return nil, errBadPage
	}
	return items, nil
}

// newNodeKey makes this process's signing key.
func newNodeKey() ed25519.PrivateKey {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic("healthmesh: no randomness for a key: " + err.Error())
	}
	return key
}

package healthmesh

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// MeshOptions configures gossip with the other nodes.
type MeshOptions struct {
	Bind      string   // host:port for gossip (UDP and TCP)
	Advertise string   // host:port others should use; "" = Bind
	Join      []string // peers to join; retried with backoff while unreachable
	Key       []byte   // 16, 24 or 32-byte AES key; nil = unencrypted (refused with Join unless Insecure)
	Insecure  bool     // allow joining without a key

	// ProbersPerRegion, when above 0, has only that many nodes of each
	// region probe each endpoint, chosen by rendezvous hash over the
	// region's live members; 0 = every node probes every endpoint.
	ProbersPerRegion int
	// VectorGrace is how long a dead or departed member's observations
	// are kept; 0 = DefaultVectorGrace.
	VectorGrace time.Duration

	// Tuning; zero values keep memberlist's LAN defaults. Tests shorten them.
	GossipInterval   time.Duration
	ProbeInterval    time.Duration
	PushPullInterval time.Duration

	// DriftGrace is how long a member's zone set may differ from the
	// majority's before it is flagged as drifting; 0 means
	// DefaultDriftGrace.
	DriftGrace time.Duration

	// wrapTransport, when set (by tests that measure the mesh), wraps the
	// transport memberlist would otherwise make itself.
	wrapTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
}

// DefaultDriftGrace leaves a deploy time to reach every node before the
// ones it has not reached yet are flagged.
const DefaultDriftGrace = 30 * time.Second

// maxMsg bounds one gossip message so that a few fit in a UDP packet.
const maxMsg = 1000

// mesh is the memberlist side of a Node.
type mesh struct {
	node  *Node
	ml    *memberlist.Memberlist
	queue *memberlist.TransmitLimitedQueue
	join  []string
	grace time.Duration // MeshOptions.DriftGrace
	stop  chan struct{}
	// metaDirty asks metaLoop to announce this node's metadata again
	// (its zone set changed); it holds at most one request.
	metaDirty chan struct{}
	wg        sync.WaitGroup

	aliveMu sync.Mutex        // guards alive and known
	alive   map[string]bool   // members memberlist reports alive
	known   map[string]Member // every member seen, copied in event callbacks (memberlist's *Node is not safe to read later)

	badMsgs  atomic.Int64 // malformed messages ignored
	bytesIn  atomic.Int64 // user-message bytes received (gossip)
	bytesOut atomic.Int64 // user-message bytes handed to memberlist (gossip)
	// ownInFlight counts this node's vector pages still being gossiped.
	ownInFlight atomic.Int64
	msgsIn      atomic.Int64 // user messages received
	msgsOut     atomic.Int64 // user messages handed to memberlist
	leaving     atomic.Bool  // set by leave; NodeMeta then says so
	// joining is set while this node, alone until then (joinAlone),
	// joins peers: a conflict over its own name then means this process
	// is the newcomer using a name another member has.
	joining   atomic.Bool
	joinAlone atomic.Bool
	conflicts atomic.Int64 // alive messages refused: a name already used from another address
	unauth    unauthLog    // packets and streams refused for want of the mesh key
}

// ReadKey reads a base64 key file as written by `meridian keygen`.
func ReadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mesh key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("mesh key %s: not base64: %w", path, err)
	}
	switch len(key) {
	case 16, 24, 32:
		return key, nil
	}
	return nil, fmt.Errorf("mesh key %s: %d bytes; want 32 (or 16, 24)", path, len(key))
}

// gossipNodes is memberlist's GossipNodes for the mesh.
const gossipNodes = 6

func newMesh(n *Node, o MeshOptions) (*mesh, error) {
	if len(o.Join) > 0 && o.Key == nil && !o.Insecure {
		return nil, errors.New("mesh: join peers are set but no mesh.keyfile; refusing to gossip unencrypted (set mesh.insecure: true to allow)")
	}
	host, port, err := splitHostPort(o.Bind)
	if err != nil {
		return nil, fmt.Errorf("mesh.bind: %w", err)
	}
	m := &mesh{node: n, join: o.Join, grace: o.DriftGrace, stop: make(chan struct{}), metaDirty: make(chan struct{}, 1),
		alive: map[string]bool{n.name: true}, known: map[string]Member{}}
	if m.grace <= 0 {
		m.grace = DefaultDriftGrace
	}
	c := memberlist.DefaultLANConfig()
	// Gossip goes to this many members each round, and only while there
	// is something to send: a steady mesh sends nothing more, while a
	// burst of news (a mass failure changes every node's vector at once)
	// drains twice as fast as with memberlist's 3. Every message is still
	// sent the same number of times in all.
	c.GossipNodes = gossipNodes
	c.Name = n.name
	c.BindAddr, c.BindPort = host, port
	c.AdvertiseAddr, c.AdvertisePort = host, port
	if o.Advertise != "" {
		if c.AdvertiseAddr, c.AdvertisePort, err = splitHostPort(o.Advertise); err != nil {
			return nil, fmt.Errorf("mesh.advertise: %w", err)
		}
	}
	if o.Key != nil {
		c.SecretKey = o.Key
	}
	if o.GossipInterval > 0 {
		c.GossipInterval = o.GossipInterval
	}
	if o.ProbeInterval > 0 {
		c.ProbeInterval = o.ProbeInterval
		c.ProbeTimeout = o.ProbeInterval / 2
	}
	if o.PushPullInterval > 0 {
		c.PushPullInterval = o.PushPullInterval
	}
	c.Delegate = m
	c.Events = m
	c.Conflict = m
	c.Logger = log.New(&slogWriter{log: n.log, unauth: &m.unauth, closing: &m.leaving}, "", 0)
	if o.wrapTransport != nil {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{host}, BindPort: port, Logger: c.Logger})
		if err != nil {
			return nil, fmt.Errorf("mesh: %w", err)
		}
		c.Transport = o.wrapTransport(nt)
	}
	ml, err := memberlist.Create(c)
	if err != nil {
		return nil, fmt.Errorf("mesh: %w", err)
	}
	m.ml = ml
	m.queue = &memberlist.TransmitLimitedQueue{NumNodes: ml.NumMembers, RetransmitMult: c.RetransmitMult}
	n.log.Info("mesh listening", "addr", fmt.Sprintf("%s:%d", c.BindAddr, ml.LocalNode().Port), "encrypted", o.Key != nil)
	m.wg.Add(2)
	go m.joinLoop()
	go m.metaLoop()
	return m, nil
}

func splitHostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("%q: bad port", s)
	}
	return h, port, nil
}

// joinLoop joins the configured peers, retrying with backoff while none
// answers, and keeps retrying peers that are not alive members (a healed
// partition, a restarted peer) every 10 s.
func (m *mesh) joinLoop() {
	defer m.wg.Done()
	if len(m.join) == 0 {
		return
	}
	backoff := 500 * time.Millisecond
	for {
		missing := m.missingPeers()
		if len(missing) > 0 {
			m.joinAlone.Store(m.ml.NumMembers() == 1)
			m.joining.Store(true)
			n, err := m.ml.Join(missing)
			m.joining.Store(false)
			if err != nil && n == 0 {
				m.node.log.Debug("mesh join failed; serving alone meanwhile", "peers", missing, "err", err)
			} else {
				m.node.log.Info("mesh joined", "peers", n)
				if backoff < 10*time.Second { // the first join
					m.wg.Add(1)
					go m.settle()
				}
				backoff = 10 * time.Second
			}
		}
		select {
		case <-m.stop:
			return
		case <-time.After(backoff):
		}
		if len(missing) > 0 && backoff < 10*time.Second {
			backoff = min(backoff*2, 10*time.Second)
		}
	}
}

// settleAfter is when a node that joined exchanges its whole state
// again, each time with a member picked at random.
var settleAfter = [...]time.Duration{2 * time.Second, 6 * time.Second}

// settle exchanges state with random members shortly after joining.
// When many nodes start at once, gossip of who joined reaches every
// member with high probability, not certainty, and a member missed is
// otherwise learnt only at memberlist's next push/pull (30 s, a minute
// past 32 members): its votes would not count meanwhile. A join to a
// member already known is exactly such an exchange.
func (m *mesh) settle() {
	defer m.wg.Done()
	start := time.Now()
	for _, after := range settleAfter {
		select {
		case <-m.stop:
			return
		case <-time.After(time.Until(start.Add(after))):
		}
		var others []string
		for _, mem := range m.members() { // copies: memberlist changes its own Node values in place
			if mem.Name != m.node.name && mem.State == "alive" {
				others = append(others, mem.Addr)
			}
		}
		if len(others) == 0 {
			continue
		}
		peer := others[rand.IntN(len(others))]
		if _, err := m.ml.Join([]string{peer}); err != nil {
			m.node.log.Debug("mesh: exchanging state after joining", "peer", peer, "err", err)
		}
	}
}

// metaLoop announces this node's metadata again whenever it changes.
// memberlist's UpdateNode waits for the broadcast to leave, so it runs
// here rather than in the reload that changed the zone set. A failure
// needs no retry: the new metadata is in memberlist's own state already,
// and push/pull carries it if the broadcast did not.
func (m *mesh) metaLoop() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case <-m.metaDirty:
			if err := m.ml.UpdateNode(2 * time.Second); err != nil {
				m.node.log.Debug("mesh: announcing the new zone set", "err", err)
			}
		}
	}
}

// metaChanged asks metaLoop to announce the node's metadata; it never
// blocks.
func (m *mesh) metaChanged() {
	select {
	case m.metaDirty <- struct{}{}:
	default: // a request is pending already; it will read the newest
	}
}

// missingPeers are the join addresses with no alive member.
func (m *mesh) missingPeers() []string {
	have := map[string]bool{}
	for _, mem := range m.members() {
		if mem.State == "alive" && mem.Name != m.node.name {
			have[mem.Addr] = true
		}
	}
	var out []string
	for _, p := range m.join {
		if !have[p] {
			out = append(out, p)
		}
	}
	return out
}

func (m *mesh) leave() {
	close(m.stop)
	m.wg.Wait()
	// Mark the metadata first: memberlist tells peers a leave from a
	// failure, but keeps the difference where NotifyLeave cannot read it.
	m.leaving.Store(true)
	if err := m.ml.UpdateNode(time.Second); err != nil {
		m.node.log.Warn("mesh leave", "err", err)
	}
	if err := m.ml.Leave(2 * time.Second); err != nil {
		m.node.log.Warn("mesh leave", "err", err)
	}
	m.ml.Shutdown()
}

// aliveSet returns a lookup of the members memberlist reports alive.
func (m *mesh) aliveSet() func(string) bool {
	m.aliveMu.Lock()
	snap := make(map[string]bool, len(m.alive))
	for k, v := range m.alive {
		snap[k] = v
	}
	m.aliveMu.Unlock()
	return func(name string) bool { return snap[name] }
}

// members lists every member seen, sorted by name.
func (m *mesh) members() []Member {
	m.aliveMu.Lock()
	defer m.aliveMu.Unlock()
	out := make([]Member, 0, len(m.known))
	for _, mem := range m.known {
		out = append(out, mem)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// broadcast queues messages for gossip. err is their encoding's, so that
// an encoder's results pass straight in: with an error nothing is sent.
func (m *mesh) broadcast(msgs [][]byte, err error) {
	if err != nil {
		m.node.log.Error("mesh: not sent", "err", err)
		return
	}
	for _, b := range msgs {
		m.queue.QueueBroadcast(newBroadcast(b))
	}
}

// sendOwn queues pages of this node's vector; until memberlist has sent
// each as often as it sends a broadcast (or a newer version replaced it),
// ownInFlight counts it.
func (m *mesh) sendOwn(pages [][]byte) {
	for _, b := range pages {
		bc := newBroadcast(b)
		bc.done = &m.ownInFlight
		m.ownInFlight.Add(1)
		m.queue.QueueBroadcast(bc)
	}
}

// relay passes on a peer's message that taught this node something:
// gossip is epidemic only if receivers relay, since memberlist sends a
// broadcast to a few nodes.
func (m *mesh) relay(b []byte) { m.queue.QueueBroadcast(newBroadcast(b)) }

// broadcast is a queued message. A newer message about the same thing
// (one observer's batch of the same endpoints, one drain target) replaces
// an older one still waiting in the queue.
type broadcast struct {
	key  string
	msg  []byte
	done *atomic.Int64 // counted down once the broadcast is finished with
}

func newBroadcast(b []byte) *broadcast {
	key := ""
	switch kind, v, l, d, err := decodeMsg(b); {
	case err != nil:
	case kind == msgVector:
		key = fmt.Sprintf("v|%s|%d", v.observer, v.start)
	case kind == msgList:
		key = fmt.Sprintf("l|%s|%d", l.list, l.start)
	case kind == msgDrain:
		key = "d|" + d.Target
	}
	return &broadcast{key: key, msg: b}
}

func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*broadcast)
	return ok && b.key != "" && o.key == b.key
}
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished() {
	if b.done != nil {
		b.done.Add(-1)
	}
}

// NodeMeta implements memberlist.Delegate: the node's region and zone
// set (meta.go), marked while the node leaves.
func (m *mesh) NodeMeta(limit int) []byte {
	md := nodeMeta{region: m.node.region, leaving: m.leaving.Load(), key: m.node.key.Public().(ed25519.PublicKey)}
	if zs := m.node.zoneSet.Load(); zs != nil {
		md.zones = metaZones{version: zs.Version, digest: zs.Digest, count: len(zs.Zones)}
	}
	return encodeMeta(md, limit)
}

// NotifyMsg implements memberlist.Delegate: it decodes and enqueues, and
// counts garbage.
func (m *mesh) NotifyMsg(b []byte) {
	m.bytesIn.Add(int64(len(b)))
	m.msgsIn.Add(1)
	m.take(b)
}

// take decodes one message (gossiped, or an item of a push/pull state)
// and hands it to the loop.
func (m *mesh) take(b []byte) {
	kind, v, l, d, err := decodeMsg(b)
	if err != nil {
		m.badMsgs.Add(1)
		m.node.log.Debug("mesh: ignored malformed message", "bytes", len(b))
		return
	}
	switch kind {
	case msgVector:
		m.node.enqueue(event{kind: evPage, page: v, raw: append([]byte(nil), b...)})
	case msgList:
		m.node.enqueue(event{kind: evList, list: l})
	case msgDrain:
		m.node.enqueue(event{kind: evDrain, drain: d, raw: append([]byte(nil), b...)})
	}
}

// GetBroadcasts implements memberlist.Delegate.
func (m *mesh) GetBroadcasts(overhead, limit int) [][]byte {
	msgs := m.queue.GetBroadcasts(overhead, limit)
	m.msgsOut.Add(int64(len(msgs)))
	for _, b := range msgs {
		m.bytesOut.Add(int64(len(b) + overhead))
	}
	return msgs
}

// LocalState implements memberlist.Delegate: the pages of every live
// member's vector and the endpoint lists they need (made by the loop),
// and every drain.
func (m *mesh) LocalState(bool) []byte {
	var items [][]byte
	if st := m.node.state.Load(); st != nil {
		items, _ = decodeItems(*st)
	}
	for _, d := range m.node.drainList() {
		if b, err := encode(msgDrain, d); err == nil {
			items = append(items, b)
		}
	}
	return encodeItems(items)
}

// MergeRemoteState implements memberlist.Delegate. A state that cannot
// be split into items is ignored whole and counted; each item is then
// taken as a message would be.
func (m *mesh) MergeRemoteState(buf []byte, _ bool) {
	items, err := decodeItems(buf)
	if err != nil {
		m.badMsgs.Add(1)
		m.node.log.Debug("mesh: ignored malformed state", "bytes", len(buf))
		return
	}
	for _, it := range items {
		m.take(it)
	}
}

// NotifyJoin implements memberlist.EventDelegate. memberlist holds its
// own locks here: the node is copied and nothing else is called.
func (m *mesh) NotifyJoin(n *memberlist.Node) { m.setMember(n, "alive", "joined") }

// NotifyLeave implements memberlist.EventDelegate.
func (m *mesh) NotifyLeave(n *memberlist.Node) { m.setMember(n, "dead", "left or failed") }

// NotifyUpdate implements memberlist.EventDelegate.
func (m *mesh) NotifyUpdate(n *memberlist.Node) { m.setMember(n, "alive", "") }

// setMember records what memberlist says of member n: state is alive,
// or dead, which its metadata turns into left when it says so. Metadata
// that is malformed in part is counted with the malformed messages; what
// could be read of it is kept.
func (m *mesh) setMember(n *memberlist.Node, state, what string) {
	md, err := decodeMeta(n.Meta)
	if state == "dead" && md.leaving {
		state = "left"
	}
	mem := Member{Name: n.Name, Region: md.region, Addr: n.Address(), State: state,
		ZoneSet: MemberZones{Digest: md.zones.digest, Count: md.zones.count}, zonesVersion: md.zones.version}
	if err != nil {
		m.badMsgs.Add(1)
		mem.MetaError = err.Error()
		m.node.log.Debug("mesh: malformed member metadata", "member", n.Name, "err", err, "bytes", len(n.Meta))
	}
	m.aliveMu.Lock()
	m.alive[mem.Name] = state == "alive"
	m.known[mem.Name] = mem
	m.aliveMu.Unlock()
	if !m.node.enqueue(event{kind: evMember, name: n.Name, mk: memberKey{region: md.region, key: md.key, alive: state == "alive"}}) {
		// A membership change must not be lost: hand it over apart.
		go func() {
			select {
			case m.node.events <- event{kind: evMember, name: n.Name, mk: memberKey{region: md.region, key: md.key, alive: state == "alive"}}:
			case <-m.node.stop:
			}
		}()
	}
	if what != "" && mem.Name != m.node.name {
		m.node.log.Info("mesh member "+what, "member", mem.Name, "region", mem.Region, "addr", mem.Addr)
	}
}

// NotifyConflict implements memberlist.ConflictDelegate: a member
// announced a name already used from another address, and memberlist
// refused it. A node that sees its own name taken while it joins, alone
// until then, is the newcomer: it stops (Node.Err says why) instead of
// fighting the member that has the name. Every other node, the member
// with the name included, counts and logs it.
func (m *mesh) NotifyConflict(existing, other *memberlist.Node) {
	m.conflicts.Add(1)
	if existing.Name == m.node.name && m.joining.Load() && m.joinAlone.Load() {
		m.node.fail(fmt.Errorf("mesh: node.name %q is already used by the member at %s; every node needs a name of its own",
			existing.Name, other.Address()))
		return
	}
	m.node.log.Error("mesh: refused a member using a name already taken", "name", existing.Name,
		"member", existing.Address(), "claimed_by", other.Address())
}

// slogWriter turns memberlist's log lines into slog records. Lines about
// packets and streams not sealed with the mesh key are counted in unauth
// (nil: logged like the others) rather than each logged: anyone who can
// reach the gossip port can send them.
type slogWriter struct {
	log     *slog.Logger
	unauth  *unauthLog
	closing *atomic.Bool // set once the mesh leaves: closed-socket errors are expected then
}

func (w *slogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if w.unauth != nil && unauthenticated(line) {
		w.unauth.note(w.log, line)
		return len(p), nil
	}
	level := slog.LevelDebug
	switch {
	case w.closing != nil && w.closing.Load() && strings.Contains(line, "use of closed network connection"):
		// memberlist's own goroutines racing its shutdown: not news.
	case strings.Contains(line, "[ERR]"):
		level = slog.LevelWarn
	case strings.Contains(line, "[WARN]"):
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, "memberlist", "line", line)
	return len(p), nil
}

var _ io.Writer = (*slogWriter)(nil)

// unauthenticated reports whether a memberlist log line is about a packet
// or stream that a node with the mesh key refused because it was not
// sealed with that key (or with any key at all).
func unauthenticated(line string) bool {
	return strings.Contains(line, "Decrypt packet failed") ||
		strings.Contains(line, "failed to receive") && (strings.Contains(line, "decrypt") ||
			strings.Contains(line, "not encrypted") || strings.Contains(line, "encryption version"))
}

// unauthRepeat is how often refusals are summarised in the log.
const unauthRepeat = time.Minute

// unauthLog counts refused packets and logs the first, then at most one
// line per unauthRepeat with how many came since the last line; that
// count is logged when the next refusal comes after the minute, and the
// metric has every one.
type unauthLog struct {
	total atomic.Int64     // every refusal
	now   func() time.Time // nil: time.Now

	mu   sync.Mutex // guards last and held
	last time.Time  // when a line was last logged; zero: never
	held int64      // refusals since then, not logged
}

func (u *unauthLog) note(l *slog.Logger, line string) {
	u.total.Add(1)
	now := time.Now
	if u.now != nil {
		now = u.now
	}
	t := now()
	u.mu.Lock()
	if !u.last.IsZero() && t.Sub(u.last) < unauthRepeat {
		u.held++
		u.mu.Unlock()
		return
	}
	held, since := u.held, u.last
	u.held, u.last = 0, t
	u.mu.Unlock()
	if since.IsZero() {
		l.Warn("mesh: refused a packet not sealed with the mesh key; further ones are counted in meridian_mesh_unauthenticated_packets_total and logged once a minute",
			"line", line)
		return
	}
	l.Warn("mesh: refused packets not sealed with the mesh key", "count", held+1, "since", since.UTC().Format(time.RFC3339), "line", line)
}

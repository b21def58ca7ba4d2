// Package meshtest runs a mesh member under a test's control: it joins a
// fleet with the fleet's key, as a compromised or misconfigured member
// would, records what it hears and sends whatever bytes the test gives
// it, so that tests can show the fleet ignores what such a member may
// not say.
package meshtest

import (
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// Rogue is a memberlist member that speaks raw mesh messages.
type Rogue struct {
	ml    *memberlist.Memberlist
	queue *memberlist.TransmitLimitedQueue
	meta  []byte

	mu   sync.Mutex // guards got
	got  [][]byte   // messages received, gossip and push/pull state
	done bool
}

// Join starts a member called name on bind (host:port) with metadata
// meta and the fleet's key, and joins peers.
func Join(t testing.TB, name, bind string, meta, key []byte, peers []string) *Rogue {
	t.Helper()
	host, portText, err := net.SplitHostPort(bind)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	r := &Rogue{meta: meta}
	c := memberlist.DefaultLANConfig()
	c.Name, c.BindAddr, c.BindPort, c.AdvertiseAddr, c.AdvertisePort = name, host, port, host, port
	c.SecretKey = key
	c.GossipInterval, c.ProbeInterval, c.PushPullInterval = 100*time.Millisecond, 500*time.Millisecond, 2*time.Second
	c.Delegate = r
	c.Logger = log.New(io.Discard, "", 0)
	if r.ml, err = memberlist.Create(c); err != nil {
		t.Fatal(err)
	}
	r.queue = &memberlist.TransmitLimitedQueue{NumNodes: r.ml.NumMembers, RetransmitMult: 3}
	if _, err := r.ml.Join(peers); err != nil {
		r.ml.Shutdown()
		t.Fatalf("rogue join: %v", err)
	}
	t.Cleanup(r.Leave)
	return r
}

// Send gossips b, and sends it to every member directly too.
func (r *Rogue) Send(b []byte) {
	r.queue.QueueBroadcast(raw(b))
	for _, m := range r.ml.Members() {
		if m.Name != r.ml.LocalNode().Name {
			r.ml.SendBestEffort(m, b)
		}
	}
}

// Received returns copies of the messages heard so far whose first byte
// is kind.
func (r *Rogue) Received(kind byte) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, b := range r.got {
		if len(b) > 0 && b[0] == kind {
			out = append(out, append([]byte(nil), b...))
		}
	}
	return out
}

// Leave leaves the fleet and stops; safe to call twice.
func (r *Rogue) Leave() {
	r.mu.Lock()
	done := r.done
	r.done = true
	r.mu.Unlock()
	if done {
		return
	}
	r.ml.Leave(time.Second)
	r.ml.Shutdown()
}

// Name is the member's name as memberlist knows it.
func (r *Rogue) Name() string { return r.ml.LocalNode().Name }

func (r *Rogue) String() string { return fmt.Sprintf("rogue %s", r.Name()) }

// NodeMeta implements memberlist.Delegate.
func (r *Rogue) NodeMeta(int) []byte { return r.meta }

// NotifyMsg implements memberlist.Delegate: every message is kept.
func (r *Rogue) NotifyMsg(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) < 10000 {
		r.got = append(r.got, append([]byte(nil), b...))
	}
}

// GetBroadcasts implements memberlist.Delegate.
func (r *Rogue) GetBroadcasts(overhead, limit int) [][]byte {
	return r.queue.GetBroadcasts(overhead, limit)
}

// LocalState implements memberlist.Delegate: a rogue offers nothing.
func (r *Rogue) LocalState(bool) []byte { return nil }

// MergeRemoteState implements memberlist.Delegate: the items of a
// state ('S', count, then length-prefixed items) are kept as messages.
func (r *Rogue) MergeRemoteState(b []byte, _ bool) {
	if len(b) < 5 || b[0] != 'S' {
		return
	}
	for off := 5; off+4 <= len(b); {
		n := int(b[off])<<24 | int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		off += 4
		if off+n > len(b) {
			return
		}
		r.NotifyMsg(b[off : off+n])
		off += n
	}
}

type raw []byte

func (b raw) Invalidates(memberlist.Broadcast) bool { return false }
func (b raw) Message() []byte                       { return b }
func (b raw) Finished()                             {}

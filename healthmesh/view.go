package healthmesh

import (
	"crypto/ed25519"
	"math/bits"
	"sort"
	"sync/atomic"
	"time"
)

// view is what one node knows of every observer's state vector and the
// verdicts it derives from them. It belongs to the node's loop goroutine
// alone (loop.go): nothing here locks. Verdicts are kept incrementally:
// each endpoint has a tally of votes by region, changed only by the bits
// an event changes, and only the endpoints whose tally changed are
// decided again.
type view struct {
	self, region string

	list  *epList        // this node's endpoints
	index map[string]int // endpoint ID → position in list
	tally []tally        // by position
	last  []verdictState // by position; the verdict answers obey

	observers map[string]*observer // by node name, this node's own included
	lists     map[listHash]*epList // other nodes' lists, by hash
	pending   map[listHash]*listBuild
	members   map[string]memberKey // what the metadata says of each member
	grace     time.Duration        // how long a dead or departed member's vector is kept

	touched []int           // positions whose tally changed since the last decide
	dirty   map[uint32]bool // pages of this node's vector changed since they were last sent, by start
	refused refusals
}

// memberKey is what the view needs of a member's metadata.
type memberKey struct {
	region string
	key    ed25519.PublicKey
	alive  bool
}

// refusals counts what the view would not take, by reason. The loop
// adds; metrics read at any time.
type refusals struct {
	unsigned  atomic.Uint64 // pages from a member with no key, or none at all
	badSig    atomic.Uint64 // pages whose signature is not their member's, or another region
	stale     atomic.Uint64 // pages older than the one held
	overLimit atomic.Uint64 // lists beyond the bounds, or not matching their hash
}

// tally is the votes on one endpoint by region.
type tally []regionVotes

type regionVotes struct {
	region   string
	up, down int32
}

func (t *tally) add(region string, up bool, d int32) {
	for i := range *t {
		if (*t)[i].region == region {
			if up {
				(*t)[i].up += d
			} else {
				(*t)[i].down += d
			}
			return
		}
	}
	rv := regionVotes{region: region}
	if up {
		rv.up = d
	} else {
		rv.down = d
	}
	*t = append(*t, rv)
}

// decide applies the quorum rule: each region votes by the majority of
// its observers (a tie inside a region is no vote); the endpoint is down
// when more voting regions say down than up, up when more say up. ok is
// false for a tie or no votes: the caller keeps the last verdict.
func (t tally) decide() (up, ok bool) {
	upR, downR := 0, 0
	for _, c := range t {
		switch {
		case c.up > c.down:
			upR++
		case c.down > c.up:
			downR++
		}
	}
	switch {
	case downR > upR:
		return false, true
	case upR > downR:
		return true, true
	}
	return false, false
}

// observer is one node's state vector as this node holds it.
type observer struct {
	name, region string
	key          ed25519.PublicKey // the key its pages are signed with
	alive        bool              // memberlist says so (always, for this node)
	goneAt       time.Time         // when it stopped being alive

	list    listHash
	n       uint32
	pages   map[uint32]*vectorPage // by start, as received (raw bytes in raw)
	raw     map[uint32][]byte
	version uint64    // the newest page version held
	at      time.Time // when the newest page arrived

	// up and known are the vector in this node's positions; changed is
	// when each position's bits last changed here. nil until the
	// sender's list is known.
	up, known []uint64
	changed   []time.Time
}

// listBuild collects the pages of a list.
type listBuild struct {
	n     uint32
	ids   []string
	have  int
	added time.Time
}

const (
	maxLists   = 16 // other nodes' lists kept (a rolling deploy has two)
	maxPending = 8  // lists being collected, each named by a member's vector
)

func newView(self, region string, grace time.Duration) *view {
	v := &view{self: self, region: region, grace: grace, index: map[string]int{},
		observers: map[string]*observer{}, lists: map[listHash]*epList{}, pending: map[listHash]*listBuild{},
		members: map[string]memberKey{}, dirty: map[uint32]bool{}}
	v.list = newList(nil)
	v.observers[self] = &observer{name: self, region: region, alive: true, pages: map[uint32]*vectorPage{},
		raw: map[uint32][]byte{}}
	return v
}

// setEndpoints makes ids this node's endpoints. Verdicts carry over by
// ID; a new endpoint starts up (cold start). Every vector is mapped to
// the new positions and the tallies are counted again: this runs per
// zone reload, never per message.
func (v *view) setEndpoints(ids []string, now time.Time) {
	old, oldLast := v.list, v.last
	v.list = newList(ids)
	v.index = make(map[string]int, len(v.list.ids))
	for i, id := range v.list.ids {
		v.index[id] = i
	}
	v.last = make([]verdictState, len(v.list.ids))
	for i, id := range v.list.ids {
		v.last[i] = verdictState{up: true, since: now}
		if j, ok := slicesIndex(old.ids, id); ok && j < len(oldLast) {
			v.last[i] = oldLast[j]
		}
	}
	self := v.observers[v.self]
	if self.up != nil {
		// This node's own bits move with their IDs.
		up, known := make([]uint64, words(len(v.list.ids))), make([]uint64, words(len(v.list.ids)))
		for j, id := range old.ids {
			if i, ok := v.index[id]; ok && getBit(self.known, j) {
				setBit(known, i, true)
				setBit(up, i, getBit(self.up, j))
			}
		}
		self.up, self.known = up, known
	} else {
		self.up, self.known = make([]uint64, words(len(v.list.ids))), make([]uint64, words(len(v.list.ids)))
	}
	self.changed = resizeTimes(nil, len(v.list.ids), now)
	self.list, self.n = v.list.hash, uint32(len(v.list.ids))
	clear(self.pages)
	clear(self.raw)
	v.dirtyAll()
	for _, o := range v.observers {
		if o.name != v.self {
			v.remap(o, now)
		}
	}
	v.recount()
}

func slicesIndex(ids []string, id string) (int, bool) {
	i := sort.SearchStrings(ids, id)
	return i, i < len(ids) && ids[i] == id
}

// recount counts every tally from scratch and marks every position
// touched.
func (v *view) recount() {
	v.tally = make([]tally, len(v.list.ids))
	for _, o := range v.observers {
		if o.alive && o.known != nil {
			v.each(o.known, func(i int) { v.tally[i].add(o.region, getBit(o.up, i), 1) })
		}
	}
	v.touched = v.touched[:0]
	for i := range v.list.ids {
		v.touched = append(v.touched, i)
	}
}

// each calls f for every set bit of bs.
func (v *view) each(bs []uint64, f func(int)) {
	for w, word := range bs {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			f(w*64 + b)
			word &= word - 1
		}
	}
}

// remap maps o's pages to this node's positions, replacing its bits
// (the caller recounts or applies the difference).
func (v *view) remap(o *observer, now time.Time) {
	var from []string
	switch {
	case o.list == v.list.hash:
		from = v.list.ids
	case v.lists[o.list] != nil:
		from = v.lists[o.list].ids
	default:
		o.up, o.known, o.changed = nil, nil, nil
		return
	}
	up, known := make([]uint64, words(len(v.list.ids))), make([]uint64, words(len(v.list.ids)))
	for start, p := range o.pages {
		for k := 0; k < int(p.count); k++ {
			j := int(start) + k
			if j >= len(from) || !p.bit(p.known, k) {
				continue
			}
			if i, ok := v.index[from[j]]; ok { // endpoints this node does not know are ignored
				setBit(known, i, true)
				setBit(up, i, p.bit(p.up, k))
			}
		}
	}
	if o.changed == nil || len(o.changed) != len(v.list.ids) {
		o.changed = resizeTimes(nil, len(v.list.ids), now)
	}
	o.up, o.known = up, known
}

// replace sets o's bits to up/known, applying the difference to the
// tallies and marking what changed.
func (v *view) replace(o *observer, up, known []uint64, now time.Time) {
	for w := range known {
		var ou, ok uint64
		if o.known != nil {
			ou, ok = o.up[w], o.known[w]
		}
		diff := (ok ^ known[w]) | ((ou ^ up[w]) & (ok | known[w]))
		for diff != 0 {
			b := bits.TrailingZeros64(diff)
			diff &= diff - 1
			i := w*64 + b
			if o.alive {
				if ok&(1<<b) != 0 {
					v.tally[i].add(o.region, ou&(1<<b) != 0, -1)
				}
				if known[w]&(1<<b) != 0 {
					v.tally[i].add(o.region, up[w]&(1<<b) != 0, 1)
				}
				v.touched = append(v.touched, i)
			}
			if i < len(o.changed) {
				o.changed[i] = now
			}
			if o.name == v.self {
				v.dirty[uint32(i/pageSize*pageSize)] = true
			}
		}
	}
	o.up, o.known = up, known
}

// setAlive counts or discounts o's votes.
func (v *view) setAlive(o *observer, alive bool, now time.Time) {
	if o.alive == alive {
		return
	}
	if o.known != nil {
		d := int32(1)
		if !alive {
			d = -1
		}
		v.each(o.known, func(i int) {
			v.tally[i].add(o.region, getBit(o.up, i), d)
			v.touched = append(v.touched, i)
		})
	}
	o.alive = alive
	if !alive {
		o.goneAt = now
	}
}

// local records this node's own verdict of endpoint id. It reports
// whether its vector changed.
func (v *view) local(id string, up bool, now time.Time) bool {
	i, ok := v.index[id]
	self := v.observers[v.self]
	if !ok || (getBit(self.known, i) && getBit(self.up, i) == up) {
		return false
	}
	nu, nk := cloneBits(self.up), cloneBits(self.known)
	setBit(nk, i, true)
	setBit(nu, i, up)
	v.replace(self, nu, nk, now)
	return true
}

// forget drops this node's opinion of ids it no longer probes (another
// node of its region probes them).
func (v *view) forget(probed map[string]bool, now time.Time) bool {
	self := v.observers[v.self]
	nu, nk := cloneBits(self.up), cloneBits(self.known)
	changed := false
	v.each(self.known, func(i int) {
		if !probed[v.list.ids[i]] {
			setBit(nk, i, false)
			setBit(nu, i, false)
			changed = true
		}
	})
	if changed {
		v.replace(self, nu, nk, now)
	}
	return changed
}

// member records what memberlist says of a member: its region and key
// from its metadata, and whether it is alive. A new key (a restarted
// process) drops everything the old one signed.
func (v *view) member(name string, mk memberKey, now time.Time) {
	if name == v.self {
		return
	}
	v.members[name] = mk
	o := v.observers[name]
	if o == nil {
		return
	}
	if !o.key.Equal(mk.key) || o.region != mk.region {
		v.setAlive(o, false, now)
		delete(v.observers, name)
		return
	}
	v.setAlive(o, mk.alive, now)
}

// page takes a page of a peer's vector. It reports whether the page was
// news (and so is worth relaying).
func (v *view) page(p *vectorPage, raw []byte, now time.Time) bool {
	if p.observer == v.self {
		return false // our own, echoed back
	}
	mk, ok := v.members[p.observer]
	if !ok || mk.key == nil {
		v.refused.unsigned.Add(1)
		return false
	}
	o := v.observers[p.observer]
	if o != nil && o.key.Equal(mk.key) {
		// Copies of a page already held arrive by every gossip path:
		// refuse them before the signature, the costly part. This only
		// ever refuses.
		if old := o.pages[p.start]; old != nil && old.list == p.list && old.version >= p.version {
			v.refused.stale.Add(1)
			return false
		}
	}
	if !p.verify(mk.key) || p.region != mk.region {
		v.refused.badSig.Add(1)
		return false
	}
	if o == nil {
		o = &observer{name: p.observer, region: mk.region, key: mk.key, alive: mk.alive,
			pages: map[uint32]*vectorPage{}, raw: map[uint32][]byte{}}
		if !mk.alive {
			o.goneAt = now
		}
		v.observers[p.observer] = o
	}
	if old := o.pages[p.start]; old != nil && old.list == p.list && old.version >= p.version {
		v.refused.stale.Add(1)
		return false
	}
	if o.list != p.list || o.n != p.n {
		// A new list (the sender reloaded its zones): its pages under
		// the old list no longer say anything.
		if p.version <= o.version {
			v.refused.stale.Add(1)
			return false
		}
		o.list, o.n = p.list, p.n
		clear(o.pages)
		clear(o.raw)
		o.pages[p.start], o.raw[p.start] = p, raw
		o.version, o.at = p.version, now
		v.apply(o, now) // a list change: every position is looked at once
		return true
	}
	o.pages[p.start], o.raw[p.start] = p, raw
	if p.version > o.version {
		o.version = p.version
	}
	o.at = now
	v.applyPage(o, p, now)
	return true
}

// applyPage applies one page of o's vector, over the list o's other
// pages are over, to the tallies: work in proportion to the page, not to
// the endpoints.
func (v *view) applyPage(o *observer, p *vectorPage, now time.Time) {
	var from []string
	switch {
	case o.list == v.list.hash:
	case v.lists[o.list] != nil:
		from = v.lists[o.list].ids
	default:
		return // the sender's list is not here yet: its arrival applies every page
	}
	if o.known == nil || len(o.changed) != len(v.list.ids) {
		v.apply(o, now)
		return
	}
	for k := 0; k < int(p.count); k++ {
		j := int(p.start) + k
		i := j
		if from != nil {
			if j >= len(from) {
				break
			}
			var ok bool
			if i, ok = v.index[from[j]]; !ok {
				continue // an endpoint this node does not know
			}
		} else if i >= len(v.list.ids) {
			break
		}
		known, up := p.bit(p.known, k), p.bit(p.up, k) && p.bit(p.known, k)
		wasKnown, wasUp := getBit(o.known, i), getBit(o.up, i)
		if known == wasKnown && (!known || up == wasUp) {
			continue
		}
		if o.alive {
			if wasKnown {
				v.tally[i].add(o.region, wasUp, -1)
			}
			if known {
				v.tally[i].add(o.region, up, 1)
			}
			v.touched = append(v.touched, i)
		}
		setBit(o.known, i, known)
		setBit(o.up, i, up)
		o.changed[i] = now
	}
}

// apply maps o's pages to this node's positions and applies the
// difference to the tallies.
func (v *view) apply(o *observer, now time.Time) {
	was := &observer{up: o.up, known: o.known}
	v.remap(o, now)
	up, known := o.up, o.known
	o.up, o.known = was.up, was.known
	if known == nil {
		known, up = make([]uint64, words(len(v.list.ids))), make([]uint64, words(len(v.list.ids)))
	}
	v.replace(o, up, known, now)
}

// listPage takes a page of an endpoint list. A list is kept once whole
// and matching its hash, and only while some observer uses it.
func (v *view) listPage(p *listPage, now time.Time) {
	if p.list == v.list.hash || v.lists[p.list] != nil {
		return
	}
	b := v.pending[p.list]
	if b == nil {
		// Only a list some member's signed vector names is collected:
		// anyone could send pages of made-up lists.
		if !v.named(p.list) {
			return // push/pull brings it again once a vector names it
		}
		for h := range v.pending {
			if !v.named(h) {
				delete(v.pending, h) // its sender moved on to another list
			}
		}
		if len(v.pending) >= maxPending || p.n == 0 && p.start != 0 {
			v.refused.overLimit.Add(1)
			return
		}
		b = &listBuild{n: p.n, ids: make([]string, p.n), added: now}
		v.pending[p.list] = b
	}
	if b.n != p.n {
		return
	}
	for k, id := range p.ids {
		if b.ids[int(p.start)+k] == "" {
			b.have++
		}
		b.ids[int(p.start)+k] = id
	}
	if b.have < int(b.n) {
		return
	}
	delete(v.pending, p.list)
	l := &epList{hash: hashIDs(b.ids), ids: b.ids}
	if l.hash != p.list || !sort.StringsAreSorted(l.ids) || len(v.lists) >= maxLists {
		v.refused.overLimit.Add(1)
		return
	}
	v.lists[l.hash] = l
	for _, o := range v.observers {
		if o.list == l.hash && o.name != v.self {
			v.apply(o, now)
		}
	}
}

// named reports whether some observer's vector is over list h.
func (v *view) named(h listHash) bool {
	for _, o := range v.observers {
		if o.list == h {
			return true
		}
	}
	return false
}

// sweep forgets the vectors of members dead or gone for longer than the
// grace period, lists no observer uses, and lists never completed.
func (v *view) sweep(now time.Time) {
	for name, o := range v.observers {
		if name != v.self && !o.alive && now.Sub(o.goneAt) > v.grace {
			delete(v.observers, name)
		}
	}
	for name, mk := range v.members {
		if !mk.alive && v.observers[name] == nil {
			delete(v.members, name)
		}
	}
	used := map[listHash]bool{}
	for _, o := range v.observers {
		used[o.list] = true
	}
	for h := range v.lists {
		if !used[h] {
			delete(v.lists, h)
		}
	}
	for h, b := range v.pending {
		if now.Sub(b.added) > time.Minute || !used[h] {
			delete(v.pending, h)
		}
	}
}

// decide decides the touched endpoints again and returns those whose
// verdict changed.
func (v *view) decide(now time.Time) (changed []int) {
	sort.Ints(v.touched)
	prev := -1
	for _, i := range v.touched {
		if i == prev || i >= len(v.tally) {
			continue
		}
		prev = i
		up, ok := v.tally[i].decide()
		if ok && up != v.last[i].up {
			v.last[i] = verdictState{up: up, since: now}
			changed = append(changed, i)
		}
	}
	v.touched = v.touched[:0]
	return changed
}

// dirtyAll marks every page of this node's vector to be sent again.
func (v *view) dirtyAll() {
	self := v.observers[v.self]
	for start := uint32(0); start < self.n || start == 0; start += pageSize {
		v.dirty[start] = true
	}
}

// ownPages encodes the pages of this node's vector changed since they
// were last sent, as version, signed with key, and keeps them for
// push/pull.
func (v *view) ownPages(key ed25519.PrivateKey, version uint64) [][]byte {
	self := v.observers[v.self]
	var out [][]byte
	starts := make([]uint32, 0, len(v.dirty))
	for s := range v.dirty {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	for _, start := range starts {
		count := min(pageSize, int(self.n)-int(start))
		p := &vectorPage{observer: v.self, region: v.region, version: version, list: self.list, n: self.n,
			start: start, count: uint16(count)}
		nb := (count + 7) / 8
		p.up, p.known = make([]byte, nb), make([]byte, nb)
		for k := range count {
			i := int(start) + k
			if getBit(self.known, i) {
				p.known[k/8] |= 1 << (k % 8)
				if getBit(self.up, i) {
					p.up[k/8] |= 1 << (k % 8)
				}
			}
		}
		raw := encodeVector(p, key)
		self.pages[start], self.raw[start] = p, raw
		out = append(out, raw)
	}
	clear(v.dirty)
	if len(out) > 0 {
		self.version = version
	}
	return out
}

func words(n int) int { return (n + 63) / 64 }

func getBit(bs []uint64, i int) bool { return i/64 < len(bs) && bs[i/64]&(1<<(i%64)) != 0 }

func setBit(bs []uint64, i int, on bool) {
	if on {
		bs[i/64] |= 1 << (i % 64)
	} else {
		bs[i/64] &^= 1 << (i % 64)
	}
}

func cloneBits(bs []uint64) []uint64 { return append([]uint64(nil), bs...) }

func resizeTimes(ts []time.Time, n int, now time.Time) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = now
	}
	return out
}

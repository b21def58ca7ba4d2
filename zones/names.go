package zones

import (
	"hash/maphash"
	"math/bits"
)

// nameIndex maps lower-case owner names to their nodes for Set.lookup. It
// is an open-addressing table of (hash, node) slots, filled at most half
// way, so a probe usually reads one slot, then the node it points at,
// which the answer needs next anyway; a Go map of strings costs a group
// of control bytes and slot keys on top. Built once, read-only after.
type nameIndex struct {
	seed  maphash.Seed
	slots []nameSlot // a power of two long; nil when empty
}

type nameSlot struct {
	hash uint64
	node *node // nil: empty
}

// newNameIndex returns an index with room for n names.
func newNameIndex(n int) nameIndex {
	size := 1 << bits.Len(uint(2*n)) // over twice n: at most half full
	return nameIndex{seed: maphash.MakeSeed(), slots: make([]nameSlot, size)}
}

// hashOf is name's hash in x.
func hashOf(x *nameIndex, name string) uint64 { return maphash.String(x.seed, name) }

// add indexes nd under its name, replacing a node already there.
func (x *nameIndex) add(nd *node) {
	h := hashOf(x, nd.name)
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.node == nil || (s.hash == h && s.node.name == nd.name) {
			*s = nameSlot{h, nd}
			return
		}
	}
}

// get returns the node indexed under name, or nil.
func (x *nameIndex) get(name string) *node {
	if len(x.slots) == 0 {
		return nil
	}
	h := hashOf(x, name)
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.node == nil {
			return nil
		}
		if s.hash == h && s.node.name == name {
			return s.node
		}
	}
}

// len is the number of names indexed.
func (x *nameIndex) len() int {
	n := 0
	for _, s := range x.slots {
		if s.node != nil {
			n++
		}
	}
	return n
}

package zones

import (
	"fmt"
	"testing"
)

func TestNameIndex(t *testing.T) {
	var empty nameIndex
	if empty.get("a.example.") != nil {
		t.Fatal("empty index found a name")
	}
	const n = 5000
	x := newNameIndex(n)
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = &node{name: fmt.Sprintf("host-%d.example.", i)}
		x.add(nodes[i])
	}
	if len(x.slots) < 2*n {
		t.Errorf("%d slots for %d names: more than half full", len(x.slots), n)
	}
	for i, nd := range nodes {
		if got := x.get(nd.name); got != nd {
			t.Fatalf("get(%q) = %v; want node %d", nd.name, got, i)
		}
		for _, miss := range []string{fmt.Sprintf("host-%d.example.", n+i), fmt.Sprintf("HOST-%d.example.", i), nd.name[1:]} {
			if got := x.get(miss); got != nil {
				t.Fatalf("get(%q) = node %q; want none", miss, got.name)
			}
		}
	}
	again := &node{name: nodes[7].name}
	x.add(again)
	if x.get(again.name) != again || x.len() != n {
		t.Errorf("re-adding a name: get gives %v, %d names; want the new node, %d", x.get(again.name), x.len(), n)
	}
}

// TestNameIndexCollisions fills a small table whose names all probe from
// the same slot, which every get must walk past.
func TestNameIndexCollisions(t *testing.T) {
	x := newNameIndex(8)
	mask := uint64(len(x.slots) - 1)
	var nodes []*node
	var first uint64
	for i := 0; len(nodes) < 6; i++ {
		nd := &node{name: fmt.Sprintf("n%d.", i)}
		h := hashOf(&x, nd.name) & mask
		if len(nodes) == 0 {
			first = h
		}
		if h == first {
			nodes = append(nodes, nd)
			x.add(nd)
		}
	}
	for _, nd := range nodes {
		if x.get(nd.name) != nd {
			t.Errorf("get(%q) lost in a collision chain", nd.name)
		}
	}
	if x.get("absent.") != nil {
		t.Error("found an absent name")
	}
}

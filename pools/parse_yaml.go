package pools

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The helpers below read yaml.v3 nodes the way octoDNS sees the same
// document after PyYAML has loaded it, so that messages quote values as
// Python's str() would.

// yresolve follows aliases.
func yresolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// ykv is one key/value pair of a mapping.
type ykv struct {
	key, val *yaml.Node
}

// ypairs returns a mapping's pairs in file order, merge keys (`<<`)
// flattened as PyYAML does (explicit keys win), and a repeated key kept
// at its first position with its first value, as the zone parser does.
func ypairs(n *yaml.Node) []ykv {
	n = yresolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var own, merged []ykv
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := yresolve(n.Content[i]), yresolve(n.Content[i+1])
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0 && k.Tag != "!!str") {
			switch v.Kind {
			case yaml.MappingNode:
				merged = append(merged, ypairs(v)...)
			case yaml.SequenceNode:
				for _, m := range v.Content {
					merged = append(merged, ypairs(m)...)
				}
			}
			continue
		}
		own = append(own, ykv{k, v})
	}
	seen := make(map[string]bool, len(own)+len(merged))
	out := make([]ykv, 0, len(own)+len(merged))
	for _, kv := range append(own, merged...) {
		if !seen[kv.key.Value] {
			seen[kv.key.Value] = true
			out = append(out, kv)
		}
	}
	return out
}

// ymap indexes a mapping's values by key; nil when n is not a mapping.
func ymap(n *yaml.Node) map[string]*yaml.Node {
	pairs := ypairs(n)
	if pairs == nil {
		return nil
	}
	m := make(map[string]*yaml.Node, len(pairs))
	for _, kv := range pairs {
		m[kv.key.Value] = kv.val
	}
	return m
}

// yitems returns a sequence's elements with aliases resolved.
func yitems(n *yaml.Node) []*yaml.Node {
	n = yresolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = yresolve(c)
	}
	return out
}

func yisMap(n *yaml.Node) bool { n = yresolve(n); return n != nil && n.Kind == yaml.MappingNode }
func yisSeq(n *yaml.Node) bool { n = yresolve(n); return n != nil && n.Kind == yaml.SequenceNode }

func ynull(n *yaml.Node) bool {
	n = yresolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// yisStr reports whether n loads as a Python str.
func yisStr(n *yaml.Node) bool {
	n = yresolve(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// ytruthy is Python truthiness; a missing key (nil) stands for octoDNS's
// `.get(key, [])` default and is false.
func ytruthy(n *yaml.Node) bool {
	n = yresolve(n)
	if n == nil {
		return false
	}
	if n.Kind != yaml.ScalarNode {
		return len(n.Content) > 0
	}
	switch n.ShortTag() {
	case "!!null":
		return false
	case "!!bool":
		var b bool
		return n.Decode(&b) == nil && b
	case "!!int", "!!float":
		var f float64
		return n.Decode(&f) == nil && f != 0
	}
	return n.Value != ""
}

// ypy renders a value as Python's str() does.
func ypy(n *yaml.Node) string {
	n = yresolve(n)
	if n == nil || ynull(n) {
		return "None"
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!bool" {
			var b bool
			if n.Decode(&b) == nil {
				if b {
					return "True"
				}
				return "False"
			}
		}
		return n.Value
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			parts = append(parts, yrepr(c))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case yaml.MappingNode:
		var parts []string
		for _, kv := range ypairs(n) {
			parts = append(parts, yrepr(kv.key)+": "+yrepr(kv.val))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return n.Value
}

// yrepr renders a value as Python's repr() does (strings quoted).
func yrepr(n *yaml.Node) string {
	if yisStr(n) {
		return "'" + strings.ReplaceAll(yresolve(n).Value, "'", `\'`) + "'"
	}
	return ypy(n)
}

// yint reads an integer the way Python's int() does for the values YAML
// gives it: YAML integers and strings of decimal digits. Floats and
// booleans, which int() would truncate or coerce, are refused.
func yint(n *yaml.Node) (int64, bool) {
	n = yresolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int":
		var v int64
		return v, n.Decode(&v) == nil
	case "!!str":
		s := strings.TrimSpace(n.Value)
		if s == "" || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
			return 0, false
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		return v, err == nil
	}
	return 0, false
}

// yfloat reads a YAML number.
func yfloat(n *yaml.Node) (float64, bool) {
	n = yresolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		var f float64
		return f, n.Decode(&f) == nil
	}
	return 0, false
}

// Package octoyaml holds helpers for reading octoDNS YAML the way octoDNS
// reads it after PyYAML (YAML 1.1) has loaded it: merge keys, Python-style
// int and float parsing, IDNA encoding and the fqdn check octoDNS uses.
//
// The helpers work on yaml.v3 nodes, follow aliases, and never panic on a
// nil node: nil stands for a missing key.
package octoyaml

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
	"gopkg.in/yaml.v3"
)

// Resolve follows aliases to the node they name. It returns nil for nil.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// KV is one key/value pair of a mapping, both aliases resolved.
type KV struct {
	Key, Val *yaml.Node
}

// Pairs returns a mapping's pairs in file order, with aliases resolved
// (keys too, as PyYAML does) and merge keys (`<<`) flattened the way
// PyYAML flattens them: explicit keys win over merged ones, and of a list
// of merged mappings the earlier wins. A repeated key is kept once, at
// its first position with its first value: PyYAML would keep the last,
// but a repeat is almost never meant, and the zone parser reports it.
// Pairs returns nil when n is nil or not a mapping, and an empty, non-nil
// slice for an empty mapping.
func Pairs(n *yaml.Node) []KV {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if out, ok := plainPairs(n); ok {
		return out
	}
	var own, merged []KV
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), Resolve(n.Content[i+1])
		if isMergeKey(k) {
			switch v.Kind {
			case yaml.MappingNode:
				merged = append(merged, Pairs(v)...)
			case yaml.SequenceNode:
				for _, m := range v.Content {
					merged = append(merged, Pairs(m)...)
				}
			}
			continue
		}
		own = append(own, KV{k, v})
	}
	seen := make(map[string]bool, len(own)+len(merged))
	out := make([]KV, 0, len(own)+len(merged))
	for _, kv := range append(own, merged...) {
		if !seen[kv.Key.Value] {
			seen[kv.Key.Value] = true
			out = append(out, kv)
		}
	}
	return out
}

// plainPairs is Pairs for the common small mapping, without merge keys
// or repeated keys, in one allocation; false for any other mapping.
func plainPairs(n *yaml.Node) ([]KV, bool) {
	k := len(n.Content) / 2
	if k > 16 {
		return nil, false
	}
	out := make([]KV, k)
	for i := range out {
		key := Resolve(n.Content[2*i])
		if isMergeKey(key) {
			return nil, false
		}
		for _, prev := range out[:i] {
			if prev.Key.Value == key.Value {
				return nil, false
			}
		}
		out[i] = KV{key, Resolve(n.Content[2*i+1])}
	}
	return out, true
}

// isMergeKey reports whether k is YAML 1.1's merge key: a plain `<<` or
// one tagged !!merge (a quoted or !!str-tagged "<<" is an ordinary key).
func isMergeKey(k *yaml.Node) bool {
	return k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0 && k.Tag != "!!str")
}

// Mapping is a mapping's Pairs, looked up by key. Zone files hold
// hundreds of thousands of small mappings, and a scan of a few pairs
// costs less than building a Go map of them.
type Mapping []KV

// Map returns the Pairs of a mapping for lookups by key. It returns nil
// when n is nil or not a mapping (a nil Mapping finds nothing).
func Map(n *yaml.Node) Mapping { return Pairs(n) }

// Get returns the value of key, or nil.
func (m Mapping) Get(key string) *yaml.Node {
	v, _ := m.Lookup(key)
	return v
}

// Lookup returns the value of key and whether the mapping has it.
func (m Mapping) Lookup(key string) (*yaml.Node, bool) {
	for _, kv := range m {
		if kv.Key.Value == key {
			return kv.Val, true
		}
	}
	return nil, false
}

// Items returns a sequence's elements with aliases resolved. It returns
// nil when n is nil or not a sequence.
func Items(n *yaml.Node) []*yaml.Node {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = Resolve(c)
	}
	return out
}

// Null reports whether n loads as Python's None; a nil node (a missing
// key) counts as None too.
func Null(n *yaml.Node) bool {
	n = Resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// IsStr reports whether n loads as a Python str; false for nil.
func IsStr(n *yaml.Node) bool {
	n = Resolve(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

// Truthy is Python truthiness of the loaded value. A nil node stands for
// octoDNS's `.get(key)` default and is false, like None.
func Truthy(n *yaml.Node) bool {
	n = Resolve(n)
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

// Str renders the loaded value as Python's str() does, for quoting values
// in octoDNS's messages: "None" for null or nil, "True"/"False" for
// booleans, Python list and dict syntax for collections.
func Str(n *yaml.Node) string {
	n = Resolve(n)
	if Null(n) {
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
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			parts = append(parts, Repr(c))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case yaml.MappingNode:
		var parts []string
		for _, kv := range Pairs(n) {
			parts = append(parts, Repr(kv.Key)+": "+Repr(kv.Val))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return n.Value
}

// Repr renders the loaded value as Python's repr() does: strings in single
// quotes, anything else as Str. nil renders as "None".
func Repr(n *yaml.Node) string {
	if IsStr(n) {
		return "'" + strings.ReplaceAll(Resolve(n).Value, "'", `\'`) + "'"
	}
	return Str(n)
}

// pyIntRe is the syntax Python's int() accepts for a base-10 string once
// surrounding whitespace is stripped: an optional sign, then digits with
// single underscores between them.
var pyIntRe = regexp.MustCompile(`^[+-]?[0-9]+(_[0-9]+)*$`)

// ParseInt parses s as Python's int(s) does, without stripping whitespace.
// The error wraps strconv.ErrSyntax when s is not an integer and
// strconv.ErrRange when it does not fit an int64; the value is then 0.
func ParseInt(s string) (int64, error) {
	if !pyIntRe.MatchString(s) {
		return 0, &strconv.NumError{Func: "ParseInt", Num: s, Err: strconv.ErrSyntax}
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil {
		return 0, err
	}
	return v, nil
}

// Int reads an integer the way Python's int() does for the values YAML
// gives it: YAML integers, and strings of decimal digits (surrounding
// whitespace and single underscores between digits allowed). Floats and
// booleans, which int() would truncate or coerce, are refused, as are nil,
// null, collections and numbers that do not fit an int64; the value is
// then 0 and ok false.
func Int(n *yaml.Node) (v int64, ok bool) {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int":
		if err := n.Decode(&v); err != nil {
			return 0, false
		}
		return v, true
	case "!!str":
		v, err := ParseInt(strings.TrimSpace(n.Value))
		return v, err == nil
	}
	return 0, false
}

// Float reads a number the way Python's float() does: YAML integers and
// floats (.inf and .nan included), and numeric strings such as "1.5",
// "1e3", "1_000.5", "inf" or "nan", surrounding whitespace allowed. Hex
// strings, which Go would take and Python refuses, are refused; a string
// too large for a float64 reads as ±Inf, as in Python. nil, null, booleans
// and collections give 0 and ok false.
func Float(n *yaml.Node) (v float64, ok bool) {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		if err := n.Decode(&v); err != nil {
			return 0, false
		}
		return v, true
	case "!!str":
		s := strings.TrimSpace(n.Value)
		if strings.ContainsAny(s, "xXpP") {
			return 0, false
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRange(err) {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// IDNA encodes a name the way octoDNS's idna_encode does: an ASCII name
// passes untouched (case kept, not validated), and a leading "*." and a
// trailing "." are kept out of the encoding. On error the name is "".
func IDNA(s string) (string, error) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s, nil
	}
	prefix, suffix := "", ""
	if strings.HasPrefix(s, "*.") {
		prefix, s = "*.", s[2:]
	}
	if strings.HasSuffix(s, ".") {
		suffix, s = ".", s[:len(s)-1]
	}
	a, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", err
	}
	return prefix + a + suffix, nil
}

// ValidFQDN is the check of the `fqdn` Python package octoDNS uses
// (FQDN(name, allow_underscores=True).is_valid): at most 253 characters
// without the trailing dot, at least two labels of 1-63 letters, digits,
// '-' or '_', none starting or ending with '-'. The trailing dot is
// optional here; "" and "." are not valid.
func ValidFQDN(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 || s == "" {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// Target validates a name-valued field as octoDNS's validate_target_fqdn
// does and returns the name IDNA-encoded and lower-cased, with octoDNS's
// reasons for refusing it in its wording; typ and key name the field in
// them ("MX", "exchange"). No reasons means the name is usable. The name is
// "" when n is missing (nil or falsy), not a scalar, or cannot be encoded.
// Relative names are refused: octoDNS wants every target fully qualified.
func Target(n *yaml.Node, typ, key string) (string, []string) {
	n = Resolve(n)
	if !Truthy(n) {
		return "", []string{"missing " + key}
	}
	if n.Kind != yaml.ScalarNode {
		return "", []string{fmt.Sprintf(`%s %s "%s" is not a valid FQDN`, typ, key, Str(n))}
	}
	enc, err := IDNA(n.Value)
	if err != nil {
		return "", []string{err.Error()}
	}
	var reasons []string
	if !ValidFQDN(enc) {
		reasons = append(reasons, fmt.Sprintf(`%s %s "%s" is not a valid FQDN`, typ, key, enc))
	}
	if !strings.HasSuffix(enc, ".") {
		reasons = append(reasons, fmt.Sprintf(`%s %s "%s" missing trailing .`, typ, key, enc))
	}
	return strings.ToLower(enc), reasons
}

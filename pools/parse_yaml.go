package pools

import (
	"github.com/meridiandns/meridian/internal/octoyaml"
	"gopkg.in/yaml.v3"
)

// The parser reads yaml.v3 nodes through internal/octoyaml, which sees
// them the way octoDNS sees the same document after PyYAML has loaded it.

// ymap is octoyaml.Map under the name the tests use: a mapping's values
// by key, nil when n is not a mapping.
func ymap(n *yaml.Node) octoyaml.Mapping { return octoyaml.Map(n) }

func yisMap(n *yaml.Node) bool {
	n = octoyaml.Resolve(n)
	return n != nil && n.Kind == yaml.MappingNode
}
func yisSeq(n *yaml.Node) bool {
	n = octoyaml.Resolve(n)
	return n != nil && n.Kind == yaml.SequenceNode
}

package zones

import (
	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// Record is one name+type entry of a zone file as written by the operator,
// before it is compiled into the lookup tree.
type Record struct {
	Name string // relative to the zone origin, lower case; "" is the apex
	Type string // upper-case type mnemonic, "ALIAS" included
	TTL  uint32
	// TTLSet says the file gave a ttl; a dynamic record without one uses
	// dynamic_ttl instead of the zone default.
	TTLSet bool
	Line   int // line of the record's mapping in the file; 0 for master files

	// RRs are the record's static answers: the top-level values. For a
	// dynamic record they are the fail-open answers. Owner names are
	// fully qualified. Empty for ALIAS.
	RRs []dns.RR

	// Alias is the fully qualified target of an ALIAS record.
	Alias string

	// Dynamic is the raw `dynamic:` mapping, nil when the record is static.
	// The pools package compiles it. Records of a loaded zone no longer
	// hold it (see Policy).
	Dynamic *yaml.Node
	// Octodns is the raw `octodns:` mapping, nil when absent; likewise
	// dropped once the zone is loaded.
	Octodns *yaml.Node
	// Policy is the compiled dynamic record, nil when static.
	Policy *pools.Record
}

package zones

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a zone file or the config, located as
// precisely as the input allows: a line when the parser knows it, else the
// record name and key.
type Problem struct {
	Path   string // file the problem is in
	Line   int    // 1-based line; 0 when unknown
	Record string // record name relative to the zone ("" is the apex); used when Line is 0
	Key    string // the key or record type at fault; used when Line is 0
	Msg    string // what is wrong, in octoDNS's wording where octoDNS has one
	// State is set when nothing is wrong with a zone but the node could
	// not write its own state under the state dir (zone serials, last
	// good copies): the zones are served as loaded.
	State bool
}

// String formats the problem as "path:line: message", or
// "path: record "name" key: message" when there is no line.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.Path, p.Line, p.Msg)
	}
	var b strings.Builder
	b.WriteString(p.Path)
	b.WriteString(":")
	if p.Record != "" || p.Key != "" {
		fmt.Fprintf(&b, " record %q", p.Record)
		if p.Key != "" {
			b.WriteString(" " + p.Key)
		}
		b.WriteString(":")
	}
	b.WriteString(" " + p.Msg)
	return b.String()
}

// Problems is a list of problems; as an error it prints one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by path, then line, then message, so output is stable.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Msg < b.Msg
	})
}

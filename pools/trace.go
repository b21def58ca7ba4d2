package pools

import (
	"fmt"
	"strings"
)

// Trace collects the reasons behind a decision, for `meridian explain`.
// It is filled by the same Select the query path runs.
type Trace struct {
	Lines []string
}

func (t *Trace) add(format string, args ...any) {
	t.Lines = append(t.Lines, fmt.Sprintf(format, args...))
}

func (t *Trace) rule(ru *Rule, ok bool, c *Client) {
	desc := fmt.Sprintf("rule %d (pool %s", ru.Index+1, ru.PoolID)
	if len(ru.Subnets) > 0 {
		desc += fmt.Sprintf("; subnets %v", ru.Subnets)
	}
	if len(ru.Geos) > 0 {
		codes := make([]string, len(ru.Geos))
		for i, g := range ru.Geos {
			codes[i] = g.String()
		}
		desc += "; geos " + strings.Join(codes, " ")
	}
	desc += ")"
	switch {
	case ru.CatchAll():
		t.add("%s: matched: catch-all", desc)
	case ok:
		t.add("%s: matched: %s", desc, matchReason(ru, c))
	default:
		t.add("%s: no match", desc)
	}
}

// matchReason names the subnet or geo that matched c.
func matchReason(ru *Rule, c *Client) string {
	for _, s := range ru.Subnets {
		if s.Contains(c.Addr) {
			return "client in subnet " + s.String()
		}
	}
	for _, g := range ru.Geos {
		if g.Matches(c.Location()) {
			return "client location in " + g.String()
		}
	}
	return "?"
}

func (t *Trace) value(p *Pool, v *Value, ok bool, why string) {
	verdict := "serviceable"
	if !ok {
		verdict = "not serviceable"
	}
	t.add("  pool %s: %s weight %d status %s: %s (%s)", p.ID, v.Value, v.Weight, v.Status, verdict, why)
}

func (t *Trace) chosen(d *Decision, vs []*Value, sticky bool) {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Value
	}
	how := "by weight"
	if sticky {
		how = "by rendezvous hash of the client subnet (sticky)"
	}
	t.add("chosen from pool %s (%s) %s: %s", d.Pool.ID, d.Outcome, how, strings.Join(names, " "))
}

func (t *Trace) failOpen(d *Decision, r *Record, h Health) {
	var names []string
	for _, v := range r.Values {
		if h.Drained(r, nil, v) {
			names = append(names, v.Value+" (drained, left out)")
			continue
		}
		names = append(names, v.Value)
	}
	if d.Outcome == NoRule {
		t.add("no rule matched: the record's values: %s", strings.Join(names, " "))
		return
	}
	t.add("every pool exhausted: fail-open to the record's values: %s", strings.Join(names, " "))
}

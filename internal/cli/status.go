package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/api"
)

// statusArgs is the parsed command line of `meridian status`.
type statusArgs struct {
	apiTarget
	json bool
}

func parseStatus(args []string) (statusArgs, error) {
	var a statusArgs
	flags, pos, err := splitArgs(args, map[string]bool{"api": true, "config": true}, map[string]bool{"json": true})
	if err != nil {
		return a, err
	}
	for _, f := range flags {
		switch f.name {
		case "api":
			a.api = f.val
		case "config":
			a.config = f.val
		case "json":
			a.json = true
		}
	}
	if len(pos) > 0 {
		return a, fmt.Errorf("unexpected argument %q", pos[0])
	}
	return a, nil
}

// status prints the node's view of the mesh from its API: the raw JSON
// with --json, else tables for people.
func status(args []string, stdout, stderr io.Writer) int {
	a, err := parseStatus(args)
	if err != nil {
		return badUsage(stderr, "status", err)
	}
	c, err := a.client(false) // reading needs no token
	if err != nil {
		fmt.Fprintf(stderr, "meridian status: %v\n", err)
		return 1
	}
	base := c.base
	var raw json.RawMessage
	if err := c.do("GET", "/api/v1/status", nil, http.StatusOK, &raw); err != nil {
		fmt.Fprintf(stderr, "meridian status: %v\n", err)
		return 1
	}
	if a.json {
		var b bytes.Buffer
		json.Indent(&b, raw, "", "  ") // raw is valid JSON: do decoded it
		b.WriteByte('\n')
		stdout.Write(b.Bytes())
		return 0
	}
	var st api.StatusReply
	if err := json.Unmarshal(raw, &st); err != nil {
		fmt.Fprintf(stderr, "meridian status: bad reply from the API: %v\n", err)
		return 1
	}
	if err := writeStatus(stdout, base, st); err != nil {
		fmt.Fprintf(stderr, "meridian status: %v\n", err)
		return 1
	}
	return 0
}

// writeStatus prints st as fixed-width tables, one section per concern.
func writeStatus(w io.Writer, base string, st api.StatusReply) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	flush := func() { tw.Flush(); fmt.Fprintln(w) }

	fmt.Fprintf(w, "node:   %s (region %s)\napi:    %s\nclock:  %s\n\n", st.Node, orDash(st.Region), base, stamp(st.Now, st.Now))
	writeServing(w, st)

	members := append([]healthmesh.Member(nil), st.Members...)
	sort.Slice(members, func(i, j int) bool {
		if members[i].Region != members[j].Region {
			return members[i].Region < members[j].Region
		}
		return members[i].Name < members[j].Name
	})
	row("REGION", "NODE", "STATE", "ADDRESS", "ZONE SET")
	prev := "\x00"
	for _, m := range members {
		region := m.Region
		if region == prev {
			region = ""
		}
		prev = m.Region
		name := m.Name
		if m.Name == st.Node {
			name += " (this node)"
		}
		row(orDash(region), name, m.State, orDash(m.Addr), memberZones(m, st.Now))
	}
	flush()
	writeZoneSet(w, tw, st)

	if len(st.Records) > 0 {
		row("RECORD", "TYPE", "POOL", "FALLBACK", "VALUE", "WEIGHT", "VERDICT", "SERVED")
		for _, r := range st.Records {
			name, typ := r.Name, r.Type
			for _, p := range r.Pools {
				pool, fallback := p.ID, orDash(p.Fallback)
				if p.Drained {
					pool += " (drained)"
				}
				for _, v := range p.Values {
					row(name, typ, pool, fallback, v.Value, fmt.Sprint(v.Weight), verdictText(v), servedText(v))
					name, typ, pool, fallback = "", "", "", ""
				}
			}
			pool := "(fail-open)"
			for _, v := range r.Values {
				verdict := "-"
				if v.Drained {
					verdict = "drained"
				}
				row(name, typ, pool, "-", v.Value, "-", verdict, servedText(v))
				name, typ, pool = "", "", ""
			}
		}
		flush()
	}

	if len(st.Endpoints) > 0 {
		row("ENDPOINT", "VERDICT", "SINCE", "VOTES")
		for _, e := range st.Endpoints {
			row(e.Name, upText(e.Up), stamp(e.Since, st.Now), votes(e.Observations))
		}
		flush()
	}

	if len(st.Drains) == 0 {
		fmt.Fprintf(w, "drains: none\n\n")
	} else {
		row("DRAIN", "EXPIRES", "REASON", "SET BY")
		for _, d := range st.Drains {
			until := "when undone"
			if !d.Until.IsZero() {
				until = stamp(d.Until, st.Now)
			}
			row(d.Target, until, orDash(d.Reason), d.By+" "+stamp(d.SetAt, st.Now))
		}
		flush()
	}

	rl := st.Reload
	if !rl.At.IsZero() && rl.Zones == 0 {
		fmt.Fprintln(w, "NO ZONE IS SERVED: every query is answered REFUSED")
	}
	switch {
	case rl.At.IsZero():
		fmt.Fprintln(w, "last reload: none yet")
	case rl.OK:
		fmt.Fprintf(w, "last reload: ok, %s\n", stamp(rl.At, st.Now))
	default:
		fmt.Fprintf(w, "last reload: %d problem(s), %s\n", len(rl.Problems), stamp(rl.At, st.Now))
		for _, p := range rl.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if rl.Directory != "" && rl.Directory != "ok" {
		fmt.Fprintf(w, "zones directory %s: the %d zone(s) loaded keep serving\n", rl.Directory, rl.Zones)
	}
	for _, p := range rl.Pending {
		fmt.Fprintf(w, "  changing while read, retried: %s\n", p)
	}
	return tw.Flush()
}

// writeServing names, first, the records that answer from a fallback pool
// or fail open, and counts the degraded answers since the node started.
func writeServing(w io.Writer, st api.StatusReply) {
	sv := st.Serving
	byName := map[string]api.Record{}
	for _, r := range st.Records {
		byName[r.Name+" "+r.Type] = r
	}
	for _, name := range sv.FailOpen {
		r := byName[name]
		var vals []string
		for _, v := range r.Values {
			if v.Served {
				vals = append(vals, v.Value)
			}
		}
		fmt.Fprintf(w, "FAIL-OPEN: %s answers %s (%s): no pool has a serviceable value, so its own values are served, whatever their health\n",
			name, orDash(strings.Join(vals, " ")), rulesText(r, api.OutcomeFailOpen))
	}
	for _, name := range sv.Fallback {
		r := byName[name]
		var parts []string
		for i, ru := range r.Rules {
			switch ru.Outcome {
			case api.OutcomeFallback:
				parts = append(parts, fmt.Sprintf("rule %d from pool %s instead of %s", i+1, ru.ServedBy, ru.Pool))
			case api.OutcomeNearest:
				parts = append(parts, fmt.Sprintf("rule %d from a farther pool for some clients", i+1))
			}
		}
		fmt.Fprintf(w, "FALLBACK:  %s answers %s\n", name, strings.Join(parts, "; "))
	}
	if d := sv.Decisions; sv.Degraded > 0 || len(sv.FailOpen)+len(sv.Fallback) > 0 {
		fmt.Fprintf(w, "degraded answers since start: %d (fallback %d, nearest %d, fail-open %d) of %d\n",
			sv.Degraded, d["fallback"], d["nearest"], d["failopen"], d["pool"]+d["norule"]+sv.Degraded)
	}
	if sv.Degraded > 0 || len(sv.FailOpen)+len(sv.Fallback) > 0 {
		fmt.Fprintln(w)
	}
}

// rulesText names the rules of r with the outcome: "rule 2", "rules 1, 2".
func rulesText(r api.Record, outcome string) string {
	var n []string
	for i, ru := range r.Rules {
		if ru.Outcome == outcome {
			n = append(n, fmt.Sprint(i+1))
		}
	}
	if len(n) == 1 {
		return "rule " + n[0]
	}
	return "rules " + strings.Join(n, ", ")
}

// servedText says whether answers carry v now: yes; standby when it may be
// used but its pool (or fail-open) is not answering; no.
func servedText(v api.Value) string {
	switch {
	case v.Served:
		return "yes"
	case v.Serviceable:
		return "standby"
	}
	return "no"
}

// memberZones is a member's zone set: its digest and size, and how long
// it has differed from the majority's.
func memberZones(m healthmesh.Member, now time.Time) string {
	z := m.ZoneSet
	if z.Digest == "" {
		if m.MetaError != "" {
			return "unreadable (" + m.MetaError + ")"
		}
		return "unknown"
	}
	s := fmt.Sprintf("%s (%d zone%s)", z.Digest, z.Count, plural(z.Count))
	switch {
	case z.Drifting:
		s += " DRIFTING since " + stamp(z.Since, now)
	case z.Differs:
		s += " differs since " + stamp(z.Since, now)
	}
	return s
}

// writeZoneSet prints how this node's zone set compares with the mesh,
// and its zones with their serials.
func writeZoneSet(w io.Writer, tw *tabwriter.Writer, st api.StatusReply) {
	zs := st.ZoneSet
	var self healthmesh.MemberZones
	for _, m := range st.Members {
		if m.Name == st.Node {
			self = m.ZoneSet
		}
	}
	verdict := "the same as the majority of the live members"
	switch {
	case zs.Digest == "":
		verdict = "no zones loaded yet"
	case self.Drifting:
		verdict = "DRIFTING: differs from the majority's " + zs.Majority + " since " + stamp(self.Since, st.Now)
	case self.Differs:
		verdict = "differs from the majority's " + zs.Majority + " since " + stamp(self.Since, st.Now) +
			" (flagged after " + roughly(zs.Grace) + ")"
	case zs.Majority == "":
		verdict = "no zone set is served by a majority of the live members"
	}
	fmt.Fprintf(w, "zone set: %s (%d zone%s), %s\n", orDash(zs.Digest), zs.Count, plural(zs.Count), verdict)
	if zs.Drifting > 0 {
		fmt.Fprintf(w, "drifting: %d live member%s\n", zs.Drifting, plural(zs.Drifting))
	}
	fmt.Fprintln(w)
	if len(zs.Zones) == 0 {
		return
	}
	fmt.Fprintln(tw, "ZONE\tSERIAL\tHASH")
	for _, z := range zs.Zones {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", z.Origin, z.Serial, z.Hash)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// verdictText is a value's state as answers see it: the health verdict,
// what overrides it, or both.
func verdictText(v api.Value) string {
	s := v.Verdict
	if v.Endpoint == "" {
		s = "not checked"
	}
	if v.Status != "obey" {
		s = "status " + v.Status + ", health " + s
	}
	if v.Drained {
		s = "drained, health " + s
	}
	return s
}

// votes summarises the observers' latest views: "node1 up, node2 down".
func votes(obs []healthmesh.Observation) string {
	if len(obs) == 0 {
		return "none yet"
	}
	parts := make([]string, len(obs))
	for i, o := range obs {
		parts[i] = fmt.Sprintf("%s/%s %s", o.Region, o.Observer, upText(o.Up))
	}
	return strings.Join(parts, ", ")
}

// stamp is t in UTC with its distance from now, the node's clock.
func stamp(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	s := t.UTC().Format(time.RFC3339)
	if now.IsZero() || t.Equal(now) {
		return s
	}
	if d := now.Sub(t); d > 0 {
		return s + " (" + roughly(d) + " ago)"
	}
	return s + " (in " + roughly(t.Sub(now)) + ")"
}

// roughly rounds d to what people read at a glance.
func roughly(d time.Duration) string {
	switch {
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func upText(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

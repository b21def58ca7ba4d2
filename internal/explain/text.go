package explain

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// Text writes r for people, as `meridian explain` prints it.
func (r *Report) Text(w io.Writer) error {
	b := bufio.NewWriter(w)
	line := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	line("query:    %s %s", r.Name, r.Type)
	if r.Client.ECS {
		line("client:   %s (ECS source /%d)", r.Client.Addr, r.Client.Source)
	} else {
		line("client:   %s (packet source)", r.Client.Addr)
	}
	line("location: %s", r.Location.Text)
	if len(r.Down) > 0 {
		line("down:     %s", strings.Join(r.Down, " "))
	}
	if r.Zone != nil {
		line("zone:     %s (%s)", r.Zone.Origin, r.Zone.File)
	}
	if len(r.Endpoints) > 0 {
		line("health (%s):", sourceText(r.Health))
		for _, e := range r.Endpoints {
			line("  %s", e.text())
		}
	}
	for _, l := range r.Trace {
		line("%s", l)
	}
	line("result:   %s", r.Result)
	for _, rr := range r.Answer {
		line("  %s", rr)
	}
	for _, rr := range r.Authority {
		line("  %s", rr)
	}
	switch {
	case r.Dynamic:
		line("outcome:  %s", r.Outcome)
		line("ttl:      %d", r.TTL)
		if r.Client.ECS {
			line("ecs scope: /%d", r.Scope)
		} else {
			line("ecs scope: /%d (if the address came as ECS)", r.Scope)
		}
	case r.Kind == "success" || r.Kind == "nodata":
		line("static answer: ecs scope /0")
	}
	return b.Flush()
}

func sourceText(source string) string {
	switch source {
	case SourceProbe:
		return "one live probe of each endpoint, now"
	case SourceNode:
		return "this node's verdicts and drains, now"
	}
	return source
}

// text is the endpoint's line: the probe's outcome for a live probe, the
// observers' votes for a node's verdict.
func (e Endpoint) text() string {
	state := "down"
	if e.Up {
		state = "up"
	}
	var s string
	var notes []string
	switch {
	case !e.Probed.IsZero():
		// One probe says how the endpoint is now, not since when.
		s = fmt.Sprintf("%s: %s at one probe, %s", e.Name, state, e.Probed.UTC().Format(time.RFC3339))
	case !e.Since.IsZero():
		s = fmt.Sprintf("%s: %s since %s", e.Name, state, e.Since.UTC().Format(time.RFC3339))
	default:
		s = fmt.Sprintf("%s: %s", e.Name, state)
		notes = append(notes, "no verdict yet")
	}
	if e.Reason != "" || e.Latency != 0 {
		notes = append(notes, e.Reason, e.Latency.Round(time.Millisecond).String())
	}
	if len(e.Observations) > 0 {
		votes := make([]string, len(e.Observations))
		for i, o := range e.Observations {
			v := "down"
			if o.Up {
				v = "up"
			}
			votes[i] = fmt.Sprintf("%s/%s %s", o.Region, o.Observer, v)
		}
		notes = append(notes, "votes: "+strings.Join(votes, ", "))
	}
	if e.Drained {
		notes = append(notes, "drained")
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

package healthmesh

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/meridiandns/meridian/internal/octoyaml"
)

// Bounds on drains. Everything a drain carries comes from an operator, a
// peer or a file, so each is bounded, and together they keep the largest
// drain message inside one gossip broadcast (maxMsg).
const (
	// MaxDrainReason is the longest reason, in bytes of UTF-8.
	MaxDrainReason = 200
	// MaxDrainTarget is the longest target, in bytes.
	MaxDrainTarget = 255
	// MaxDrains is how many targets a node holds drains for, undone ones
	// (tombstones) included.
	MaxDrains = 10000
	// DrainRetention is how long an undone drain is kept as a tombstone,
	// and an expired one is kept at all, before it is forgotten. A peer
	// cut off for longer may bring back a drain undone meanwhile.
	DrainRetention = 24 * time.Hour
	// MaxDrainSkew is how far in the future a drain may be stamped: a
	// peer's clock that runs ahead by more (or a file or message claiming
	// year 9999) would otherwise win every later write.
	MaxDrainSkew = time.Minute

	maxDrainBy = 128 // bytes of Drain.By: "api@" and an address, or a node name
)

// Kinds of refused drains, for callers that branch (errors.Is).
var (
	// ErrBadDrain is a drain refused for what it says: its target, its
	// reason, or one target too many.
	ErrBadDrain = errors.New("bad drain")
	// ErrNotDrained is an undo of a target with no drain in force.
	ErrNotDrained = errors.New("not drained")
)

// drainError is a refusal whose message stands alone and whose kind is
// one of the errors above.
type drainError struct {
	msg  string
	kind error
}

func (e *drainError) Error() string { return e.msg }
func (e *drainError) Unwrap() error { return e.kind }

func badDrain(format string, args ...any) error {
	return &drainError{msg: fmt.Sprintf(format, args...), kind: ErrBadDrain}
}

// CanonicalTarget returns the form target is stored, replicated and
// matched in: an address as netip prints it ("2001:DB8:0:0::1" →
// "2001:db8::1"), a name in lower case (and IDNA) without its trailing
// dot, as Drained matches zone values, and a pool as "pool:" and its id
// as written in the zones. Targets that can be none of these are refused.
func CanonicalTarget(target string) (string, error) {
	switch {
	case target == "":
		return "", badDrain("target is required")
	case len(target) > MaxDrainTarget:
		return "", badDrain("target is %d bytes; at most %d are allowed", len(target), MaxDrainTarget)
	case strings.ContainsFunc(target, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' || r == '"' || r == '\\' || r == utf8.RuneError
	}):
		return "", badDrain("target %q contains spaces, control characters, quotes, / or \\", target)
	}
	if len(target) > 5 && strings.EqualFold(target[:5], "pool:") {
		return "pool:" + target[5:], nil
	}
	if strings.EqualFold(target, "pool:") {
		return "", badDrain(`target "pool:" needs a pool id, as in pool:eu`)
	}
	if a, err := netip.ParseAddr(target); err == nil {
		if a.Zone() != "" {
			return "", badDrain("target %q: an address with a zone is never a value", target)
		}
		return a.Unmap().String(), nil
	}
	name := strings.TrimSuffix(target, ".")
	if enc, err := octoyaml.IDNA(name); err == nil {
		name = enc
	}
	name = strings.ToLower(name)
	if name == "" || len(name) > 253 {
		return "", badDrain("target %q is not an address, a name or pool:ID", target)
	}
	for l := range strings.SplitSeq(name, ".") {
		if l == "" || len(l) > 63 {
			return "", badDrain("target %q is not an address, a name or pool:ID (empty label, or one longer than 63 bytes)", target)
		}
	}
	return name, nil
}

// CheckDrainReason refuses a reason longer than MaxDrainReason bytes,
// not UTF-8, or with control characters (it is shown on one line).
func CheckDrainReason(reason string) error {
	switch {
	case len(reason) > MaxDrainReason:
		return badDrain("reason is %d bytes; at most %d are allowed", len(reason), MaxDrainReason)
	case !utf8.ValidString(reason):
		return badDrain("reason is not UTF-8")
	case strings.ContainsFunc(reason, unicode.IsControl):
		return badDrain("reason contains control characters (new lines, tabs)")
	}
	return nil
}

// wellFormed reports why d is not a drain a node could have sent or
// written, nil when it is: a target that CanonicalTarget takes, a reason
// and a writer within their bounds, and times that encode.
func (d *Drain) wellFormed() error {
	if _, err := CanonicalTarget(d.Target); err != nil {
		return err
	}
	switch {
	case len(d.Reason) > MaxDrainReason:
		return badDrain("%s: reason is %d bytes; at most %d are allowed", d.Target, len(d.Reason), MaxDrainReason)
	case len(d.By) > maxDrainBy:
		return badDrain("%s: by is %d bytes; at most %d are allowed", d.Target, len(d.By), maxDrainBy)
	case !encodable(d.SetAt) || !encodable(d.Until):
		return badDrain("%s: a time outside the years 0-9999", d.Target)
	}
	return nil
}

// encodable reports whether t marshals to JSON, which takes years 0-9999
// in t's own location.
func encodable(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y <= 9999
}

// future reports whether d is stamped too far ahead of now.
func (d *Drain) future(now time.Time) bool { return d.SetAt.After(now.Add(MaxDrainSkew)) }

// forgettable reports whether d is an undone or expired drain older than
// DrainRetention at now, which no node keeps.
func (d *Drain) forgettable(now time.Time) bool {
	cutoff := now.Add(-DrainRetention)
	switch {
	case d.Deleted:
		return d.SetAt.Before(cutoff)
	case !d.Until.IsZero():
		return d.Until.Before(cutoff)
	}
	return false
}

// forgetAt is when d becomes forgettable; zero when never.
func (d *Drain) forgetAt() time.Time {
	switch {
	case d.Deleted:
		return d.SetAt.Add(DrainRetention)
	case !d.Until.IsZero():
		return d.Until.Add(DrainRetention)
	}
	return time.Time{}
}

// CloseTargets returns up to n of known that target may have been meant
// as, closest first: those within a small edit distance, and those that
// start with target (ranked as one edit away). known should hold canonical targets.
func CloseTargets(target string, known []string, n int) []string {
	type cand struct {
		s    string
		dist int
	}
	limit := max(2, len(target)/4)
	var cs []cand
	seen := map[string]bool{}
	for _, k := range known {
		if seen[k] || k == target {
			continue
		}
		seen[k] = true
		d := editDistance(target, k, limit)
		if strings.HasPrefix(k, target) && len(target) >= 3 {
			d = min(d, 1) // what was typed is right, only short
		} else if d > limit {
			continue
		}
		cs = append(cs, cand{k, d})
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].dist != cs[j].dist {
			return cs[i].dist < cs[j].dist
		}
		return cs[i].s < cs[j].s
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].s)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b in bytes, or
// anything above limit once it is certain to exceed it.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

package bench

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Equivalence is the result of asking two servers every query.
type Equivalence struct {
	Queries  int             `json:"queries"`
	PerClass [numClasses]int `json:"per_class"`
	// Diffs are the disagreements that are not explained by a known
	// difference between the servers; any makes the benchmark stop.
	Diffs []Diff `json:"diffs"`
	// ScopeDiffs counts ECS answers whose scope prefix differs: both
	// servers send the same answer but to a different set of clients of a
	// cache. Reported, not failed (see README.md).
	ScopeDiffs    int      `json:"scope_diffs"`
	ScopeExamples []string `json:"scope_examples"`
	// WeightedDraws counts the weighted answers checked against the
	// record's set, over repeated queries.
	WeightedDraws int `json:"weighted_draws"`
}

// Diff is one query the servers disagree on.
type Diff struct {
	Query Query
	Why   string
	A, B  string // the two answers, readable
}

func (d Diff) String() string {
	return fmt.Sprintf("%s: %s\n    meridian: %s\n    gdnsd:    %s", d.Query, d.Why, d.A, d.B)
}

// OK reports whether the servers agree on every query.
func (e *Equivalence) OK() bool { return len(e.Diffs) == 0 }

// Print writes a summary and, when they disagree, up to max diffs.
func (e *Equivalence) Print(w io.Writer, max int) {
	var parts []string
	for c := range numClasses {
		parts = append(parts, fmt.Sprintf("%s %d", c, e.PerClass[c]))
	}
	fmt.Fprintf(w, "equivalence: %d distinct queries (%s), %d weighted draws checked against their sets: ",
		e.Queries, strings.Join(parts, ", "), e.WeightedDraws)
	if e.OK() {
		fmt.Fprintln(w, "same answers")
	} else {
		fmt.Fprintf(w, "%d DIFFER\n", len(e.Diffs))
	}
	if e.ScopeDiffs > 0 {
		fmt.Fprintf(w, "  ECS scope differs on %d answers (reported, not a failure), e.g.\n", e.ScopeDiffs)
		for _, s := range e.ScopeExamples {
			fmt.Fprintf(w, "    %s\n", s)
		}
	}
	for i, d := range e.Diffs {
		if i == max {
			fmt.Fprintf(w, "  ... and %d more\n", len(e.Diffs)-max)
			break
		}
		fmt.Fprintf(w, "  %s\n", d)
	}
}

// WeightedRepeats is how often each weighted query is asked again, to see
// several of the servers' random draws.
const WeightedRepeats = 4

// CheckEquivalence sends every query to both servers (a is Meridian, b
// gdnsd) and compares the answers: the rcode, the AA bit, the answer
// section as a set with TTLs ignored, the authority section's types.
// Weighted answers must be one value of the record's set, from both
// servers. Every query must also get what its class promises (NXDOMAIN,
// or NOERROR with an answer), so two servers that fail alike still fail.
func CheckEquivalence(ctx context.Context, qs []Query, a, b string) (*Equivalence, error) {
	e := &Equivalence{Queries: len(qs)}
	for _, q := range qs {
		e.PerClass[q.Class]++
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan Query)
		errc = make(chan error, 1)
	)
	c := &dns.Client{Net: "udp", Timeout: time.Second, UDPSize: UDPSize}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range next {
				diffs, scope, draws, err := compareOne(c, q, a, b)
				if err != nil {
					select {
					case errc <- err:
					default:
					}
					continue
				}
				mu.Lock()
				e.Diffs = append(e.Diffs, diffs...)
				if scope != "" {
					e.ScopeDiffs++
					if len(e.ScopeExamples) < 5 {
						e.ScopeExamples = append(e.ScopeExamples, scope)
					}
				}
				e.WeightedDraws += draws
				mu.Unlock()
			}
		}()
	}
feed:
	for _, q := range qs {
		select {
		case next <- q:
		case <-ctx.Done():
			break feed
		case err := <-errc:
			close(next)
			wg.Wait()
			return nil, err
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(e.Diffs, func(i, j int) bool { return e.Diffs[i].Query.String() < e.Diffs[j].Query.String() })
	return e, nil
}

// exchange asks addr, retrying a lost UDP query twice.
func exchange(c *dns.Client, q Query, addr string) (*dns.Msg, error) {
	var err error
	for range 3 {
		m := q.Msg()
		m.Id = dns.Id()
		var r *dns.Msg
		if r, _, err = c.Exchange(m, addr); err == nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("bench: %s to %s: %w", q, addr, err)
}

func compareOne(c *dns.Client, q Query, a, b string) (diffs []Diff, scope string, draws int, err error) {
	ra, err := exchange(c, q, a)
	if err != nil {
		return nil, "", 0, err
	}
	rb, err := exchange(c, q, b)
	if err != nil {
		return nil, "", 0, err
	}
	diff := func(why string) { diffs = append(diffs, Diff{Query: q, Why: why, A: brief(ra), B: brief(rb)}) }
	if why := classProblem(q, ra); why != "" {
		diff("meridian: " + why)
	}
	if why := classProblem(q, rb); why != "" {
		diff("gdnsd: " + why)
	}
	switch {
	case ra.Rcode != rb.Rcode:
		diff("rcode differs")
	case ra.Authoritative != rb.Authoritative:
		diff("AA differs")
	case !slices.Equal(authorityTypes(ra), authorityTypes(rb)):
		diff("authority section differs")
	case q.Class == ClassWeighted:
		for i := range WeightedRepeats {
			if i > 0 {
				if ra, err = exchange(c, q, a); err != nil {
					return nil, "", 0, err
				}
				if rb, err = exchange(c, q, b); err != nil {
					return nil, "", 0, err
				}
			}
			if why := weightedProblem(q, ra); why != "" {
				diff("meridian: " + why)
			}
			if why := weightedProblem(q, rb); why != "" {
				diff("gdnsd: " + why)
			}
			draws += 2
		}
	case !slices.Equal(answerSet(ra), answerSet(rb)):
		diff("answers differ")
	}
	if q.ECS.IsValid() {
		sa, sb := ecsScope(ra), ecsScope(rb)
		if sa != sb {
			scope = fmt.Sprintf("%s: meridian scope /%d, gdnsd scope /%d", q, sa, sb)
		}
	}
	return diffs, scope, draws, nil
}

// classProblem says how r fails what q's class promises, or "".
func classProblem(q Query, r *dns.Msg) string {
	if q.Class == ClassNX {
		if r.Rcode != dns.RcodeNameError {
			return "expected NXDOMAIN, got " + dns.RcodeToString[r.Rcode]
		}
		return ""
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return fmt.Sprintf("expected NOERROR with an answer, got %s with %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return ""
}

func weightedProblem(q Query, r *dns.Msg) string {
	if len(r.Answer) != 1 {
		return fmt.Sprintf("weighted answer has %d records, want 1", len(r.Answer))
	}
	a, ok := r.Answer[0].(*dns.A)
	if !ok {
		return "weighted answer is not an A record"
	}
	v, _ := netip.AddrFromSlice(a.A.To4())
	if !slices.Contains(q.Allowed, v) {
		return fmt.Sprintf("weighted answer %s is not in the record's set %v", v, q.Allowed)
	}
	return ""
}

// answerSet is the answer section as sorted strings, TTLs zeroed and
// owner names lowercased.
func answerSet(r *dns.Msg) []string {
	out := make([]string, 0, len(r.Answer))
	for _, rr := range r.Answer {
		rr = dns.Copy(rr)
		rr.Header().Ttl = 0
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		out = append(out, rr.String())
	}
	sort.Strings(out)
	return out
}

// authorityTypes compares authority sections by type only: SOA serials
// differ by design (Meridian's is a timestamp).
func authorityTypes(r *dns.Msg) []string {
	out := make([]string, 0, len(r.Ns))
	for _, rr := range r.Ns {
		out = append(out, dns.TypeToString[rr.Header().Rrtype])
	}
	sort.Strings(out)
	return out
}

// ecsScope returns the response's ECS scope prefix, -1 without ECS.
func ecsScope(r *dns.Msg) int {
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if s, ok := opt.(*dns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}

func brief(r *dns.Msg) string {
	s := dns.RcodeToString[r.Rcode]
	if r.Authoritative {
		s += " aa"
	}
	if as := answerSet(r); len(as) > 0 {
		s += " [" + strings.Join(as, "; ") + "]"
	}
	if t := authorityTypes(r); len(t) > 0 {
		s += " ns:" + strings.Join(t, ",")
	}
	if sc := ecsScope(r); sc >= 0 {
		s += fmt.Sprintf(" scope /%d", sc)
	}
	return s
}

package zones

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
)

// compilePolicies compiles the dynamic section of every record that has
// one, attaching the policy to the record. Problems carry the file and
// the record's name and type.
func compilePolicies(path string, records []*Record, o Options) Problems {
	var ps Problems
	for _, r := range records {
		if r.Dynamic == nil {
			continue
		}
		typ, ok := dns.StringToType[r.Type]
		if !ok || (typ != dns.TypeA && typ != dns.TypeAAAA && typ != dns.TypeCNAME) {
			ps = append(ps, Problem{Path: path, Line: r.Line, Record: r.Name, Key: r.Type,
				Msg: fmt.Sprintf("dynamic %s records are not supported; only A, AAAA and CNAME", r.Type)})
			continue
		}
		ttl := o.DynamicTTL
		if r.TTLSet || ttl == 0 {
			ttl = r.TTL
		}
		values := make([]*pools.Value, 0, len(r.RRs))
		for _, rr := range r.RRs {
			v := &pools.Value{Line: r.Line}
			switch x := rr.(type) {
			case *dns.A:
				v.Addr, _ = netip.AddrFromSlice(x.A.To4())
				v.Value = v.Addr.String()
			case *dns.AAAA:
				v.Addr, _ = netip.AddrFromSlice(x.AAAA)
				v.Value = v.Addr.String()
			case *dns.CNAME:
				v.Value = x.Target
			}
			values = append(values, v)
		}
		name := ownerName(r.Name, "")
		if len(r.RRs) > 0 {
			name = r.RRs[0].Header().Name
		}
		policy, probs := pools.Parse(name, typ, ttl, values, r.Dynamic, r.Octodns)
		for _, p := range probs {
			line := p.Line
			if line == 0 {
				line = r.Line
			}
			ps = append(ps, Problem{Path: path, Line: line, Record: r.Name, Key: r.Type, Msg: p.Msg})
		}
		if len(probs) == 0 && policy != nil {
			hd := o.Health
			if hd.Interval == 0 {
				hd = pools.DefaultCheckDefaults()
			}
			// octoDNS's default Host is the record's name; the values of a
			// CNAME are host names themselves and are their own default.
			host := strings.TrimSuffix(name, ".")
			if typ == dns.TypeCNAME {
				host = ""
			}
			chk, cps := pools.ParseCheck(host, r.Octodns, hd)
			for _, p := range cps {
				line := p.Line
				if line == 0 {
					line = r.Line
				}
				ps = append(ps, Problem{Path: path, Line: line, Record: r.Name, Key: r.Type, Msg: p.Msg})
			}
			if len(cps) > 0 {
				continue
			}
			policy.SetCheck(chk)
			deg := o.DegradedTTL
			if deg == 0 {
				deg = ttl
			}
			policy.Prepare(deg)
			r.Policy = policy
		}
	}
	return ps
}

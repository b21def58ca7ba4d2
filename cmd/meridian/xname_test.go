package main

import (
	"strings"
	"testing"
)

// TestXNAMEOnTheWire asks dig and kdig the CNAME and DNAME corners that
// change what a resolver caches (zones/xname_test.go has the full table):
// a CNAME query below a DNAME is answered by the synthesised CNAME with
// NOERROR, whatever becomes of its target, while any other type follows
// the target and takes its rcode (RFC 6604).
func TestXNAMEOnTheWire(t *testing.T) {
	n := testbinStartFull(t)
	for _, name := range []string{"dig", "kdig"} {
		t.Run(name, func(t *testing.T) {
			tool := lookTool(t, name)
			for _, tt := range []struct {
				qname, qtype string
				status       string
				answer       []string // the type of each answer RR, in order
				auth         int
			}{
				{"nothere.old.example.net", "CNAME", "NOERROR", []string{"DNAME", "CNAME"}, 0},
				{"www.old.example.net", "CNAME", "NOERROR", []string{"DNAME", "CNAME"}, 0},
				{"nothere.old.example.net", "A", "NXDOMAIN", []string{"DNAME", "CNAME"}, 1},
				{"www.old.example.net", "A", "NOERROR", []string{"DNAME", "CNAME", "CNAME", "A"}, 0},
				{"web.old.example.net", "AAAA", "NOERROR", []string{"DNAME", "CNAME"}, 1},
				{"old.example.net", "DNAME", "NOERROR", []string{"DNAME"}, 0},
				{"www.example.org", "CNAME", "NOERROR", []string{"CNAME"}, 0},
			} {
				o := runTool(t, tool, n.Addr, "+norec", tt.qname, tt.qtype)
				var types []string
				for _, rr := range o.answer {
					if f := strings.Fields(rr); len(f) > 3 {
						types = append(types, f[3])
					}
				}
				if o.status != tt.status || !o.hasFlag("aa") || strings.Join(types, " ") != strings.Join(tt.answer, " ") || len(o.auth) != tt.auth {
					t.Errorf("%s %s: got %s %v, answer %q, authority %q; want %s aa, answer types %v, %d authority\n%s",
						tt.qname, tt.qtype, o.status, o.flags, o.answer, o.auth, tt.status, tt.answer, tt.auth, o.raw)
				}
			}
		})
	}
}

package main

import (
	"slices"
	"strings"
	"testing"
)

// TestDigAndKdig checks the answers with the two real clients operators
// use. Both tools see the same server; each assertion runs with each tool.
func TestDigAndKdig(t *testing.T) {
	n := startNode(t)
	for _, name := range []string{"dig", "kdig"} {
		t.Run(name, func(t *testing.T) {
			tool := lookTool(t, name)
			run := func(args ...string) toolOutput { return runTool(t, tool, n.Addr, args...) }

			o := run("+norec", "wWw.example.ORG", "A")
			if o.status != "NOERROR" || !o.hasFlag("aa") || o.hasFlag("ra") || o.hasFlag("rd") {
				t.Errorf("A: got status %s flags %v", o.status, o.flags)
			}
			// kdig prints names in lower case; dig prints them as received.
			if name == "kdig" {
				o.question = strings.ToLower(o.question)
				want := "www.example.org."
				if !strings.Contains(o.question, want) {
					t.Errorf("question: got %q; want %q", o.question, want)
				}
			} else if !strings.Contains(o.question, "wWw.example.ORG.") {
				t.Errorf("question: got %q; want the name in the case asked", o.question)
			}
			if want := []string{"www.example.org. 3600 IN CNAME web.example.org.", "web.example.org. 60 IN A 192.0.2.80"}; !slices.Equal(o.answer, want) {
				t.Errorf("answer: got %q; want %q", o.answer, want)
			}

			o = run("+rec", "web.example.org", "A")
			if !o.hasFlag("rd") || o.hasFlag("ra") {
				t.Errorf("RD copied, RA never: got flags %v", o.flags)
			}

			o = run("+norec", "missing.example.org", "A")
			if o.status != "NXDOMAIN" || len(o.auth) != 1 || !strings.Contains(o.auth[0], " 60 IN SOA ") {
				t.Errorf("NXDOMAIN: got status %s authority %q", o.status, o.auth)
			}

			o = run("+norec", "b.example.org", "TXT")
			if o.status != "NOERROR" || len(o.answer) != 0 || len(o.auth) != 1 {
				t.Errorf("empty non-terminal: got status %s answer %q authority %q", o.status, o.answer, o.auth)
			}

			o = run("+norec", "Host.Wild.example.org", "A")
			wantWild := "Host.Wild.example.org. 3600 IN A 192.0.2.77"
			if name == "kdig" {
				wantWild = "host.wild.example.org. 3600 IN A 192.0.2.77"
			}
			if want := []string{wantWild}; !slices.Equal(o.answer, want) {
				t.Errorf("wildcard: got %q; want %q", o.answer, want)
			}

			o = run("+norec", "www.example.com", "A")
			if o.status != "REFUSED" || o.hasFlag("aa") {
				t.Errorf("outside zones: got status %s flags %v", o.status, o.flags)
			}

			o = run("+norec", "+nsid", "web.example.org", "A")
			if o.nsid != "test-1" {
				t.Errorf("NSID: got %q; want test-1\n%s", o.nsid, o.raw)
			}

			o = run("+norec", "-c", "CH", "-t", "TXT", "version.bind")
			if want := []string{`version.bind. 0 CH TXT "meridian test"`}; !slices.Equal(o.answer, want) {
				t.Errorf("version.bind: got %q; want %q", o.answer, want)
			}

			o = run("+norec", "+edns=1", "+noednsneg", "web.example.org", "A")
			if o.status != "BADVERS" {
				t.Errorf("EDNS version 1: got status %s; want BADVERS\n%s", o.status, o.raw)
			}

			o = run("+norec", "+noedns", "+ignore", "big.example.org", "TXT")
			if !o.hasFlag("tc") || len(o.answer) != 0 {
				t.Errorf("UDP 512: got flags %v, %d answers; want tc and none", o.flags, len(o.answer))
			}
			o = run("+norec", "+tcp", "big.example.org", "TXT")
			if o.hasFlag("tc") || len(o.answer) != 6 {
				t.Errorf("TCP: got flags %v, %d answers; want 6", o.flags, len(o.answer))
			}

			o = run("+norec", "example.org", "ANY")
			if len(o.answer) != 1 {
				t.Errorf("ANY: got %q; want one RRset", o.answer)
			}
		})
	}
}

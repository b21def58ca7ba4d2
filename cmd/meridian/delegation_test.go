package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/daemon"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

const delegationDoc = "../../docs/delegation.md"

// docBlocks returns the fenced blocks of a Markdown file that follow a
// "<!-- test: NAME -->" line, by name, in order.
func docBlocks(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := regexp.MustCompile(`^<!-- test: ([a-z0-9-]+) -->$`)
	out := map[string][]string{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		m := marker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("%s:%d: marker %q not followed by a fenced block", path, i+1, m[1])
		}
		var body []string
		j := i + 2
		for ; j < len(lines) && !strings.HasPrefix(lines[j], "```"); j++ {
			body = append(body, lines[j])
		}
		if j == len(lines) {
			t.Fatalf("%s:%d: unterminated block %q", path, i+2, m[1])
		}
		out[m[1]] = append(out[m[1]], strings.Join(body, "\n")+"\n")
		i = j
	}
	return out
}

// oneBlock is the single block called name.
func oneBlock(t *testing.T, blocks map[string][]string, name string) string {
	t.Helper()
	if len(blocks[name]) != 1 {
		t.Fatalf("%s: got %d blocks marked %q; want 1", delegationDoc, len(blocks[name]), name)
	}
	return blocks[name][0]
}

// parseZoneText parses an RFC 1035 zone file.
func parseZoneText(t *testing.T, origin, text string) []dns.RR {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("parent zone from %s: %v", delegationDoc, err)
	}
	return rrs
}

// delegationRRs are the records of rrs at or below cut: its NS records and
// their glue, as sorted "name ttl type value" strings.
func delegationRRs(rrs []dns.RR, cut string) []string {
	var out []string
	for _, rr := range rrs {
		h := rr.Header()
		if !dns.IsSubDomain(cut, h.Name) {
			continue
		}
		switch v := rr.(type) {
		case *dns.NS:
			if h.Name == cut {
				out = append(out, fmt.Sprintf("%s %d NS %s", h.Name, h.Ttl, v.Ns))
			}
		case *dns.A:
			out = append(out, fmt.Sprintf("%s %d A %s", h.Name, h.Ttl, v.A))
		case *dns.AAAA:
			out = append(out, fmt.Sprintf("%s %d AAAA %s", h.Name, h.Ttl, v.AAAA))
		}
	}
	slices.Sort(out)
	return out
}

// route53RRs reads a change-resource-record-sets batch as "name ttl type
// value" strings.
func route53RRs(t *testing.T, text string) []string {
	t.Helper()
	var batch struct {
		Comment string
		Changes []struct {
			Action            string
			ResourceRecordSet struct {
				Name            string
				Type            string
				TTL             uint32
				ResourceRecords []struct{ Value string }
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&batch); err != nil {
		t.Fatalf("Route 53 change batch in %s: %v", delegationDoc, err)
	}
	var out []string
	for _, c := range batch.Changes {
		if c.Action != "UPSERT" && c.Action != "CREATE" {
			t.Errorf("Route 53 change action %q; want UPSERT or CREATE", c.Action)
		}
		s := c.ResourceRecordSet
		for _, r := range s.ResourceRecords {
			v := r.Value
			if ip := net.ParseIP(v); ip != nil {
				v = ip.String()
			}
			out = append(out, fmt.Sprintf("%s %d %s %s", s.Name, s.TTL, s.Type, v))
		}
	}
	slices.Sort(out)
	return out
}

// childRRs loads the doc's child zone with the doc's node config, as
// `meridian serve` would, and returns its apex NS records and the
// addresses of the name servers they name.
func childRRs(t *testing.T, blocks map[string][]string) (rrs []string, nodeCfg string) {
	t.Helper()
	dir := t.TempDir()
	nodeCfg = oneBlock(t, blocks, "node-config")
	testbin.WriteFile(t, filepath.Join(dir, "zones", "gslb.example.com.yaml"), oneBlock(t, blocks, "child-zone"))
	c, err := config.Parse(filepath.Join(dir, "meridian.yaml"), []byte(nodeCfg))
	if err != nil {
		t.Fatalf("node config from %s: %v", delegationDoc, err)
	}
	set, ps := zones.Load(daemon.ZoneOptions(c))
	if len(ps) > 0 {
		t.Fatalf("child zone from %s: %v", delegationDoc, ps)
	}
	var all []dns.RR
	ns := set.LookupFor("gslb.example.com.", dns.TypeNS, zones.Query{})
	all = append(all, ns.Answer...)
	for _, rr := range ns.Answer {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			all = append(all, set.LookupFor(rr.(*dns.NS).Ns, qt, zones.Query{}).Answer...)
		}
	}
	return delegationRRs(all, "gslb.example.com."), nodeCfg
}

// TestDelegationDocRecords checks that the three places the doc states the
// delegation agree: the BIND parent zone (NS and glue), the Route 53 change
// batch and the child zone Meridian serves (apex NS and the servers'
// addresses). It also runs named-checkzone on the parent zone.
func TestDelegationDocRecords(t *testing.T) {
	blocks := docBlocks(t, delegationDoc)
	parent := oneBlock(t, blocks, "parent-zone")
	bind := delegationRRs(parseZoneText(t, "example.com.", parent), "gslb.example.com.")
	if len(bind) != 9 {
		t.Errorf("BIND delegation: got %d records %q; want 3 NS and 6 glue", len(bind), bind)
	}
	if r53 := route53RRs(t, oneBlock(t, blocks, "route53")); !slices.Equal(r53, bind) {
		t.Errorf("Route 53 batch and BIND zone differ:\nroute53: %q\nbind:    %q", r53, bind)
	}
	child, _ := childRRs(t, blocks)
	if !slices.Equal(child, bind) {
		t.Errorf("child zone apex NS and addresses differ from the parent's delegation:\nchild:  %q\nparent: %q", child, bind)
	}

	t.Run("named-checkzone", func(t *testing.T) {
		tool, err := exec.LookPath("named-checkzone")
		if err != nil {
			if os.Getenv("MERIDIAN_REQUIRE_TOOLS") != "" {
				t.Fatal("named-checkzone not installed but MERIDIAN_REQUIRE_TOOLS is set")
			}
			t.Skip("named-checkzone not installed (apt-get install bind9-utils); skipping")
		}
		f := filepath.Join(t.TempDir(), "db.example.com")
		testbin.WriteFile(t, f, parent)
		// -i local: check the glue in the file, but do not look the
		// servers up through DNS, where they do not exist here.
		out, err := exec.Command(tool, "-i", "local", "example.com", f).CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], "zone example.com/IN: loaded serial ") || lines[1] != "OK" {
			t.Errorf("named-checkzone -i local: %v\n%s\nwant only the loaded serial and OK", err, out)
		}
	})
}

// TestDelegationDoc serves the doc's delegation for real and runs its
// checks: inside a private network namespace (so the doc's addresses and
// port 53 can be used as written) one meridian serves the BIND parent zone
// on the parent's addresses and three serve the child zone on the glue
// addresses; unbound, told only where example.com is, must resolve
// www.example.com through the parent's CNAME and the referral into
// gslb.example.com; and every dig and meridian command of the doc's
// verification section must print the lines the doc shows.
func TestDelegationDoc(t *testing.T) {
	if !inPrivateNetwork(t, "TestDelegationDoc", "MERIDIAN_IN_DELEGATION_NETNS") {
		return
	}
	require := os.Getenv("MERIDIAN_REQUIRE_TOOLS") != ""
	lookTool(t, "dig")
	blocks := docBlocks(t, delegationDoc)
	parentZone := oneBlock(t, blocks, "parent-zone")
	prrs := parseZoneText(t, "example.com.", parentZone)
	_, nodeCfg := childRRs(t, blocks)

	// The parent's own servers and the glue, by name.
	addrs := map[string][]string{}
	for _, rr := range prrs {
		switch v := rr.(type) {
		case *dns.A:
			addrs[v.Hdr.Name] = append(addrs[v.Hdr.Name], v.A.String())
		case *dns.AAAA:
			addrs[v.Hdr.Name] = append(addrs[v.Hdr.Name], v.AAAA.String())
		}
	}
	var parentListen []string
	for _, rr := range prrs {
		if ns, ok := rr.(*dns.NS); ok && ns.Hdr.Name == "example.com." {
			for _, a := range addrs[ns.Ns] {
				parentListen = append(parentListen, net.JoinHostPort(a, "53"))
			}
		}
	}
	for _, as := range addrs {
		for _, a := range as {
			addLoopback(t, a)
		}
	}

	listen, _ := json.Marshal(parentListen)
	parent := testbin.Start(t, testbin.Config(fmt.Sprintf("node: {name: parent, region: parent}\ndns: {listen: %s}\n", listen)),
		map[string]string{"zones/example.com.zone": parentZone})
	nodes := map[string]*testbin.Node{}
	for _, ns := range []string{"ns1", "ns2", "ns3"} {
		cfg := nodeCfg
		// ns2 and ns3 differ from ns1 in name and addresses only.
		for i, a := range addrs["ns1.gslb.example.com."] {
			cfg = strings.ReplaceAll(cfg, a, addrs[ns+".gslb.example.com."][i])
		}
		cfg = strings.ReplaceAll(cfg, "ns1", ns)
		nodes[ns] = testbin.Start(t, testbin.Config(cfg), map[string]string{
			"zones/gslb.example.com.yaml": oneBlock(t, blocks, "child-zone")})
	}

	t.Run("checks", func(t *testing.T) {
		for _, block := range blocks["checks"] {
			runDocChecks(t, block, map[string]string{"/etc/meridian/meridian.yaml": nodes["ns1"].Config})
		}
		if len(blocks["checks"]) < 3 {
			t.Errorf("got %d check blocks; want the referral, aa, ECS and explain checks", len(blocks["checks"]))
		}
	})

	t.Run("through unbound", func(t *testing.T) {
		u := testbin.StartUnbound(t, map[string]string{"example.com.": parentListen[0]}, require)
		c := &dns.Client{Timeout: 5 * time.Second}
		m := q("www.example.com.", dns.TypeA)
		m.RecursionDesired = true
		r, _, err := c.Exchange(m, u.Addr)
		if err != nil {
			t.Fatalf("query unbound: %v\n%s", err, u.Logs())
		}
		var cname, a string
		for _, rr := range r.Answer {
			switch v := rr.(type) {
			case *dns.CNAME:
				cname = v.Target
			case *dns.A:
				a = v.A.String()
			}
		}
		// The resolver reaches whichever node it picks from its own
		// address there, a catch-all client, or one in the eu subnet.
		if r.Rcode != dns.RcodeSuccess || cname != "app.gslb.example.com." || (a != "192.0.2.10" && a != "198.51.100.10") {
			t.Errorf("www.example.com through unbound: got %s CNAME %q A %q; want the CNAME into gslb and an app address\n%v\nunbound:\n%s\nparent:\n%s",
				dns.RcodeToString[r.Rcode], cname, a, r, u.Logs(), parent.Logs())
		}
	})

	t.Run("SOA on every node", func(t *testing.T) {
		var first *dns.SOA
		for _, ns := range []string{"ns1", "ns2", "ns3"} {
			r := exchange(t, nodes[ns].Addr, "udp", q("gslb.example.com.", dns.TypeSOA))
			if len(r.Answer) != 1 || !r.Authoritative {
				t.Fatalf("%s SOA: got %v; want one authoritative SOA", ns, r)
			}
			soa := r.Answer[0].(*dns.SOA)
			t.Logf("%s: %s", ns, soa)
			if first == nil {
				first = soa
				continue
			}
			a, b := *soa, *first
			a.Serial, b.Serial = 0, 0
			if a.String() != b.String() {
				t.Errorf("%s SOA %s; want %s apart from the serial", ns, soa, first)
			}
			// Serials of a YAML zone are the load time on each node.
			if d := int64(soa.Serial) - int64(first.Serial); d < -30 || d > 30 {
				t.Errorf("%s serial %d; want within 30 s of %d", ns, soa.Serial, first.Serial)
			}
		}
	})
}

// runDocChecks runs each "$ command" line of a console block with sh and
// checks that every line the doc prints under it appears in its output
// (whitespace aside). "meridian" is the built binary; paths in rewrite are
// replaced first.
func runDocChecks(t *testing.T, block string, rewrite map[string]string) {
	t.Helper()
	bin := testbin.Build(t)
	type check struct {
		cmd  string
		want []string
	}
	var checks []check
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			checks = append(checks, check{cmd: cmd})
			continue
		}
		if len(checks) == 0 {
			t.Fatalf("check block starts with %q; want a $ command", line)
		}
		checks[len(checks)-1].want = append(checks[len(checks)-1].want, strings.Join(strings.Fields(line), " "))
	}
	for _, c := range checks {
		t.Run(c.cmd, func(t *testing.T) {
			cmd := c.cmd
			for from, to := range rewrite {
				cmd = strings.ReplaceAll(cmd, from, to)
			}
			sh := exec.Command("sh", "-c", cmd)
			sh.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
			out, err := sh.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", c.cmd, err, out)
			}
			got := map[string]bool{}
			for _, l := range strings.Split(string(out), "\n") {
				got[strings.Join(strings.Fields(l), " ")] = true
			}
			for _, w := range c.want {
				if !got[w] {
					t.Errorf("%s: output lacks the documented line\n  %s\ngot:\n%s", c.cmd, w, out)
				}
			}
		})
	}
}

// addLoopback gives the private network namespace's loopback an address.
func addLoopback(t *testing.T, addr string) {
	t.Helper()
	args := []string{"addr", "add", addr + "/32", "dev", "lo"}
	if strings.Contains(addr, ":") {
		args = []string{"-6", "addr", "add", addr + "/128", "dev", "lo", "nodad"}
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v\n%s", args, err, out)
	}
}

// inPrivateNetwork reports whether the test runs inside a private network
// namespace of its own. When it does not, it re-runs test there (as root
// with unshare --net, else in a new user namespace) and reports false; the
// caller returns. It skips where neither is permitted.
func inPrivateNetwork(t *testing.T, test, env string) bool {
	t.Helper()
	if os.Getenv(env) != "" {
		return true
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed; skipping", tool)
		}
	}
	flags := []string{"--net"}
	if os.Geteuid() != 0 {
		flags = []string{"--user", "--map-root-user", "--net"}
	}
	if out, err := exec.Command("unshare", append(flags, "true")...).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here (%v: %s); skipping", err, out)
	}
	args := append(flags, "--", "sh", "-c",
		`ip link set lo up && exec "$0" -test.run "^$1\$" -test.v -test.count=1`, os.Args[0], test)
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), env+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a private network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("run in a private network namespace: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP: "+test) {
		t.Skip("skipped inside the network namespace")
	}
	return false
}

package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// toolOutput is what dig or kdig printed, split into what the tests check.
type toolOutput struct {
	raw      string
	status   string   // NOERROR, NXDOMAIN, ...
	flags    []string // qr, aa, tc, rd, ra
	question string   // the question line, as printed
	answer   []string // answer section lines, whitespace-normalised
	auth     []string
	nsid     string
}

var (
	statusRE = regexp.MustCompile(`status: ([A-Z]+)`)
	flagsRE  = regexp.MustCompile(`(?i);; flags: ([a-z ]*);`)
	nsidRE   = regexp.MustCompile(`NSID: [^"]*"([^"]*)"`)
)

// lookTool finds dig or kdig. When MERIDIAN_REQUIRE_TOOLS is set (CI) a
// missing tool fails the test; otherwise it is skipped with a message.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MERIDIAN_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed but MERIDIAN_REQUIRE_TOOLS is set", name)
		}
		t.Skipf("%s not installed (apt-get install bind9-dnsutils knot-dnsutils); skipping", name)
	}
	return p
}

// runTool runs dig or kdig against addr ("host:port") with args.
func runTool(t *testing.T, tool, addr string, args ...string) toolOutput {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	base := []string{"@" + host, "-p", port, "+time=2", "+tries=1"}
	if strings.HasSuffix(tool, "kdig") {
		base = []string{"@" + host, "-p", port, "+timeout=2", "+retry=0"}
		args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "+noednsneg" })
	}
	out, err := exec.Command(tool, append(base, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return parseTool(string(out))
}

func parseTool(s string) toolOutput {
	o := toolOutput{raw: s}
	if m := statusRE.FindStringSubmatch(s); m != nil {
		o.status = m[1]
	}
	if m := flagsRE.FindStringSubmatch(s); m != nil {
		o.flags = strings.Fields(strings.ToLower(m[1]))
	}
	if m := nsidRE.FindStringSubmatch(s); m != nil {
		o.nsid = m[1]
	}
	section := ""
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, ";; ") && strings.HasSuffix(line, "SECTION:") {
			section = line
			continue
		}
		if strings.Contains(section, "QUESTION") && strings.HasPrefix(line, ";") {
			o.question = strings.Join(strings.Fields(strings.TrimLeft(line, "; ")), " ")
			continue
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, ";;") {
			section = ""
			continue
		}
		norm := strings.Join(strings.Fields(line), " ")
		switch {
		case strings.Contains(section, "ANSWER"):
			o.answer = append(o.answer, norm)
		case strings.Contains(section, "AUTHORITY"):
			o.auth = append(o.auth, norm)
		}
	}
	return o
}

func (o toolOutput) hasFlag(f string) bool {
	for _, x := range o.flags {
		if x == f {
			return true
		}
	}
	return false
}

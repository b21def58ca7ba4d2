package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
	"gopkg.in/yaml.v3"
)

// readmeDemo is what each command of the README's "Try the demo" section
// promises in its comment, and the check that the output keeps the
// promise. A command in the README that is not here, or one here that the
// README lost, fails TestReadmeDemo: a new demo line needs a check.
var readmeDemo = []struct {
	cmd, says string
	check     func(o toolOutput) string // "" when the output keeps the promise
}{
	{"dig @127.0.0.1 -p 5353 +norec www.example.com A", "CNAME, followed in-zone",
		nil}, // the README shows the answer: it must be the answer
	{"dig @127.0.0.1 -p 5353 +norec example.com MX", "A/AAAA of in-zone exchangers in additional",
		func(o toolOutput) string {
			return want(o, "NOERROR", []string{"example.com. 3600 IN MX 10 mail.example.com.", "example.com. 3600 IN MX 20 mail2.example.net."},
				nil, []string{"mail.example.com. 3600 IN A 192.0.2.25", "mail.example.com. 3600 IN AAAA 2001:db8::25"})
		}},
	{"dig @127.0.0.1 -p 5353 +norec anything.apps.example.com A", "wildcard",
		func(o toolOutput) string {
			return want(o, "NOERROR", []string{"anything.apps.example.com. 3600 IN A 192.0.2.90"}, nil, nil)
		}},
	{"dig @127.0.0.1 -p 5353 +norec nope.example.com A", "NXDOMAIN with the SOA (TTL 60)",
		func(o toolOutput) string {
			if len(o.auth) != 1 || !strings.HasPrefix(o.auth[0], "example.com. 60 IN SOA ") {
				return fmt.Sprintf("authority %q; want the SOA with TTL 60", o.auth)
			}
			return want(o, "NXDOMAIN", nil, o.auth, nil)
		}},
	{"dig @127.0.0.1 -p 5353 +norec host.lab.example.com A", "referral: no AA, NS + glue",
		func(o toolOutput) string {
			if o.hasFlag("aa") {
				return fmt.Sprintf("flags %v; want no aa", o.flags)
			}
			return want(o, "NOERROR", nil,
				[]string{"lab.example.com. 3600 IN NS ns1.lab.example.com.", "lab.example.com. 3600 IN NS ns2.lab.example.com."},
				[]string{"ns1.lab.example.com. 3600 IN A 192.0.2.201", "ns2.lab.example.com. 3600 IN A 192.0.2.202"})
		}},
	{"dig @127.0.0.1 -p 5353 +norec www.old.example.net A", "DNAME with a synthesised CNAME",
		func(o toolOutput) string {
			return want(o, "NOERROR", []string{
				"old.example.net. 3600 IN DNAME example.com.",
				"www.old.example.net. 3600 IN CNAME www.example.com.",
				"www.example.com. 3600 IN CNAME web.example.com.",
				"web.example.com. 60 IN A 192.0.2.80",
				"web.example.com. 60 IN A 192.0.2.81"}, nil, nil)
		}},
	{"dig @127.0.0.1 -p 5353 +norec www.example.org A", "not our zone: REFUSED",
		func(o toolOutput) string { return want(o, "REFUSED", nil, nil, nil) }},
	{"dig @127.0.0.1 -p 5353 -c CH -t TXT version.bind", `configured: "meridian demo"`,
		func(o toolOutput) string {
			return want(o, "NOERROR", []string{`version.bind. 0 CH TXT "meridian demo"`}, nil, nil)
		}},
	{"dig @127.0.0.1 -p 5353 +nsid example.com SOA", `NSID: "demo-1"`,
		func(o toolOutput) string {
			if o.nsid != "demo-1" {
				return fmt.Sprintf("NSID %q; want demo-1", o.nsid)
			}
			return ""
		}},
	{"kdig @127.0.0.1 -p 5353 +tcp example.com TXT", "TCP works the same",
		func(o toolOutput) string {
			if !strings.Contains(o.raw, "(TCP)") {
				return "kdig does not say it used TCP"
			}
			return want(o, "NOERROR", []string{`example.com. 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
				`example.com. 3600 IN TXT "key=value; with an escaped semicolon"`}, nil, nil)
		}},
	{"dig @127.0.0.1 -p 5353 +norec +subnet=198.51.100.0/24 app.example.com", "eu pool; CLIENT-SUBNET .../24/24",
		func(o toolOutput) string {
			if !strings.Contains(o.raw, "CLIENT-SUBNET: 198.51.100.0/24/24") {
				return "no CLIENT-SUBNET 198.51.100.0/24/24"
			}
			return oneOf(o, "app.example.com. 30 IN A ", "198.51.100.100", "198.51.100.101")
		}},
	{"dig @127.0.0.1 -p 5353 +norec +subnet=203.0.113.0/24 app.example.com", "ap pool",
		func(o toolOutput) string { return oneOf(o, "app.example.com. 30 IN A ", "203.0.113.100") }},
	{"dig @127.0.0.1 -p 5353 +norec app.example.com", "127.0.0.1: unknown, catch-all us",
		func(o toolOutput) string { return oneOf(o, "app.example.com. 30 IN A ", "192.0.2.100", "192.0.2.101") }},
	{"dig @127.0.0.1 -p 5353 +norec +subnet=100.64.3.0/24 near.example.com", "Sydney: nearest pool, Tokyo",
		func(o toolOutput) string { return oneOf(o, "near.example.com. 30 IN A ", "203.0.113.110") }},
	{"dig @127.0.0.1 -p 5353 +norec +subnet=198.51.100.0/24 cdn.example.com", "dynamic CNAME to an eu target, followed in-zone; sticky per /24",
		func(o toolOutput) string {
			eu1 := []string{"cdn.example.com. 30 IN CNAME cdn-eu1.example.net.", "cdn-eu1.example.net. 300 IN A 198.51.100.120"}
			eu2 := []string{"cdn.example.com. 30 IN CNAME cdn-eu2.example.net.", "cdn-eu2.example.net. 300 IN A 198.51.100.121"}
			if !slices.Equal(o.answer, eu1) && !slices.Equal(o.answer, eu2) {
				return fmt.Sprintf("answer %q; want %q or %q", o.answer, eu1, eu2)
			}
			return want(o, "NOERROR", o.answer, nil, nil)
		}},
	{"./bin/meridian explain --config examples/meridian.yaml app.example.com A --client 203.0.113.0/24 --down pool:ap", "why, and what if ap is down",
		func(o toolOutput) string {
			for _, s := range []string{"rule 1 (pool ap; geos AS): matched", "pool ap: no serviceable value",
				"chosen from pool us (fallback)", "outcome:  fallback", "ttl:      10"} {
				if !strings.Contains(o.raw, s) {
					return fmt.Sprintf("no %q in the explanation", s)
				}
			}
			return ""
		}},
}

// want compares the status and the answer, authority and additional
// sections (nil: not checked) of dig or kdig output.
func want(o toolOutput, status string, answer, auth, additional []string) string {
	if o.status != status {
		return fmt.Sprintf("status %s; want %s", o.status, status)
	}
	if answer != nil && !slices.Equal(o.answer, answer) {
		return fmt.Sprintf("answer %q; want %q", o.answer, answer)
	}
	if auth != nil && !slices.Equal(o.auth, auth) {
		return fmt.Sprintf("authority %q; want %q", o.auth, auth)
	}
	if got := section(o.raw, "ADDITIONAL"); additional != nil && !slices.Equal(got, additional) {
		return fmt.Sprintf("additional %q; want %q", got, additional)
	}
	return ""
}

// oneOf checks for a NOERROR answer of one record, prefix followed by one
// of values.
func oneOf(o toolOutput, prefix string, values ...string) string {
	for _, v := range values {
		if slices.Equal(o.answer, []string{prefix + v}) {
			return want(o, "NOERROR", o.answer, nil, nil)
		}
	}
	return fmt.Sprintf("answer %q; want one record %q followed by one of %q", o.answer, prefix, values)
}

// section returns the records of a section of dig or kdig output,
// whitespace-normalised.
func section(raw, name string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(raw, "\n") {
		switch {
		case strings.HasPrefix(line, ";; ") && strings.HasSuffix(line, "SECTION:"):
			in = strings.Contains(line, name)
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, ";"):
			if !strings.HasPrefix(line, ";") {
				in = false
			}
		case in:
			out = append(out, strings.Join(strings.Fields(line), " "))
		}
	}
	return out
}

// demoCommand is one `$ ` command of a console block, continuation lines
// joined, with its comment and the output lines shown under it.
type demoCommand struct {
	cmd, says string
	output    []string
}

var demoCommentRE = regexp.MustCompile(`^(.*?)\s+#\s+(.*)$`)

// readmeSection returns the console blocks' commands of the README section
// headed title.
func readmeSection(t *testing.T, readme, title string) []demoCommand {
	t.Helper()
	_, text, ok := strings.Cut(readme, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README.md: no section %q", title)
	}
	text, _, _ = strings.Cut(text, "\n## ")
	var cmds []demoCommand
	inBlock := false
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case strings.HasPrefix(line, "```console"):
			inBlock = true
		case strings.HasPrefix(line, "```"):
			inBlock = false
		case !inBlock:
		case strings.HasPrefix(line, "$ "):
			full := strings.TrimPrefix(line, "$ ")
			for strings.HasSuffix(full, `\`) && i+1 < len(lines) {
				i++
				full = strings.TrimSuffix(full, `\`) + " " + lines[i]
			}
			c := demoCommand{cmd: full}
			if m := demoCommentRE.FindStringSubmatch(full); m != nil {
				c.cmd, c.says = m[1], m[2]
			}
			c.cmd = strings.Join(strings.Fields(c.cmd), " ")
			cmds = append(cmds, c)
		case strings.TrimSpace(line) != "" && len(cmds) > 0:
			cmds[len(cmds)-1].output = append(cmds[len(cmds)-1].output, strings.Join(strings.Fields(line), " "))
		}
	}
	return cmds
}

// makeRunConfig returns the config `make run` serves, from the Makefile's
// run recipe, relative to the repository root.
func makeRunConfig(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^run:.*\n(?:\t.*\n)*?\t.* serve --config (\S+)`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatal("Makefile: no run target that serves --config FILE")
	}
	return m[1]
}

// TestReadmeDemo starts the config `make run` serves and runs every
// command of the README's "Try the demo" section against it, as written
// but for the DNS port (the test's own, so it runs next to `make run`): each
// must answer as its comment says, and a command shown with its output
// must print that answer.
func TestReadmeDemo(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeSection(t, string(readme), "Try the demo")
	checks := map[string]int{}
	for i, d := range readmeDemo {
		checks[d.cmd] = i
	}
	ran := map[string]bool{}
	for _, c := range cmds {
		i, ok := checks[c.cmd]
		if !ok {
			t.Errorf("README demo command %q has no check in readmeDemo: add one", c.cmd)
			continue
		}
		if c.says != readmeDemo[i].says {
			t.Errorf("README demo command %q says %q; readmeDemo checks %q: make them agree", c.cmd, c.says, readmeDemo[i].says)
		}
		ran[c.cmd] = true
	}
	for _, d := range readmeDemo {
		if !ran[d.cmd] {
			t.Errorf("readmeDemo checks %q, which the README no longer shows", d.cmd)
		}
	}

	// make run's config, as is but for the addresses and with its paths
	// made absolute.
	cfgPath := filepath.Join(root, makeRunConfig(t, root))
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	sub := func(key string) map[string]any {
		m, ok := c[key].(map[string]any)
		if !ok {
			m = map[string]any{}
			c[key] = m
		}
		return m
	}
	if l := fmt.Sprint(sub("dns")["listen"]); l != "[127.0.0.1:5353]" {
		t.Fatalf("%s listens on %s; the README's demo asks 127.0.0.1:5353", cfgPath, l)
	}
	base := filepath.Dir(cfgPath)
	sub("dns")["listen"] = []any{"127.0.0.1:0"}
	sub("api")["listen"] = "127.0.0.1:0"
	sub("zones")["dir"] = filepath.Join(base, sub("zones")["dir"].(string))
	dbs := sub("geoip")["databases"].([]any)
	for i, db := range dbs {
		dbs[i] = filepath.Join(base, db.(string))
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	n := testbin.Start(t, testbin.Config(out), nil)
	_, port, _ := strings.Cut(n.Addr, ":")

	for _, cmd := range cmds {
		i, ok := checks[cmd.cmd]
		if !ok {
			continue
		}
		t.Run(cmd.cmd, func(t *testing.T) {
			argv := strings.Fields(cmd.cmd)
			switch argv[0] {
			case "dig", "kdig":
				argv[0] = lookTool(t, argv[0])
			case "./bin/meridian":
				argv[0] = testbin.Build(t)
			default:
				t.Fatalf("%s: the test does not know how to run it", argv[0])
			}
			if p := slices.Index(argv, "-p"); p > 0 && argv[p+1] == "5353" {
				argv[p+1] = port
			}
			x := exec.Command(argv[0], argv[1:]...)
			x.Dir = root
			raw, err := x.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			o := parseTool(string(raw))
			if cmd.output != nil && !slices.Equal(o.answer, cmd.output) {
				t.Errorf("answer:\n%s\nthe README shows:\n%s", strings.Join(o.answer, "\n"), strings.Join(cmd.output, "\n"))
			}
			if check := readmeDemo[i].check; check != nil {
				if msg := check(o); msg != "" {
					t.Errorf("# %s: %s\n%s", cmd.says, msg, raw)
				}
			}
			if strings.Contains(cmd.says, "sticky") {
				// Sticky: the same client gets the same target again.
				again, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
				if a := parseTool(string(again)).answer; !slices.Equal(a, o.answer) {
					t.Errorf("sticky: asked again, got %q; first %q", a, o.answer)
				}
			}
		})
	}
}

// TestReadmeSetup checks what the README says a developer needs against
// what the repository holds: the Go version of go.mod, every package
// .ci/run installs for the integration tests, the licence and the
// changelog.
func TestReadmeSetup(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	readme := read("README.md")

	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(read("go.mod"))
	needs := regexp.MustCompile(`Needs Go (\S+) or later`).FindStringSubmatch(readme)
	if goLine == nil || needs == nil || needs[1] != goLine[1] {
		t.Errorf("README says %q; go.mod says %q", needs, goLine)
	}

	// The packages of an apt-get install line, flags and redirections left out.
	packages := func(where, text string) []string {
		t.Helper()
		m := regexp.MustCompile(`apt-get install ([^\n]*)`).FindAllStringSubmatch(text, -1)
		if len(m) != 1 {
			t.Fatalf("%s: got %d apt-get install lines; want one", where, len(m))
		}
		var out []string
		for _, f := range strings.Fields(m[0][1]) {
			if !strings.HasPrefix(f, "-") && !strings.HasPrefix(f, ">") {
				out = append(out, f)
			}
		}
		slices.Sort(out)
		return out
	}
	if ci, doc := packages(".ci/run", read(".ci/run")), packages("README.md", readme); !slices.Equal(ci, doc) {
		t.Errorf("README installs %q; .ci/run installs %q: a test skipped for want of a tool would pass unnoticed", doc, ci)
	}

	if l := strings.Fields(read("LICENSE")); len(l) < 4 || strings.Join(l[:4], " ") != "Apache License Version 2.0," {
		t.Errorf("LICENSE does not begin as the Apache License 2.0: %q", l[:min(len(l), 4)])
	}
	_, license, _ := strings.Cut(readme, "\n## License\n")
	if !strings.Contains(license, "Apache License 2.0") || !strings.Contains(license, "(LICENSE)") {
		t.Errorf("README: no License section naming the Apache License 2.0 and linking LICENSE")
	}
	if !strings.HasPrefix(read("CHANGELOG.md"), "# Changelog\n") || !strings.Contains(readme, "(CHANGELOG.md)") {
		t.Errorf("CHANGELOG.md missing, or not linked from the README")
	}
}

package examples_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
	"gopkg.in/yaml.v3"
)

// deployConfig installs deploy/meridian.yaml into a temporary root: every
// absolute path moves under it, DNS and the API listen on loopback port 0,
// gossip on a free loopback port with no peers. The files it names exist:
// the dr zones, the demo GeoIP database, a mesh key and an API token. It
// returns the config path.
func deployConfig(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	data, err := os.ReadFile("deploy/meridian.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	moveUnder(root, c)
	section := func(name string) map[string]any {
		m, ok := c[name].(map[string]any)
		if !ok {
			t.Fatalf("deploy/meridian.yaml: no %s section", name)
		}
		return m
	}
	gossip := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t, "127.0.0.1"))
	section("dns")["listen"] = []any{"127.0.0.1:0"}
	section("api")["listen"] = "127.0.0.1:0"
	m := section("mesh")
	m["bind"], m["advertise"], m["join"] = gossip, gossip, []any{}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "etc/meridian/meridian.yaml")
	testbin.WriteFile(t, path, string(out))

	// The files the config names.
	zones := section("zones")["dir"].(string)
	for _, f := range mustGlob(t, "dr/zones/*") {
		copyFile(t, f, filepath.Join(zones, filepath.Base(f)))
	}
	for _, db := range section("geoip")["databases"].([]any) {
		copyFile(t, "geoip/demo-city.mmdb", db.(string))
	}
	testbin.WriteFile(t, m["keyfile"].(string), "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")
	testbin.WriteFile(t, section("api")["token_file"].(string), "0123456789abcdef0123456789abcdef\n")
	return path
}

// moveUnder moves every absolute path (under /etc or /var) of a parsed
// config under root.
func moveUnder(root string, v any) any {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "/etc/") || strings.HasPrefix(x, "/var/") {
			return filepath.Join(root, x)
		}
	case []any:
		for i := range x {
			x[i] = moveUnder(root, x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = moveUnder(root, x[k])
		}
	}
	return v
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	fs, err := filepath.Glob(pattern)
	if err != nil || len(fs) == 0 {
		t.Fatalf("%s: no files (%v)", pattern, err)
	}
	return fs
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	testbin.WriteFile(t, to, string(data))
}

// TestDeployConfig: the production config passes `meridian check` once
// its files exist.
func TestDeployConfig(t *testing.T) {
	bin := testbin.Build(t)
	out, err := exec.Command(bin, "check", "--config", deployConfig(t)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("meridian check: %v\n%s", err, out)
	}
}

// unitFile parses a systemd unit: section → key → values (a key may repeat).
func unitFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := map[string]map[string][]string{}
	section := ""
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// one returns the single value of a unit key.
func one(t *testing.T, u map[string]map[string][]string, section, key string) string {
	t.Helper()
	vs := u[section][key]
	if len(vs) != 1 {
		t.Fatalf("meridian.service [%s] %s: got %q; want one value", section, key, vs)
	}
	return vs[0]
}

// TestSystemdUnit runs the unit's commands against the built binary as
// systemd would: ExecStartPre passes, ExecStart starts a node, ExecReload
// makes it reload its config, KillSignal stops it with status 0 within
// TimeoutStopSec. The unit must keep its promised settings, and
// systemd-analyze verify must accept it where installed.
func TestSystemdUnit(t *testing.T) {
	const unitPath = "deploy/meridian.service"
	u := unitFile(t, unitPath)
	bin := testbin.Build(t)
	cfg := deployConfig(t)
	const installed, installedCfg = "/usr/local/bin/meridian", "/etc/meridian/meridian.yaml"
	local := func(cmdline string) []string {
		args := strings.Fields(cmdline)
		if args[0] != installed {
			t.Fatalf("meridian.service runs %q; want %s", args[0], installed)
		}
		args[0] = bin
		for i, a := range args {
			if a == installedCfg {
				args[i] = cfg
			}
		}
		return args
	}

	for key, want := range map[string]string{
		"User": "meridian", "Group": "meridian", "Restart": "on-failure", "KillSignal": "SIGTERM",
		"AmbientCapabilities": "CAP_NET_BIND_SERVICE", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"StateDirectory": "meridian", "PrivateTmp": "yes", "ExecReload": "/bin/kill -HUP $MAINPID",
	} {
		if got := one(t, u, "Service", key); got != want {
			t.Errorf("[Service] %s=%s; want %s", key, got, want)
		}
	}
	if got := one(t, u, "Service", "ExecStart"); got != installed+" serve --config "+installedCfg {
		t.Errorf("ExecStart=%s; want %s serve --config %s", got, installed, installedCfg)
	}

	pre := local(one(t, u, "Service", "ExecStartPre"))
	if out, err := exec.Command(pre[0], pre[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre: %v\n%s", err, out)
	}

	p := startProc(t, local(one(t, u, "Service", "ExecStart")))
	p.waitLog(t, "serving", 20*time.Second)

	// ExecReload, with $MAINPID as systemd substitutes it.
	reload := strings.Fields(strings.ReplaceAll(one(t, u, "Service", "ExecReload"), "$MAINPID", strconv.Itoa(p.cmd.Process.Pid)))
	if out, err := exec.Command(reload[0], reload[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("ExecReload %v: %v\n%s", reload, err, out)
	}
	p.waitLog(t, "config reloaded", 5*time.Second)

	stop, err := time.ParseDuration(one(t, u, "Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	sig := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT}[one(t, u, "Service", "KillSignal")]
	start := time.Now()
	p.cmd.Process.Signal(sig)
	if code := p.wait(t, stop); code != 0 {
		t.Errorf("exit status after KillSignal: got %d; want 0\n%s", code, p.logs())
	}
	t.Logf("stopped %v after KillSignal (TimeoutStopSec %v)", time.Since(start).Round(time.Millisecond), stop)

	t.Run("systemd-analyze verify", func(t *testing.T) {
		tool, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze not installed; skipping")
		}
		// verify checks that the binaries exist: point it at the built one.
		data, _ := os.ReadFile(unitPath)
		unit := filepath.Join(t.TempDir(), "meridian.service")
		testbin.WriteFile(t, unit, strings.NewReplacer(installed, bin, installedCfg, cfg).Replace(string(data)))
		out, err := exec.Command(tool, "verify", unit).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
		// verify exits 0 on settings it ignores, but names the unit's
		// file and line for each.
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, unit+":") {
				t.Errorf("systemd-analyze verify: %s", line)
			}
		}
	})
}

// dockerfile is a parsed Dockerfile: instructions with their arguments,
// continuation lines joined.
type instruction struct{ cmd, args string }

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur string
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

// execForm parses a JSON-array ENTRYPOINT or CMD.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var args []string
	if err := json.Unmarshal([]byte(in.args), &args); err != nil {
		t.Fatalf("%s %s: want the exec (JSON array) form, so signals reach meridian: %v", in.cmd, in.args, err)
	}
	return args
}

// TestDockerfile checks deploy/Dockerfile without Docker: it builds on the
// top-level image, every COPY source exists in the build context (the
// repository root) or is an earlier stage, the config lands where CMD
// reads it and the zones where the config looks, the documented ports are
// exposed, and ENTRYPOINT + CMD, run against the built binary, start a node
// that STOPSIGNAL stops with status 0.
func TestDockerfile(t *testing.T) {
	base := parseDockerfile(t, "../Dockerfile")
	deploy := parseDockerfile(t, "deploy/Dockerfile")
	stages := map[string]bool{}
	var entrypoint, cmd []string
	installs := false
	for _, in := range base {
		switch in.cmd {
		case "ENTRYPOINT":
			entrypoint = execForm(t, in)
		case "CMD":
			cmd = execForm(t, in)
		case "COPY":
			installs = installs || strings.HasSuffix(in.args, " /usr/local/bin/meridian")
		}
	}
	if !installs {
		t.Fatal("../Dockerfile no longer installs /usr/local/bin/meridian")
	}
	copies := map[string]string{} // destination → source
	var exposed []string
	stopSignal := "SIGTERM"
	lastFrom := ""
	for _, in := range deploy {
		fields := strings.Fields(in.args)
		switch in.cmd {
		case "FROM":
			lastFrom = fields[0]
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				stages[fields[2]] = true
			}
		case "COPY":
			var srcs []string
			from := ""
			for _, f := range fields {
				if v, ok := strings.CutPrefix(f, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(f, "--") {
					srcs = append(srcs, f)
				}
			}
			dst := srcs[len(srcs)-1]
			for _, s := range srcs[:len(srcs)-1] {
				if from != "" {
					if !stages[from] {
						t.Errorf("COPY --from=%s: no such stage", from)
					}
					continue
				}
				if _, err := os.Stat(filepath.Join("..", s)); err != nil {
					t.Errorf("COPY %s: not in the build context (the repository root): %v", s, err)
				}
				copies[dst] = s
			}
		case "EXPOSE":
			exposed = append(exposed, fields...)
		case "STOPSIGNAL":
			stopSignal = in.args
		case "ENTRYPOINT":
			entrypoint = execForm(t, in)
		case "CMD":
			cmd = execForm(t, in)
		}
	}
	if lastFrom != "${BASE}" {
		t.Errorf("final stage FROM %s; want ${BASE}, the top-level image", lastFrom)
	}
	for _, p := range []string{"53/udp", "53/tcp", "8053/tcp", "7946/udp", "7946/tcp"} {
		if !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE %v lacks %s", exposed, p)
		}
	}
	argv := append(slices.Clone(entrypoint), cmd...)
	if len(argv) < 4 || argv[0] != "/usr/local/bin/meridian" || argv[1] != "serve" {
		t.Fatalf("ENTRYPOINT + CMD = %q; want /usr/local/bin/meridian serve --config ...", argv)
	}
	i := slices.Index(argv, "--config")
	if i < 0 || i+1 >= len(argv) {
		t.Fatalf("ENTRYPOINT + CMD = %q; want --config FILE", argv)
	}
	if src := copies[argv[i+1]]; src != "examples/deploy/meridian.yaml" {
		t.Errorf("the config CMD reads, %s, is copied from %q; want examples/deploy/meridian.yaml", argv[i+1], src)
	}
	var c struct {
		Zones struct{ Dir string }
	}
	data, _ := os.ReadFile("deploy/meridian.yaml")
	yaml.Unmarshal(data, &c)
	if src := copies[strings.TrimSuffix(c.Zones.Dir, "/")+"/"]; src == "" {
		t.Errorf("zones.dir %s: nothing is copied there (copies %v)", c.Zones.Dir, copies)
	}

	// Run what the container runs, with the config moved to a temp root.
	argv[0] = testbin.Build(t)
	argv[i+1] = deployConfig(t)
	p := startProc(t, argv)
	p.waitLog(t, "serving", 20*time.Second)
	sig := map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT}[stopSignal]
	if sig == 0 {
		t.Fatalf("STOPSIGNAL %s: want SIGTERM or SIGINT", stopSignal)
	}
	p.cmd.Process.Signal(sig)
	// docker stop waits 10 s before SIGKILL.
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit status after STOPSIGNAL: got %d; want 0\n%s", code, p.logs())
	}
}

// proc is a meridian process whose log lines (text or JSON) are kept.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  strings.Builder
	msgs []string // the msg of every log line
	done chan struct{}
	err  error
}

var textMsg = regexp.MustCompile(`msg=("(?:[^"\\]|\\.)*"|\S+)`)

func startProc(t *testing.T, argv []string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			msg := ""
			var j struct{ Msg string }
			if json.Unmarshal([]byte(line), &j) == nil {
				msg = j.Msg
			} else if m := textMsg.FindStringSubmatch(line); m != nil {
				msg = strings.Trim(m[1], `"`)
			}
			p.mu.Lock()
			p.buf.WriteString(line + "\n")
			p.msgs = append(p.msgs, msg)
			p.mu.Unlock()
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// waitLog waits for a log line whose message is msg.
func (p *proc) waitLog(t *testing.T, msg string, limit time.Duration) {
	t.Helper()
	testbin.Eventually(t, limit, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return slices.Contains(p.msgs, msg)
	}, "log message %q\n%s", msg, p.logs)
}

// wait waits up to limit for the exit and returns its status.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("still running %v after the stop signal\n%s", limit, p.logs())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// TestDockerImage checks, without Docker, what the image promises: the
// state directory belongs to the user the server runs as and is made
// before it is declared a volume (Docker fills a new volume from it, owner
// included, and keeps nothing a build step does to it afterwards); `make
// docker` tags the image examples/deploy/Dockerfile builds on; and
// .dockerignore keeps build output out of the context but nothing either
// Dockerfile copies.
func TestDockerImage(t *testing.T) {
	base := parseDockerfile(t, "../Dockerfile")
	const state = "/var/lib/meridian"
	owner, user, made, volume := "", "", -1, -1
	for i, in := range base {
		fields := strings.Fields(in.args)
		switch in.cmd {
		case "COPY":
			if dst := strings.TrimSuffix(fields[len(fields)-1], "/"); dst == state {
				made = i
				for _, f := range fields {
					if v, ok := strings.CutPrefix(f, "--chown="); ok {
						owner = v
					}
				}
			}
		case "VOLUME":
			var vols []string
			if err := json.Unmarshal([]byte(in.args), &vols); err != nil {
				vols = fields
			}
			if slices.Contains(vols, state) {
				volume = i
			}
		case "USER":
			user = in.args
		}
	}
	numeric := strings.NewReplacer("nonroot", "65532")
	switch {
	case made < 0:
		t.Errorf("../Dockerfile does not make %s", state)
	case volume >= 0 && volume < made:
		t.Errorf("../Dockerfile declares the volume %s before it makes the directory: the directory would not be kept", state)
	case owner == "" || numeric.Replace(owner) != numeric.Replace(user):
		t.Errorf("../Dockerfile: %s is owned by %q but the server runs as USER %q: a fresh volume would not be writable", state, owner, user)
	}
	if volume < 0 {
		t.Errorf("../Dockerfile does not declare %s a volume: state would be lost with the container", state)
	}

	// make docker's tags, printed by make -n.
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed; skipping the tag check")
	}
	out, err := exec.Command("make", "-s", "-n", "-C", "..", "docker", "VERSION=v1.2.3").Output()
	if err != nil {
		t.Fatalf("make -n docker: %v", err)
	}
	var tags []string
	args := strings.Fields(string(out))
	for i, a := range args {
		if a == "-t" && i+1 < len(args) {
			tags = append(tags, args[i+1])
		}
	}
	baseArg := ""
	for _, in := range parseDockerfile(t, "deploy/Dockerfile") {
		if v, ok := strings.CutPrefix(in.args, "BASE="); in.cmd == "ARG" && ok {
			baseArg = v
		}
	}
	if !slices.Contains(tags, "meridian:v1.2.3") || !slices.Contains(tags, baseArg) {
		t.Errorf("make docker tags %q; want the version and %q, the base examples/deploy/Dockerfile builds on", tags, baseArg)
	}

	// .dockerignore: the patterns (no exceptions), then what they must
	// and must not leave out.
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: %q: this test does not follow exceptions", line)
		}
		patterns = append(patterns, strings.Trim(line, "/"))
	}
	ignored := func(path string) bool {
		parts := strings.Split(strings.Trim(path, "/"), "/")
		for i := range parts {
			for _, p := range patterns {
				if ok, _ := filepath.Match(p, strings.Join(parts[:i+1], "/")); ok {
					return true
				}
			}
		}
		return false
	}
	for _, p := range []string{".git", "bin/meridian", "meridian.test", "examples/.state/zone-serials.json"} {
		if !ignored(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	sources := []string{"cmd/meridian/main.go", "internal/version/version.go"}
	for _, f := range []string{"../Dockerfile", "deploy/Dockerfile"} {
		for _, in := range parseDockerfile(t, f) {
			fields := strings.Fields(in.args)
			if in.cmd != "COPY" || strings.Contains(in.args, "--from=") {
				continue
			}
			for _, s := range fields[:len(fields)-1] {
				if !strings.HasPrefix(s, "--") && s != "." && s != "./" {
					sources = append(sources, s)
				}
			}
		}
	}
	for _, s := range sources {
		if ignored(s) {
			t.Errorf(".dockerignore leaves out %s, which the image needs", s)
		}
	}
}

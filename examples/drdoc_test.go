package examples_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
	"gopkg.in/yaml.v3"
)

// docStep is one `$ ` command of a console block and the lines shown
// under it.
type docStep struct {
	cmd    string // without its comment
	output []string
}

// consoleSteps returns the commands of the console blocks of the section
// of a Markdown file headed title.
func consoleSteps(t *testing.T, path, title string) []docStep {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, text, ok := strings.Cut(string(data), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("%s: no section %q", path, title)
	}
	text, _, _ = strings.Cut(text, "\n## ")
	var steps []docStep
	in := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "```console"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case !in:
		case strings.HasPrefix(line, "$ "):
			cmd, _, _ := strings.Cut(strings.TrimPrefix(line, "$ "), " #")
			steps = append(steps, docStep{cmd: strings.TrimSpace(cmd)})
		case strings.TrimSpace(line) != "" && len(steps) > 0:
			steps[len(steps)-1].output = append(steps[len(steps)-1].output, strings.TrimSpace(line))
		}
	}
	if len(steps) == 0 {
		t.Fatalf("%s: section %q has no commands", path, title)
	}
	return steps
}

// hostSystem is a temporary stand-in for a node: files that would go to
// /etc, /usr or /var go under root, with the users made so far.
type hostSystem struct {
	t         *testing.T
	root      string          // the node's /
	home      string          // the operator's working directory: the key made by keygen
	repo      string          // this checkout: the repository's files
	bin       string          // what make build makes as bin/meridian (built for the test: a fresh clone has none)
	users     map[string]bool // made by useradd (each with its own group)
	installed map[string]fs.FileMode
}

// path is where a file of the node lands.
func (h *hostSystem) path(p string) string { return filepath.Join(h.root, p) }

// source is a file an install step copies: the operator's own (made by an
// earlier step), else the repository's.
func (h *hostSystem) source(p string) string {
	if filepath.IsAbs(p) {
		return h.path(p)
	}
	if p == "bin/meridian" && h.bin != "" {
		return h.bin
	}
	if _, err := os.Stat(filepath.Join(h.home, p)); err == nil {
		return filepath.Join(h.home, p)
	}
	return filepath.Join(h.repo, p)
}

// install does what coreutils install does with the flags the doc uses:
// -d makes directories, else SRC DST (or SRC into DIR/) is copied with -m;
// -o and -g must name users or groups made by then. The destination's
// directory must exist, as install requires without -D.
func (h *hostSystem) install(args []string) {
	t := h.t
	t.Helper()
	mode, dirs := fs.FileMode(0o755), false
	var rest []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-d":
			dirs = true
		case "-m":
			i++
			m, err := strconv.ParseUint(args[i], 8, 32)
			if err != nil {
				t.Fatalf("install -m %s: %v", args[i], err)
			}
			mode = fs.FileMode(m)
		case "-o", "-g":
			i++
			if !h.users[args[i]] {
				t.Errorf("install %s %s: no such user or group yet (useradd comes first)", args[i-1], args[i])
			}
		default:
			rest = append(rest, args[i])
		}
	}
	if dirs {
		for _, d := range rest {
			if err := os.MkdirAll(h.path(d), mode); err != nil {
				t.Fatal(err)
			}
			h.installed[d] = mode | fs.ModeDir
		}
		return
	}
	if len(rest) != 2 {
		t.Fatalf("install %q: want SRC DST", args)
	}
	src, dst := rest[0], rest[1]
	if st, err := os.Stat(h.path(dst)); strings.HasSuffix(dst, "/") || (err == nil && st.IsDir()) {
		dst = filepath.Join(dst, filepath.Base(src))
	}
	if _, err := os.Stat(filepath.Dir(h.path(dst))); err != nil {
		t.Errorf("install %s %s: the directory does not exist yet: %v", src, dst, err)
		return
	}
	data, err := os.ReadFile(h.source(src))
	if err != nil {
		t.Errorf("install %s: %v", src, err)
		return
	}
	if err := os.WriteFile(h.path(dst), data, mode); err != nil {
		t.Fatal(err)
	}
	h.installed[dst] = mode
}

// TestDRDocSteps follows the steps of docs/dr.md for real hosts on a
// stand-in node: a temporary root for /etc, /usr and /var, a temporary
// home for the operator's files, this checkout for the repository's. What
// reaches outside the machine or changes the system is not run (useradd,
// apt-get, systemctl), but what it stands for is checked: a user exists
// before a file is given to it, the unit is installed before it is
// started; geoipupdate is stood in for by the demo database. Every other
// step runs, meridian check among them, which must print what the doc
// shows; the files end where the unit and the config look for them, and
// the key has the mode every file that names one gives it.
func TestDRDocSteps(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostSystem{t: t, root: t.TempDir(), home: t.TempDir(), repo: repo,
		users: map[string]bool{"root": true}, installed: map[string]fs.FileMode{}}
	// What a Debian host has before the first step.
	for _, d := range []string{"/etc/systemd/system", "/usr/local/bin", "/var/lib"} {
		if err := os.MkdirAll(h.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := testbin.Build(t)
	h.bin = bin
	started, checked := false, false
	for _, st := range consoleSteps(t, "../docs/dr.md", "Bring it up on real hosts") {
		argv := strings.Fields(st.cmd)
		if argv[0] == "sudo" {
			argv = argv[1:]
		}
		switch {
		case argv[0] == "useradd":
			h.users[argv[len(argv)-1]] = true
		case argv[0] == "install":
			h.install(argv[1:])
		case argv[0] == "apt-get" && argv[1] == "install":
		case argv[0] == "geoipupdate":
			data, err := os.ReadFile("geoip/demo-city.mmdb")
			if err != nil {
				t.Fatal(err)
			}
			testbin.WriteFile(t, h.path("/var/lib/GeoIP/GeoLite2-City.mmdb"), string(data))
		case argv[0] == "systemctl" && argv[1] == "daemon-reload":
		case argv[0] == "systemctl" && argv[1] == "enable":
			if _, ok := h.installed["/etc/systemd/system/meridian.service"]; !ok {
				t.Errorf("%q before the unit is installed", st.cmd)
			}
			started = true
		case argv[0] == "meridian" && len(argv) == 4 && argv[1] == "keygen" && argv[2] == ">":
			out, err := exec.Command(bin, "keygen").Output()
			if err != nil {
				t.Fatalf("meridian keygen: %v", err)
			}
			testbin.WriteFile(t, filepath.Join(h.home, argv[3]), string(out))
		case argv[0] == "meridian" && argv[1] == "check":
			checked = true
			out := h.check(bin, argv)
			if !slices.Equal(strings.Split(strings.TrimSpace(out), "\n"), st.output) {
				t.Errorf("%s printed:\n%s\nthe doc shows:\n%s", st.cmd, out, strings.Join(st.output, "\n"))
			}
		case argv[0] == "meridian" && argv[1] == "status":
			if !started {
				t.Errorf("%q before the service is started", st.cmd)
			}
		default:
			t.Fatalf("docs/dr.md: %q: this test does not know how to follow it; teach it", st.cmd)
		}
	}
	if !checked || !started {
		t.Errorf("the steps never run meridian check (%v) or start the service (%v)", checked, started)
	}

	// The unit runs what was installed, as a user that was made.
	u := unitFile(t, "deploy/meridian.service")
	run := strings.Fields(one(t, u, "Service", "ExecStart"))
	if _, ok := h.installed[run[0]]; !ok {
		t.Errorf("the unit runs %s, which no step installs", run[0])
	}
	if cfg := run[len(run)-1]; h.installed[cfg] == 0 {
		t.Errorf("the unit reads %s, which no step installs", cfg)
	}
	if user := one(t, u, "Service", "User"); !h.users[user] {
		t.Errorf("the unit runs as %s, whom no step makes", user)
	}

	// The key: 0440 here, and wherever a file names a mode for it.
	if m, ok := h.installed["/etc/meridian/mesh.key"]; !ok || m != 0o440 {
		t.Errorf("/etc/meridian/mesh.key installed with mode %v (%v); want 0440", m, ok)
	}
	modeRE := regexp.MustCompile(`\b0[0-7]{3}\b`)
	files := append(mustGlob(t, "dr/*.yaml"), "../docs/dr.md", "deploy/meridian.service", "deploy/meridian.yaml", "../README.md")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			for _, m := range modeRE.FindAllString(line, -1) {
				if strings.Contains(line, "mesh.key") && m != "0440" {
					t.Errorf("%s:%d: mode %s for the mesh key; everything else says 0440: %s", f, n+1, m, strings.TrimSpace(line))
				}
			}
		}
	}
}

// check runs `meridian check` on the installed config, its absolute paths
// moved under the stand-in root, and returns what it printed.
func (h *hostSystem) check(bin string, argv []string) string {
	t := h.t
	t.Helper()
	i := slices.Index(argv, "--config")
	if i < 0 || i+1 >= len(argv) {
		t.Fatalf("%q: no --config", argv)
	}
	cfg := h.path(argv[i+1])
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatalf("%s: %v (no step installs it)", argv[i+1], err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	moveUnder(h.root, c)
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(filepath.Dir(cfg), "moved-"+filepath.Base(cfg))
	testbin.WriteFile(t, moved, string(out))
	got, err := exec.Command(bin, "check", "--config", moved).CombinedOutput()
	if err != nil {
		t.Errorf("meridian check --config %s: %v", argv[i+1], err)
	}
	return string(got)
}

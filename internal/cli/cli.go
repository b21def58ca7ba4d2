// Package cli implements the meridian command line: it parses arguments
// and calls into the packages that do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/daemon"
	"github.com/meridiandns/meridian/internal/version"
	"github.com/meridiandns/meridian/zones"
)

// command is one sub-command of meridian.
type command struct {
	name    string
	summary string // one line for the list of commands
	help    string // what --help prints: usage, flags, examples
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the sub-commands in the order the usage shows them.
func commands() []command {
	return []command{
		{"serve", "serve DNS until SIGTERM or SIGINT (SIGHUP reloads)", serveHelp, serve},
		{"check", "open the config and every zone as serve would; print problems", checkHelp, check},
		{"status", "show a node's view: nodes by region, records, endpoints, drains", statusHelp, status},
		{"explain", "show how a query from a client is answered, and why", explainHelp, explain},
		{"drain", "take a value or pool out of service on every node, or put it back", drainHelp, drain},
		{"keygen", "print a new mesh encryption key", keygenHelp, keygen},
		{"version", "print the version", versionHelp, printVersion},
	}
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: meridian <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'meridian <command> --help' for a command's flags and examples.\n" +
		"Without --config, commands read ./meridian.yaml, else /etc/meridian/meridian.yaml.\n")
	return b.String()
}

// Run runs the command line args (without the program name) and returns
// the process exit code: 0 done, 1 failed, 2 a bad command line.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "-v", "--version", "-version":
		return printVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		if len(args) > 1 {
			if c, ok := lookup(args[1]); ok {
				fmt.Fprint(stdout, c.help)
				return 0
			}
			fmt.Fprintf(stderr, "meridian help: unknown command %q\n%s", args[1], usage())
			return 2
		}
		fmt.Fprint(stdout, usage())
		return 0
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "meridian: unknown command %q\n%s", args[0], usage())
		return 2
	}
	if wantsHelp(args[1:]) {
		fmt.Fprint(stdout, c.help)
		return 0
	}
	return c.run(args[1:], stdout, stderr)
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// wantsHelp reports whether args ask for help: -h, -help or --help
// anywhere.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

// badUsage reports a bad command line of command name and returns 2.
func badUsage(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "meridian %s: %v\nRun 'meridian %s --help' for usage.\n", name, err, name)
	return 2
}

// configPaths are where commands look for the config when --config is not
// given, in order.
var configPaths = []string{"./meridian.yaml", "/etc/meridian/meridian.yaml"}

// findConfig returns the first of configPaths that exists.
func findConfig() (string, bool) {
	for _, p := range configPaths {
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// loadConfig loads path, or the first config of configPaths when path is
// empty.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		p, ok := findConfig()
		if !ok {
			return nil, fmt.Errorf("no config file: none of %s exists; pass --config FILE", strings.Join(configPaths, ", "))
		}
		path = p
	}
	return config.Load(path)
}

// configArgs parses the flags of serve and check: --config FILE, and the
// switches given.
func configArgs(args []string, switches ...string) (path string, set map[string]bool, err error) {
	sw := map[string]bool{}
	for _, s := range switches {
		sw[s] = true
	}
	flags, pos, err := splitArgs(args, map[string]bool{"config": true}, sw)
	if err != nil {
		return "", nil, err
	}
	if len(pos) > 0 {
		return "", nil, fmt.Errorf("unexpected argument %q", pos[0])
	}
	set = map[string]bool{}
	for _, f := range flags {
		if f.name == "config" {
			path = f.val
		} else {
			set[f.name] = true
		}
	}
	return path, set, nil
}

func serve(args []string, stdout, stderr io.Writer) int {
	path, set, err := configArgs(args, "pprof")
	if err != nil {
		return badUsage(stderr, "serve", err)
	}
	c, err := loadConfig(path)
	if err != nil {
		fmt.Fprintf(stderr, "meridian: %v\n", err)
		return 1
	}
	c.API.Pprof = c.API.Pprof || set["pprof"]
	log, level := daemon.NewLogger(c.Log, stderr)
	d, err := daemon.New(c, log, level)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			log.Error("cannot start", "err", line)
		}
		return 1
	}
	if err := d.Run(context.Background()); err != nil {
		msg := "exit"
		var ke *daemon.KeyError
		if errors.As(err, &ke) {
			msg = "cannot start" // a listener the config names
		}
		log.Error(msg, "err", err)
		return 1
	}
	return 0
}

// check prints every problem of the config, of what it names and of its
// zones, one per line, and returns 1 when there is any.
func check(args []string, stdout, stderr io.Writer) int {
	path, _, err := configArgs(args)
	if err != nil {
		return badUsage(stderr, "check", err)
	}
	c, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	var lines []string
	for _, err := range daemon.Preflight(c) {
		lines = append(lines, c.Path+": "+err.Error())
	}
	for _, p := range zones.Check(daemon.ZoneOptions(c)) {
		lines = append(lines, p.String())
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	if len(lines) > 0 {
		fmt.Fprintf(stderr, "%d problem(s)\n", len(lines))
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

func printVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return badUsage(stderr, "version", fmt.Errorf("unexpected argument %q", args[0]))
	}
	fmt.Fprintf(stdout, "meridian %s %s %s/%s\n", version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

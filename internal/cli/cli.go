// Package cli implements the meridian command line: it parses arguments
// and calls into the packages that do the work.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/daemon"
	"github.com/meridiandns/meridian/internal/version"
	"github.com/meridiandns/meridian/zones"
)

const usage = `usage: meridian <command> [flags]

commands:
  serve   --config FILE [--pprof]
                          serve DNS until SIGTERM or SIGINT (SIGHUP reloads);
                          --pprof exposes /debug/pprof/ on the API listener
  status  [--api URL|--config FILE] [--json]
                          show the node's view: nodes by region, endpoints, drains
  check   --config FILE   load the config and every zone as serve would; print problems
  explain --config FILE NAME [TYPE] --client IP[/PREFIX] [--down VALUE|pool:ID ...]
                          show how a query from that client is answered, and why
  drain   TARGET [--for DURATION] [--reason TEXT] [--force] [--api URL|--config FILE] [--token-file FILE]
                          take an address, name or pool:ID of the zones out of service
                          on every node (--force: one the zones do not name yet)
  drain   --undo TARGET   put it back
  keygen                  print a new mesh encryption key
  version                 print the version
`

// Run runs the command line args (without the program name) and returns
// the process exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "status":
		return status(args[1:], stdout, stderr)
	case "explain":
		return explain(args[1:], stdout, stderr)
	case "drain":
		return drain(args[1:], stdout, stderr)
	case "keygen":
		return keygen(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "meridian %s %s %s/%s\n", version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "meridian: unknown command %q\n%s", args[0], usage)
	return 2
}

// configFlag parses the flags of a command that takes --config.
func configFlag(name string, args []string, stderr io.Writer) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "meridian.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meridian %s: unexpected argument %q\n", name, fs.Arg(0))
		return "", false
	}
	return *path, true
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "meridian.yaml", "config file")
	pprof := fs.Bool("pprof", false, "serve /debug/pprof/ on the API listener")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meridian serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	c, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "meridian: %v\n", err)
		return 1
	}
	c.API.Pprof = c.API.Pprof || *pprof
	log, level := daemon.NewLogger(c.Log, stderr)
	d, err := daemon.New(c, log, level)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := d.Run(context.Background()); err != nil {
		log.Error("exit", "err", err)
		return 1
	}
	return 0
}

// check prints every problem of the config and its zones, one per line,
// and returns 1 when there is any.
func check(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("check", args, stderr)
	if !ok {
		return 2
	}
	c, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	}
	ps := zones.Check(daemon.ZoneOptions(c))
	if len(c.GeoIP.Databases) > 0 {
		if _, err := geo.Open(c.GeoIP.Databases); err != nil {
			ps = append(ps, zones.Problem{Path: c.Path, Msg: err.Error()})
		}
	}
	for _, p := range ps {
		fmt.Fprintln(stdout, p.String())
	}
	if len(ps) > 0 {
		fmt.Fprintf(stderr, "%d problem(s)\n", len(ps))
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

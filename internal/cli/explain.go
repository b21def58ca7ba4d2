package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/daemon"
	expl "github.com/meridiandns/meridian/internal/explain"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

// explainArgs is the parsed command line of `meridian explain`; flags and
// arguments may come in any order.
type explainArgs struct {
	config, name, client string
	qtype                uint16
	down                 []string
}

func parseExplain(args []string) (explainArgs, error) {
	a := explainArgs{qtype: dns.TypeA}
	flags, pos, err := splitArgs(args, map[string]bool{"config": true, "client": true, "down": true}, nil)
	if err != nil {
		return a, err
	}
	for _, f := range flags {
		switch f.name {
		case "config":
			a.config = f.val
		case "client":
			a.client = f.val
		case "down":
			a.down = append(a.down, f.val)
		}
	}
	if len(pos) < 1 || len(pos) > 2 {
		return a, fmt.Errorf("want NAME [TYPE]")
	}
	a.name = dns.Fqdn(pos[0])
	if len(pos) == 2 {
		t, ok := dns.StringToType[strings.ToUpper(pos[1])]
		if !ok {
			return a, fmt.Errorf("unknown type %q", pos[1])
		}
		a.qtype = t
	}
	if a.client == "" {
		return a, fmt.Errorf("--client is required")
	}
	return a, nil
}

// explain loads the config and zones as serve would and explains one
// query, with verdicts from one live probe of each endpoint involved: a
// tool run beside (or without) a node has no mesh verdicts to read.
func explain(args []string, stdout, stderr io.Writer) int {
	a, err := parseExplain(args)
	if err != nil {
		return badUsage(stderr, "explain", err)
	}
	client, err := expl.ParseClient(a.client)
	if err != nil {
		return badUsage(stderr, "explain", fmt.Errorf("--client %q: %v", a.client, err))
	}
	c, err := loadConfig(a.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	set, ps := zones.Load(daemon.ZoneOptions(c))
	for _, p := range ps {
		fmt.Fprintf(stderr, "warning: %s\n", p)
	}
	var g *geo.Reader
	if len(c.GeoIP.Databases) > 0 {
		if g, err = geo.Open(c.GeoIP.Databases); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	r := expl.Run(context.Background(), set, g, expl.Live{Down: a.down},
		expl.Query{Name: a.name, Type: a.qtype, Client: client})
	if err := r.Text(stdout); err != nil {
		fmt.Fprintf(stderr, "meridian explain: %v\n", err)
		return 1
	}
	if r.Kind == "nxdomain" || r.Kind == "refused" {
		return 1
	}
	return 0
}

// Command meridian is a DNS global server load balancer: an authoritative
// server that answers from zone files with geo, weighted and failover
// policies, steered by health checks shared over a gossip mesh.
package main

import (
	"os"

	"github.com/meridiandns/meridian/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}

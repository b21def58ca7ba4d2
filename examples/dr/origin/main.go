// Command origin stands in for one origin server of the service in the
// local disaster-recovery demo (examples/dr/run.sh): it answers every HTTP
// request on one address with 200 and its own address, /healthz included,
// so the fleet's health checks pass while it runs. The demo takes an
// origin down by stopping its process, as a crash would.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "`address` to answer HTTP on")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "origin: %v\n", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "origin %s\n", *listen)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	fmt.Fprintf(os.Stderr, "origin: answering HTTP on %s\n", ln.Addr())
	fmt.Fprintf(os.Stderr, "origin: %v\n", srv.Serve(ln))
	os.Exit(1)
}

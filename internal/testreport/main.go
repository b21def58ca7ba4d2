// Command testreport runs `go test -json` and prints what plain `go test`
// prints, then every test that was skipped and why, so that a test skipped
// for want of a tool (dig, unbound, chromium, root) is seen rather than
// passing silently. `make test` runs it:
//
//	go run ./internal/testreport go test -json -race ./...
//
// It exits with the status of the command it ran, or 1 when the command
// reported a failure but exited 0.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testreport go test -json [flags] [packages]")
		os.Exit(2)
	}
	// Ctrl-C reaches the tests too: they stop, and what they said so
	// far is still reported.
	signal.Ignore(os.Interrupt)
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
		os.Exit(2)
	}
	skips, failed := report(out, os.Stdout)
	err = cmd.Wait()
	summary(os.Stdout, module(), skips)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	case err != nil:
		fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
		os.Exit(2)
	case failed:
		os.Exit(1)
	}
}

// module is the module path of go.mod in the current directory, or "".
func module() string {
	data, err := os.ReadFile("go.mod")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestCheckGolden runs `meridian check` on every directory under
// testdata/check and compares its output and exit code with want.golden.
func TestCheckGolden(t *testing.T) {
	bin := testbin.Build(t)
	dirs, err := filepath.Glob("testdata/check/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no check cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cmd := exec.Command(bin, "check", "--config", "meridian.yaml")
			cmd.Dir = dir
			var out bytes.Buffer
			cmd.Stdout = &out
			err := cmd.Run()
			code := exitCode(t, err)
			got := out.String() + "exit: " + string(rune('0'+code)) + "\n"
			golden := filepath.Join(dir, "want.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("meridian check in %s:\ngot:\n%s\nwant:\n%s", dir, got, want)
			}
		})
	}
}

// exitCode is the exit status of a finished command (0 for err == nil).
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestCheckServeParity runs `meridian check` and `meridian serve` on
// configs whose files or directories cannot be used: check must fail on
// each, and serve must refuse to start with the same problem, naming the
// same config key. The systemd unit runs check as ExecStartPre, so a
// config that passes check must not fail at start.
func TestCheckServeParity(t *testing.T) {
	bin := testbin.Build(t)
	const zone = "'':\n  - {type: NS, values: [ns1.example.com.]}\nns1: {type: A, value: 192.0.2.53}\n"
	tests := []struct {
		name, config, key string
	}{
		{"missing mesh key", "mesh: {bind: '127.0.0.1:0', keyfile: mesh.key}", "mesh.keyfile"},
		{"mesh key not base64", "mesh: {bind: '127.0.0.1:0', keyfile: not-a-dir}", "mesh.keyfile"},
		{"join without a key", "mesh: {bind: '127.0.0.1:0', join: ['127.0.0.1:9']}", "mesh.keyfile"},
		{"missing token file", "api: {listen: '127.0.0.1:0', token_file: api.token}", "api.token_file"},
		{"empty token file", "api: {listen: '127.0.0.1:0', token_file: blank}", "api.token_file"},
		{"missing geoip database", "geoip: {databases: [city.mmdb]}", "geoip.databases"},
		{"geoip file not a database", "geoip: {databases: [not-a-dir]}", "geoip.databases"},
		{"state_dir a file", "state_dir: not-a-dir", "state_dir"},
		{"state_dir under a file", "state_dir: not-a-dir/state", "state_dir"},
		{"mesh.state_dir a file", "mesh: {state_dir: not-a-dir}", "mesh.state_dir"},
		{"query log in a missing directory", "log: {queries: {enabled: true, path: missing/queries.log}}", "log.queries.path"},
		{"query log a directory", "log: {queries: {enabled: true, path: zones}}", "log.queries.path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			testbin.WriteFile(t, filepath.Join(dir, "zones", "example.com.yaml"), zone)
			testbin.WriteFile(t, filepath.Join(dir, "not-a-dir"), "plain file\n")
			testbin.WriteFile(t, filepath.Join(dir, "blank"), " \n")
			cfg := "node: {name: n1, region: r1}\ndns: {listen: ['127.0.0.1:0']}\nzones: {dir: zones}\n" + tt.config + "\n"
			if !strings.Contains(cfg, "api:") {
				cfg += "api: {listen: ''}\n"
			}
			testbin.WriteFile(t, filepath.Join(dir, "meridian.yaml"), cfg)

			cmd := exec.Command(bin, "check", "--config", "meridian.yaml")
			cmd.Dir = dir
			out, err := cmd.Output()
			prefix := "meridian.yaml: " + tt.key + ": "
			if code := exitCode(t, err); code != 1 || !strings.HasPrefix(string(out), prefix) {
				t.Fatalf("check: got exit %d, %q; want 1 and a line starting %q", code, out, prefix)
			}
			problem, _, _ := strings.Cut(string(out), "\n")

			cmd = exec.Command(bin, "serve", "--config", "meridian.yaml")
			cmd.Dir = dir
			done := make(chan struct{})
			time.AfterFunc(10*time.Second, func() {
				select {
				case <-done:
				default:
					cmd.Process.Kill()
				}
			})
			logs, err := cmd.CombinedOutput()
			close(done)
			if code := exitCode(t, err); code != 1 || strings.Contains(string(logs), "msg=serving") {
				t.Fatalf("serve: got exit %d; want 1 before serving\n%s", code, logs)
			}
			if want := `msg="cannot start" err=` + strconv.Quote(problem); !strings.Contains(string(logs), want) {
				t.Errorf("serve: got\n%s\nwant the problem check found: %s", logs, want)
			}
		})
	}
}

// TestTakenPorts starts serve on listen addresses another socket holds:
// it stops at once, naming the config key and the address, and says
// "listen tcp" no more than the cause needs.
func TestTakenPorts(t *testing.T) {
	bin := testbin.Build(t)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	taken := tcp.Addr().String()
	tests := []struct{ key, config string }{
		{"dns.listen", fmt.Sprintf("dns: {listen: [%q]}\napi: {listen: ''}", taken)},
		{"api.listen", fmt.Sprintf("dns: {listen: ['127.0.0.1:0']}\napi: {listen: %q}", taken)},
		{"mesh.bind", fmt.Sprintf("dns: {listen: ['127.0.0.1:0']}\napi: {listen: ''}\nmesh: {bind: %q, insecure: true}", taken)},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "zones"), 0o755)
			testbin.WriteFile(t, filepath.Join(dir, "meridian.yaml"), "node: {name: n1, region: r1}\nzones: {dir: zones}\n"+tt.config+"\n")
			cmd := exec.Command(bin, "serve", "--config", "meridian.yaml")
			cmd.Dir = dir
			logs, err := cmd.CombinedOutput()
			want := fmt.Sprintf(`msg="cannot start" err="meridian.yaml: %s: cannot listen on %s (tcp): bind: address already in use"`, tt.key, taken)
			if code := exitCode(t, err); code != 1 || !strings.Contains(string(logs), want) || strings.Contains(string(logs), "listen tcp") {
				t.Errorf("serve: got exit %d\n%s\nwant 1 and %s", code, logs, want)
			}
		})
	}
}

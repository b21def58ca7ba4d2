package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
)

// servePprof runs `meridian serve --config FILE --pprof` and returns the
// API address once it serves. The process is stopped when the test ends.
func servePprof(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testbin.WriteFile(t, filepath.Join(dir, "zones", "example.org.yaml"), orgYAML)
	cfg := filepath.Join(dir, "meridian.yaml")
	testbin.WriteFile(t, cfg, baseConfig+"api: {listen: \"127.0.0.1:0\"}\n")
	cmd := exec.Command(testbin.Build(t), "serve", "--config", cfg, "--pprof")
	stderr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		pw.Close()
	})
	apiRE := regexp.MustCompile(`msg="api listening" addr=(\S+)`)
	ready := make(chan string, 1)
	var logs strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		api := ""
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := apiRE.FindStringSubmatch(sc.Text()); m != nil {
				api = m[1]
			}
			if strings.Contains(sc.Text(), "msg=serving ") {
				ready <- api
			}
		}
		close(ready)
	}()
	select {
	case api, ok := <-ready:
		if !ok || api == "" {
			t.Fatalf("meridian serve --pprof did not serve the API:\n%s", logs.String())
		}
		return api
	case <-time.After(20 * time.Second):
		t.Fatal("meridian serve --pprof did not start within 20s")
	}
	return ""
}

// TestPprof: --pprof and api.pprof serve the profiler on the API
// listener; without either, its paths are 404 while /metrics still works.
func TestPprof(t *testing.T) {
	files := map[string]string{"zones/example.org.yaml": orgYAML}
	withFlag := servePprof(t)
	withKey := testbin.Start(t, baseConfig+"api: {listen: \"127.0.0.1:0\", pprof: true}\n", files).API
	without := testbin.Start(t, baseConfig, files).API
	for _, tt := range []struct {
		name, api, path string
		code            int
		body            string
	}{
		{"flag: index", withFlag, "/debug/pprof/", http.StatusOK, "goroutine"},
		{"flag: cmdline", withFlag, "/debug/pprof/cmdline", http.StatusOK, "--pprof"},
		{"flag: heap", withFlag, "/debug/pprof/heap?debug=1", http.StatusOK, "heap profile"},
		{"flag: CPU profile", withFlag, "/debug/pprof/profile?seconds=1", http.StatusOK, "\x1f\x8b"},
		{"flag: symbol", withFlag, "/debug/pprof/symbol", http.StatusOK, "num_symbols"},
		{"key: index", withKey, "/debug/pprof/", http.StatusOK, "goroutine"},
		{"off: index", without, "/debug/pprof/", http.StatusNotFound, "no such endpoint"},
		{"off: cmdline", without, "/debug/pprof/cmdline", http.StatusNotFound, "no such endpoint"},
		{"off: heap", without, "/debug/pprof/heap", http.StatusNotFound, "no such endpoint"},
		{"off: metrics still served", without, "/metrics", http.StatusOK, "meridian_build_info"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get("http://" + tt.api + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.body) {
				t.Errorf("GET %s: got %d %.120q; want %d containing %q", tt.path, resp.StatusCode, body, tt.code, tt.body)
			}
		})
	}
}

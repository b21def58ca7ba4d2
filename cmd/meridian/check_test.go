package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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

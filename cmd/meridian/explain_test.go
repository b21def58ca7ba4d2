package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
)

// TestExplainGolden runs every case of testdata/explain/cases.txt through
// the real binary and compares the trace with testdata/explain/NAME.golden.
func TestExplainGolden(t *testing.T) {
	bin := testbin.Build(t)
	dir := filepath.Join("testdata", "explain")
	f, err := os.Open(filepath.Join(dir, "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, args, _ := strings.Cut(line, "|")
		name, args = strings.TrimSpace(name), strings.TrimSpace(args)
		n++
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"explain", "--config", "meridian.yaml"}, strings.Fields(args)...)...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			got := "$ meridian explain " + args + "\n" + string(out) + "exit: " + string(rune('0'+code)) + "\n"
			golden := filepath.Join(dir, name+".golden")
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no explain cases")
	}
}

package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md")

// TestReference regenerates docs/config.md from config.go and fails when
// the committed file differs: the reference cannot drift from the structs.
func TestReference(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Reference(src)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "config.md")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -run TestReference -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("docs/config.md is stale; run go test ./internal/config -run TestReference -update\ngot:\n%s", got)
	}
}

// TestReferenceCoversEveryKey checks the generated reference against the
// parser itself: every key it documents is accepted by Parse, with the
// documented default when written out explicitly.
func TestReferenceCoversEveryKey(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Reference(src)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(string(ref), "\n") {
		cols := strings.Split(line, " | ")
		if len(cols) < 4 || !strings.HasPrefix(cols[0], "| `") {
			continue
		}
		key := strings.Trim(cols[0], "| `")
		def := cols[2]
		if !strings.HasPrefix(def, "`") {
			continue // computed default (the host name)
		}
		rows++
		t.Run(key, func(t *testing.T) {
			// Write key: default as nested YAML and parse it.
			parts := strings.Split(key, ".")
			var b strings.Builder
			for i, p := range parts {
				b.WriteString(strings.Repeat("  ", i) + p + ":")
				if i < len(parts)-1 {
					b.WriteString("\n")
				}
			}
			b.WriteString(" " + strings.Trim(def, "`") + "\n")
			if _, err := Parse(filepath.Join(t.TempDir(), "meridian.yaml"), []byte(b.String())); err != nil {
				t.Errorf("documented default does not parse:\n%s\ngot %v; want no error", b.String(), err)
			}
		})
	}
	if rows < 40 {
		t.Errorf("got %d documented keys; want every key of Config", rows)
	}
}

// TestReferenceNeedsComments removes the comment of one field and expects
// the generator to refuse, naming the key.
func TestReferenceNeedsComments(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, comment, key string }{
		{"line comment", "// connections open at once, over all listeners; more are closed at accept", "dns.tcp.max_connections"},
		{"doc comment", "// Join lists peers (host:port) to join; retried until they answer.", "mesh.join"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(string(src), tt.comment) {
				t.Fatalf("config.go has no comment %q; update this test", tt.comment)
			}
			_, err := Reference([]byte(strings.Replace(string(src), tt.comment, "", 1)))
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("got %v; want an error naming %s", err, tt.key)
			}
		})
	}
}

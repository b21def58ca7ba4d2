package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// readBoth parses data as a zone file with the fast reader and with
// yaml.v3, and reports how they differ: records (their RRs, settings and
// raw dynamic/octodns trees, less comments) and problems must be equal.
func readBoth(data []byte) error {
	fastRecs, fastProbs := ParseYAML("z.yaml", "example.com.", data, 3600)
	forceYAMLv3 = true
	slowRecs, slowProbs := ParseYAML("z.yaml", "example.com.", data, 3600)
	forceYAMLv3 = false
	if !reflect.DeepEqual(fastProbs, slowProbs) {
		return fmt.Errorf("problems differ:\nfast %v\nyaml.v3 %v", fastProbs, slowProbs)
	}
	if len(fastRecs) != len(slowRecs) {
		return fmt.Errorf("%d records; yaml.v3 %d", len(fastRecs), len(slowRecs))
	}
	for i := range fastRecs {
		a, b := *fastRecs[i], *slowRecs[i]
		for _, t := range [][2]*yaml.Node{{a.Dynamic, b.Dynamic}, {a.Octodns, b.Octodns}} {
			if err := sameTree(t[0], t[1]); err != nil {
				return fmt.Errorf("record %s %s: %v", a.Name, a.Type, err)
			}
		}
		a.Dynamic, a.Octodns, b.Dynamic, b.Octodns = nil, nil, nil, nil
		if !reflect.DeepEqual(a, b) {
			return fmt.Errorf("record %d differs:\nfast %+v\nyaml.v3 %+v", i, a, b)
		}
	}
	return nil
}

// sameTree compares what the zone and pools parsers read of a node.
func sameTree(a, b *yaml.Node) error {
	if (a == nil) != (b == nil) {
		return fmt.Errorf("one tree is missing")
	}
	if a == nil {
		return nil
	}
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Line != b.Line ||
		a.Column != b.Column || len(a.Content) != len(b.Content) {
		return fmt.Errorf("node %q at %d:%d differs from yaml.v3's %q at %d:%d", a.Value, a.Line, a.Column, b.Value, b.Line, b.Column)
	}
	for i := range a.Content {
		if err := sameTree(a.Content[i], b.Content[i]); err != nil {
			return err
		}
	}
	return nil
}

// TestFastReaderAgrees: every YAML zone file in the repository reads the
// same with the fast reader as with yaml.v3, problems included.
func TestFastReaderAgrees(t *testing.T) {
	var files []string
	for _, pat := range []string{"testdata/yaml/*.yaml", "../examples/zones/*.yaml", "../examples/dr/zones/*.yaml",
		"../pools/testdata/parse/*.yaml", "../cmd/meridian/testdata/*/*/zones/*.yaml", "../cmd/meridian/testdata/*/zones/*.yaml"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d files", len(files))
	}
	extra := []string{
		"a: {type: A, value: 192.0.2.1}\na: {type: A, value: 192.0.2.2}\nb: {type: CNAME, value: x.example.}\nb: {type: TXT, value: t, x: {k: 1, k: 2}}\n",
		"'': {type: A, value: 192.0.2.1}\n~: {type: AAAA, value: '2001:db8::1'}\nc:\n- {type: CNAME, value: c.example.}\n- {type: A, value: 192.0.2.3}\n",
		"d:\n  type: A\n  values: [192.0.2.1]\n  dynamic:\n    pools:\n      p: {values: [{value: 192.0.2.9}]}\n    rules:\n      - {pool: p}\n  octodns: {healthcheck: {protocol: TCP, port: 80}}\n",
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := readBoth(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, src := range extra {
		if err := readBoth([]byte(src)); err != nil {
			t.Errorf("%v in:\n%s", err, src)
		}
	}
}

// FuzzFastReader: on any input, the two readings agree.
func FuzzFastReader(f *testing.F) {
	addFiles(f, "testdata/yaml/*.yaml", "../examples/zones/*.yaml", "../examples/dr/zones/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzMaxFile {
			return
		}
		if err := readBoth(data); err != nil {
			t.Fatal(err)
		}
	})
}

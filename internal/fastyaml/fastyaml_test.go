package fastyaml

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"gopkg.in/yaml.v3"
)

func init() { strict = true }

// same reports where a and b differ, as yaml.v3 would build them and the
// zone parser reads them: kind, style, tag, value, position and children
// (not comments).
func same(a, b *yaml.Node, path string) error {
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value ||
		a.Line != b.Line || a.Column != b.Column || a.Anchor != b.Anchor || (a.Alias == nil) != (b.Alias == nil) ||
		len(a.Content) != len(b.Content) {
		return fmt.Errorf("%s: got kind %d style %d tag %q value %q at %d:%d with %d children; yaml.v3 has kind %d style %d tag %q value %q at %d:%d with %d children",
			path, a.Kind, a.Style, a.Tag, a.Value, a.Line, a.Column, len(a.Content),
			b.Kind, b.Style, b.Tag, b.Value, b.Line, b.Column, len(b.Content))
	}
	for i := range a.Content {
		if err := same(a.Content[i], b.Content[i], fmt.Sprintf("%s/%d", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// check parses src both ways: when Parse accepts it, yaml.v3 must accept
// it too and build the same tree.
func check(t *testing.T, src string) (accepted bool) {
	t.Helper()
	got, ok := Parse([]byte(src))
	var want yaml.Node
	err := yaml.Unmarshal([]byte(src), &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("accepted what yaml.v3 refuses (%v):\n%s", err, src)
	}
	if err := same(got, &want, ""); err != nil {
		t.Fatalf("%v\nin:\n%s", err, src)
	}
	checkEach(t, src, got.Content[0])
	return true
}

// checkEach: Each agrees with Parse's root, and takes every block mapping.
func checkEach(t *testing.T, src string, root *yaml.Node) {
	t.Helper()
	i := 0
	ok := Each([]byte(src), func(k, v *yaml.Node) {
		if 2*i+1 >= len(root.Content) {
			t.Fatalf("Each: more pairs than Parse in:\n%s", src)
		}
		if err := same(k, root.Content[2*i], "key"); err != nil {
			t.Fatalf("Each: %v in:\n%s", err, src)
		}
		if err := same(v, root.Content[2*i+1], "value"); err != nil {
			t.Fatalf("Each: %v in:\n%s", err, src)
		}
		i++
	})
	block := root.Kind == yaml.MappingNode && root.Style == 0
	if ok != block || (ok && 2*i != len(root.Content)) {
		t.Fatalf("Each: %v after %d pairs, for a root of kind %d style %d in:\n%s", ok, i, root.Kind, root.Style, src)
	}
}

// TestSameTree: the subset's forms give yaml.v3's tree.
func TestSameTree(t *testing.T) {
	for _, src := range []string{
		"a: 1\n",
		"# comment\n\n'': {type: A, value: 192.0.2.1}\nwww:\n  - {type: A, values: [192.0.2.1, 192.0.2.2]}\n  - type: AAAA\n    value: 2001:db8::1\n",
		"geo:\n  type: A\n  ttl: 30   # short\n  values: [172.16.0.1]\n  dynamic:\n    pools:\n      eu: {fallback: us, values: [{value: 192.0.2.9, weight: 3}]}\n    rules:\n      - {geos: [EU, NA-US-CA], pool: eu}\n      - {subnets: [10.0.0.0/8], pool: us}\n",
		"k:\n- a\n- b\nj: c\n",
		"k:\n- x: 1\n  y: 'it''s'\n- z: \"q r\"\n",
		"  indented: root\n  other: [ ]\n",
		"t: {a: true, b: False, c: ~, d: null, e: .inf, f: +.INF, g: .5, h: 1e3, i: 0x1F, j: 0o17, k: 0b101, l: +0b11, m: 1_000, n: +7, o: 012, p: 3.25, q: +1.5e-3, r: 99999999999999999999, s: 18446744073709551615, u: yes, v: 0x, w: 1.2.3, x: 1e, y: .x}\n",
		"txt: v=spf1 include:_spf.example.com ~all\nurl: http://example.com/x#y\nsp: a  b   # c\n",
		"e: {}\nf: []\n",
		"'*': {type: CNAME, value: a.example.}\n\"q\": [\"x y\", 'z']\n",
		"a:\n  b:\n    c: [d, [e, {f: g}]]\n",
		"n: [-77.0, -1, -.5, -.inf, -0b11, -1.5e-3]\nm: -7\n-3: x\n",
		`q: "a\\b\"c"` + "\n" + `r: ["x\\;y"]` + "\n",
	} {
		if !check(t, src) {
			t.Errorf("refused:\n%s", src)
		}
	}
}

// TestRefused: what the subset leaves to yaml.v3 (or yaml.v3 refuses)
// is refused, never guessed.
func TestRefused(t *testing.T) {
	for _, src := range []string{
		"",
		"# only\n",
		"a: &x 1\nb: *x\n",
		"a: !!str 1\n",
		"a: |\n  text\n",
		"a: >\n  text\n",
		"a: b\n  c\n",            // continuation line
		"a:\n",                   // empty value
		"a: {b: }\n",             // empty value
		"a: [b,\n c]\n",          // flow over two lines
		"a:\tb\n",                // tab
		"a: b\r\n",               // CR
		"a: caf\xc3\xa9\n",       // non-ASCII
		"---\na: b\n",            // document marker
		"%YAML 1.1\n---\na: b\n", // directive
		"? a\n: b\n",             // explicit key
		"a: \"x\\ty\"\n",         // escapes other than \\ and \"
		`a: "\/"` + "\n",
		"a: -x\n",
		"a: [-]\n",
		"a: 'x\n",         // unclosed
		"a: 2001-12-14\n", // a date
		"a: 2001-12-14t21:59:43\n",
		"a: b: c\n",
		"a: 1\n b: 2\n",
		"a:\n  b: 1\n c: 2\n",
		"a: [b, ]\n",
		"<<: {a: 1}\n",
		"a: [x: 1]\n",
		"a: [2001:db8::]\n",
		"scalar\n",
		"a: 1\n- b\n",
		"a: [b]#c\n",
	} {
		if check(t, src) {
			t.Errorf("accepted:\n%q", src)
		}
	}
}

// TestZoneFiles: every YAML zone file in the repository parses the same
// both ways, and the examples are inside the subset.
func TestZoneFiles(t *testing.T) {
	var files []string
	for _, pat := range []string{"../../examples/*/zones/*.yaml", "../../examples/zones/*.yaml", "../../zones/testdata/yaml/*.yaml",
		"../../pools/testdata/parse/*.yaml", "../../cmd/meridian/testdata/*/*/zones/*.yaml", "../../cmd/meridian/testdata/*/zones/*.yaml"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %d zone files", len(files))
	}
	accepted := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if check(t, string(b)) {
			accepted++
		} else if strings.Contains(f, "examples") {
			t.Errorf("%s: outside the subset", f)
		}
	}
	t.Logf("%d of %d files inside the subset", accepted, len(files))
}

// FuzzSameTree: on any input, Parse either refuses or agrees with yaml.v3.
func FuzzSameTree(f *testing.F) {
	f.Add("a: 1\n")
	f.Add("w:\n  - {type: A, values: [192.0.2.1, 10.0.0.0/8]}\n  - type: TXT\n    value: 'x''y'\n")
	f.Add("k:\n- x: 1\n  y: [a, {b: c}]\n- z\n")
	f.Add("t: {a: true, c: ~, e: .inf, h: 1e3, i: 0x1F, m: 1_000, r: 2001:db8::1}\n")
	f.Fuzz(func(t *testing.T, src string) {
		check(t, src)
	})
}

// TestOwnStrings: the tree holds copies, not the caller's bytes, and a
// value that occurs twice is one string.
func TestOwnStrings(t *testing.T) {
	src := "a: {type: A, values: [x, 'y''z', \"w\"]}\nb: {type: A, value: x}\n"
	data := []byte(src)
	got, ok := Parse(data)
	if !ok {
		t.Fatal("refused")
	}
	for i := range data {
		data[i] = '#'
	}
	want, _ := Parse([]byte(src))
	if err := same(got, want, ""); err != nil {
		t.Fatalf("the tree changed with the input: %v", err)
	}
	a := got.Content[0].Content[1].Content[1].Value // a's type
	b := got.Content[0].Content[3].Content[1].Value // b's type
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("the two A values are separate strings")
	}
}

// TestEach: Each hands over the root mapping's pairs as Parse's tree has
// them, each intact while f runs although their memory is reused, and
// refuses what Parse refuses or a root that is not a block mapping.
func TestEach(t *testing.T) {
	srcs := []string{
		"a: 1\nb: {c: [d, e]}\nc:\n  - x: 1\n    y: [2, 3]\n  - z\nd: 'q'\n",
		"'': {type: A, value: 192.0.2.1}\nwww:\n  - {type: A, values: [192.0.2.1, 192.0.2.2]}\n",
	}
	files, _ := filepath.Glob("../../examples/*/zones/*.yaml")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		srcs = append(srcs, string(b))
	}
	for _, src := range srcs {
		doc, ok := Parse([]byte(src))
		if !ok {
			t.Fatalf("Parse refused:\n%s", src)
		}
		root := doc.Content[0]
		i := 0
		ok = Each([]byte(src), func(k, v *yaml.Node) {
			if err := same(k, root.Content[2*i], "key"); err != nil {
				t.Fatal(err)
			}
			if err := same(v, root.Content[2*i+1], "value"); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if !ok || 2*i != len(root.Content) {
			t.Fatalf("Each: %v after %d of %d pairs:\n%s", ok, i, len(root.Content)/2, src)
		}
	}
	for _, src := range []string{"- a\n- b\n", "a: 1\nb: &x 2\n", "", "a: 1\n  b: 2\n"} {
		if Each([]byte(src), func(k, v *yaml.Node) {}) {
			t.Errorf("Each accepted %q", src)
		}
	}
}

// TestClone: a clone is the same tree in nodes of its own.
func TestClone(t *testing.T) {
	doc, _ := Parse([]byte("a: {b: [c, {d: e}], f: []}\n"))
	orig := doc.Content[0]
	c := Clone(orig)
	if err := same(c, orig, ""); err != nil {
		t.Fatal(err)
	}
	var walk func(a, b *yaml.Node)
	walk = func(a, b *yaml.Node) {
		if a == b {
			t.Fatalf("node %q shared", a.Value)
		}
		for i := range a.Content {
			walk(a.Content[i], b.Content[i])
		}
	}
	walk(c, orig)
}

// benchZone is a zone file shaped like the bench's big zone: static names
// with one or two addresses, and geo records with pools and rules.
func benchZone() []byte {
	var b strings.Builder
	b.WriteString("'':\n  - {type: NS, values: [ns1.example.com., ns2.example.com.]}\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "host-%d:\n  - {type: A, values: [172.16.%d.%d, 172.16.%d.%d]}\n", i, i/250, i%250, i/250, i%250+1)
	}
	for i := range 200 {
		fmt.Fprintf(&b, "geo-%d:\n  type: A\n  ttl: 30\n  values: [172.17.%d.1]\n  dynamic:\n    pools:\n"+
			"      us: {values: [{value: 172.17.%d.1}, {value: 172.17.%d.2}]}\n      eu: {fallback: us, values: [{value: 172.17.%d.3}]}\n"+
			"    rules:\n      - {geos: [EU, AF], pool: eu}\n      - {pool: us}\n  octodns: {meridian: {answers: 2}}\n", i, i, i, i, i)
	}
	return []byte(b.String())
}

// BenchmarkRead compares the ways of reading a zone file: yaml.v3's tree,
// Parse's, and Each's pair at a time.
func BenchmarkRead(b *testing.B) {
	data := benchZone()
	b.Run("yaml.v3", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var n yaml.Node
			if err := yaml.Unmarshal(data, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := Parse(data); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("Each", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if !Each(data, func(k, v *yaml.Node) {}) {
				b.Fatal("refused")
			}
		}
	})
}

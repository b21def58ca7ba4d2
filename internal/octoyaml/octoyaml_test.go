package octoyaml

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// node parses src and returns its (alias-resolved) top-level value.
func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	return Resolve(doc.Content[0])
}

// value returns the node under key "v" of src (a mapping).
func value(t *testing.T, src string) *yaml.Node {
	t.Helper()
	return Map(node(t, src)).Get("v")
}

func TestPairs(t *testing.T) {
	// Past 16 pairs Pairs takes its general path; a repeat still keeps
	// the first.
	var big, bigWant []string
	for i := range 18 {
		big = append(big, fmt.Sprintf("k%d: %d", i, i))
		bigWant = append(bigWant, fmt.Sprintf("k%d=%d", i, i))
	}
	big = append(big, "k3: x")
	for _, tt := range []struct{ src, want string }{
		{"{" + strings.Join(big, ", ") + "}", strings.Join(bigWant, " ")},
		{"{a: 1, b: 2}", "a=1 b=2"},
		{"{}", ""},
		{"base: &b {x: 1, y: 2}\nv:\n  <<: *b\n  y: 3\n", "base={} v={}"},
		{"{a: 1, a: 2, b: 3}", "a=1 b=3"},
		{"{<<: [{x: 1}, {x: 2, y: 2}], z: 0}", "z=0 x=1 y=2"},
		{"{'<<': {x: 1}}", "<<={}"},
		{"{!!str <<: {x: 1}}", "<<={}"},
		{"k: &k name\nm: {*k : 1}\n", "k=name m={}"},
	} {
		var parts []string
		for _, kv := range Pairs(node(t, tt.src)) {
			v := kv.Val.Value
			if kv.Val.Kind == yaml.MappingNode {
				v = "{}"
			}
			parts = append(parts, kv.Key.Value+"="+v)
		}
		if got := strings.Join(parts, " "); got != tt.want {
			t.Errorf("Pairs(%q) = %q; want %q", tt.src, got, tt.want)
		}
	}
	// Merged keys, and keys that are aliases, come out resolved.
	m := Map(value(t, "base: &b {x: 1, y: 2}\nk: &k name\nv:\n  <<: *b\n  y: 3\n  *k : 4\n"))
	if got, want := len(m), 3; got != want {
		t.Errorf("got %d keys in %v; want %d", got, m, want)
	}
	for k, want := range map[string]string{"x": "1", "y": "3", "name": "4"} {
		if got := m.Get(k); got == nil || got.Value != want {
			t.Errorf("got %s=%v; want %s", k, got, want)
		}
	}
}

func TestNilAndNonCollections(t *testing.T) {
	scalar := node(t, "7")
	if got := Pairs(nil); got != nil {
		t.Errorf("got Pairs(nil) %v; want nil", got)
	}
	if got := Map(scalar); got != nil {
		t.Errorf("got Map(scalar) %v; want nil", got)
	}
	if got := Map(node(t, "{}")); got == nil || len(got) != 0 {
		t.Errorf("got Map({}) %v; want empty non-nil", got)
	}
	if got := Items(scalar); got != nil {
		t.Errorf("got Items(scalar) %v; want nil", got)
	}
	if got := Resolve(nil); got != nil {
		t.Errorf("got Resolve(nil) %v; want nil", got)
	}
	items := Items(node(t, "a: &a x\nv: [*a, y]\n").Content[3])
	if len(items) != 2 || items[0].Kind != yaml.ScalarNode || items[0].Value != "x" || items[1].Value != "y" {
		t.Errorf("got Items %v; want [x y] resolved", items)
	}
}

func TestPythonValues(t *testing.T) {
	for _, tt := range []struct {
		src          string
		null, truthy bool
		str, repr    string
	}{
		{"v: ~", true, false, "None", "None"},
		{"{}", true, false, "None", "None"}, // missing key
		{"v: true", false, true, "True", "True"},
		{"v: no", false, true, "no", "'no'"}, // YAML 1.2 core schema in yaml.v3
		{"v: false", false, false, "False", "False"},
		{"v: 0", false, false, "0", "0"},
		{"v: 0.0", false, false, "0.0", "0.0"},
		{"v: '0'", false, true, "0", "'0'"},
		{"v: ''", false, false, "", "''"},
		{"v: []", false, false, "[]", "[]"},
		{"v: [a, 1, it's]", false, true, `['a', 1, 'it\'s']`, `['a', 1, 'it\'s']`},
		{"v: {a: 1, b: [x]}", false, true, "{'a': 1, 'b': ['x']}", "{'a': 1, 'b': ['x']}"},
		{"a: &a hello\nv: *a", false, true, "hello", "'hello'"},
	} {
		n := value(t, tt.src)
		if got := Null(n); got != tt.null {
			t.Errorf("%q: got Null %v; want %v", tt.src, got, tt.null)
		}
		if got := Truthy(n); got != tt.truthy {
			t.Errorf("%q: got Truthy %v; want %v", tt.src, got, tt.truthy)
		}
		if got := Str(n); got != tt.str {
			t.Errorf("%q: got Str %q; want %q", tt.src, got, tt.str)
		}
		if got := Repr(n); got != tt.repr {
			t.Errorf("%q: got Repr %q; want %q", tt.src, got, tt.repr)
		}
	}
}

func TestInt(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want int64
		ok   bool
	}{
		{"v: 42", 42, true},
		{"v: -7", -7, true},
		{"v: 0x10", 16, true},
		{"v: '42'", 42, true},
		{"v: ' 42 '", 42, true},
		{"v: '+1_000'", 1000, true},
		{"v: '-1_0'", -10, true},
		{"v: '1__0'", 0, false},
		{"v: '_1'", 0, false},
		{"v: '1_'", 0, false},
		{"v: '+_1'", 0, false},
		{"v: ''", 0, false},
		{"v: '0x10'", 0, false},
		{"v: '99999999999999999999'", 0, false},
		{"v: 1.5", 0, false},
		{"v: true", 0, false},
		{"v: ~", 0, false},
		{"v: [1]", 0, false},
		{"{}", 0, false},
		{"a: &a 5\nv: *a", 5, true},
	} {
		got, ok := Int(value(t, tt.src))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Int(%q): got %d, %v; want %d, %v", tt.src, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseInt(t *testing.T) {
	for _, tt := range []struct {
		s       string
		want    int64
		wantErr error
	}{
		{"65535", 65535, nil},
		{"6_5", 65, nil},
		{" 1", 0, strconv.ErrSyntax},
		{"1x", 0, strconv.ErrSyntax},
		{"", 0, strconv.ErrSyntax},
		{"99999999999999999999", 0, strconv.ErrRange},
	} {
		got, err := ParseInt(tt.s)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("ParseInt(%q): got %d, %v; want %d, %v", tt.s, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFloat(t *testing.T) {
	for _, tt := range []struct {
		src  string
		want float64
		ok   bool
	}{
		{"v: 1.5", 1.5, true},
		{"v: 3", 3, true},
		{"v: -.inf", math.Inf(-1), true},
		{"v: '1.5'", 1.5, true},
		{"v: ' 1e3 '", 1000, true},
		{"v: '1_000.5'", 1000.5, true},
		{"v: '-Infinity'", math.Inf(-1), true},
		{"v: '1e400'", math.Inf(1), true},
		{"v: '0x1p4'", 0, false},
		{"v: north", 0, false},
		{"v: ''", 0, false},
		{"v: true", 0, false},
		{"v: ~", 0, false},
		{"v: [1]", 0, false},
		{"{}", 0, false},
	} {
		got, ok := Float(value(t, tt.src))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Float(%q): got %v, %v; want %v, %v", tt.src, got, ok, tt.want, tt.ok)
		}
	}
	if got, ok := Float(value(t, "v: 'nan'")); !math.IsNaN(got) || !ok {
		t.Errorf("Float('nan'): got %v, %v; want NaN, true", got, ok)
	}
}

func TestIDNA(t *testing.T) {
	for _, tt := range []struct {
		s, want string
		err     bool
	}{
		{"Example.COM.", "Example.COM.", false},
		{"", "", false},
		{"bücher.example.", "xn--bcher-kva.example.", false},
		{"*.bücher.example", "*.xn--bcher-kva.example", false},
		{"bü cher.example.", "", true},
	} {
		got, err := IDNA(tt.s)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("IDNA(%q): got %q, %v; want %q, error %v", tt.s, got, err, tt.want, tt.err)
		}
	}
}

func TestValidFQDN(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"example.com.", true},
		{"example.com", true},
		{"_sip._tcp.example.com.", true},
		{"Ex-1.com.", true},
		{"com.", false},
		{".", false},
		{"", false},
		{"a..com.", false},
		{"-a.com.", false},
		{"a-.com.", false},
		{"a b.com.", false},
		{long + ".com.", true},
		{long + "a.com.", false},
		{strings.Repeat(long+".", 3) + strings.Repeat("a", 61) + ".", true},  // 253
		{strings.Repeat(long+".", 3) + strings.Repeat("a", 62) + ".", false}, // 254
	} {
		if got := ValidFQDN(tt.s); got != tt.want {
			t.Errorf("ValidFQDN(%q): got %v; want %v", tt.s, got, tt.want)
		}
	}
}

func TestTarget(t *testing.T) {
	for _, tt := range []struct {
		src, want, reasons string
	}{
		{"v: Mail.Example.com.", "mail.example.com.", ""},
		{"v: bücher.example.", "xn--bcher-kva.example.", ""},
		{"{}", "", "missing exchange"},
		{"v: ''", "", "missing exchange"},
		{"v: 0", "", "missing exchange"},
		{"v: [a.]", "", `MX exchange "['a.']" is not a valid FQDN`},
		{"v: mail", "mail", `MX exchange "mail" is not a valid FQDN|MX exchange "mail" missing trailing .`},
		{"v: mail.example.com", "mail.example.com", `MX exchange "mail.example.com" missing trailing .`},
		{"v: a..b.", "a..b.", `MX exchange "a..b." is not a valid FQDN`},
	} {
		got, reasons := Target(value(t, tt.src), "MX", "exchange")
		if got != tt.want || strings.Join(reasons, "|") != tt.reasons {
			t.Errorf("Target(%q): got %q, %q; want %q, %q", tt.src, got, reasons, tt.want, tt.reasons)
		}
	}
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// computedDefaults are keys whose default is not a constant of Default():
// the host name differs per machine, and a nil *bool means "on". Reference
// fails if one of these keys disappears, so the table cannot go stale.
var computedDefaults = map[string]string{
	"node.name":   "the host name",
	"zones.watch": "`true`",
}

// refRow is one key of the reference.
type refRow struct {
	key, typ, def, doc string
}

// refSection is one YAML mapping: its key path, what it is for, and its keys.
type refSection struct {
	key, doc string
	rows     []refRow
}

// Reference renders the Markdown configuration reference (docs/config.md)
// from src, the text of config.go: key paths and defaults come from the
// Config struct and Default() by reflection, meanings from the doc comments
// of the fields in src. A field without a comment is an error, so a new key
// cannot ship undocumented.
func Reference(src []byte) ([]byte, error) {
	docs, typeDocs, err := fieldDocs(src)
	if err != nil {
		return nil, err
	}
	r := &refWalker{docs: docs, typeDocs: typeDocs, seen: map[string]bool{}}
	top := &refSection{key: ""}
	r.sections = append(r.sections, top)
	r.walk(top, reflect.ValueOf(*Default()), "")
	for key := range computedDefaults {
		if !r.seen[key] {
			r.missing = append(r.missing, fmt.Sprintf("%s: listed in computedDefaults but not a config key", key))
		}
	}
	if len(r.missing) > 0 {
		return nil, errors.New("config reference: " + strings.Join(r.missing, "; "))
	}
	var b bytes.Buffer
	b.WriteString(referenceHeader)
	for _, s := range r.sections {
		if len(s.rows) == 0 {
			continue
		}
		if s.key == "" {
			b.WriteString("\n## Top-level keys\n\n")
		} else {
			fmt.Fprintf(&b, "\n## `%s`\n\n", s.key)
		}
		if s.doc != "" {
			b.WriteString(s.doc + "\n\n")
		}
		b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
		for _, row := range s.rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", row.key, row.typ, row.def, cell(row.doc))
		}
	}
	return b.Bytes(), nil
}

type refWalker struct {
	docs     map[string]map[string]fieldDoc // type name → field name → comment
	typeDocs map[string]string              // type name → comment
	sections []*refSection
	seen     map[string]bool
	missing  []string
}

var durationType = reflect.TypeOf(time.Duration(0))

// walk adds the fields of struct value v (key path prefix) to sec, and a
// new section for every nested struct.
func (r *refWalker) walk(sec *refSection, v reflect.Value, prefix string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		key := prefix + name
		r.seen[key] = true
		fd := r.docs[t.Name()][f.Name]
		doc := fd.text
		if fd.above {
			doc = userTerms(doc, f.Name, key)
		}
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			// A section is described by its type's comment, else the field's.
			sub := &refSection{key: key, doc: userTerms(r.typeDocs[f.Type.Name()], f.Type.Name(), key)}
			if sub.doc != "" {
				sub.doc = strings.ToUpper(sub.doc[:1]) + sub.doc[1:]
			}
			if sub.doc == "" {
				sub.doc = doc
			}
			if sub.doc == "" {
				r.missing = append(r.missing, fmt.Sprintf("%s (type %s) has no doc comment in config.go", key, f.Type.Name()))
			}
			r.sections = append(r.sections, sub)
			r.walk(sub, v.Field(i), key+".")
			continue
		}
		if doc == "" {
			r.missing = append(r.missing, fmt.Sprintf("%s (%s.%s) has no doc comment in config.go", key, t.Name(), f.Name))
		}
		def, ok := computedDefaults[key]
		if !ok {
			def = "`" + yamlValue(v.Field(i)) + "`"
		}
		sec.rows = append(sec.rows, refRow{key: key, typ: typeName(f.Type), def: def, doc: doc})
	}
}

// fieldDoc is the comment of a struct field.
type fieldDoc struct {
	text  string
	above bool // a doc comment above the field, which starts with its Go name
}

// fieldDocs parses config.go and returns the comment of every struct
// field (the doc comment above it, else the line comment after it) and of
// every type.
func fieldDocs(src []byte) (map[string]map[string]fieldDoc, map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", src, parser.ParseComments)
	if err != nil {
		return nil, nil, fmt.Errorf("config reference: %w", err)
	}
	docs := map[string]map[string]fieldDoc{}
	typeDocs := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, spec := range g.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			doc := ts.Doc
			if doc == nil && len(g.Specs) == 1 {
				doc = g.Doc
			}
			typeDocs[ts.Name.Name] = commentText(doc)
			fields := map[string]fieldDoc{}
			for _, fl := range st.Fields.List {
				fd := fieldDoc{text: commentText(fl.Doc), above: true}
				if fd.text == "" {
					fd = fieldDoc{text: commentText(fl.Comment)}
				}
				for _, n := range fl.Names {
					fields[n.Name] = fd
				}
			}
			docs[ts.Name.Name] = fields
		}
	}
	return docs, typeDocs, nil
}

// commentText joins a comment group into one paragraph.
func commentText(g *ast.CommentGroup) string {
	if g == nil {
		return ""
	}
	return strings.Join(strings.Fields(g.Text()), " ")
}

// userTerms replaces the Go name (a field's or a type's) that starts a
// doc comment with the key a user writes.
func userTerms(doc, goName, key string) string {
	if rest, ok := strings.CutPrefix(doc, goName+" "); ok {
		return "`" + key + "` " + rest
	}
	return doc
}

// typeName is the YAML type of a Go field type, in a user's words.
func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Uint16, reflect.Uint32:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list of " + typeName(t.Elem()) + "s"
	}
	panic("config reference: no YAML name for " + t.String())
}

// yamlValue formats v as a user would write it in the config file.
func yamlValue(v reflect.Value) string {
	if v.Type() == durationType {
		return formatDuration(time.Duration(v.Int()))
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = yamlValue(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return fmt.Sprint(v.Interface())
}

// formatDuration drops the zero units time.Duration.String adds ("1h0m0s"
// is written "1h").
func formatDuration(d time.Duration) string {
	s := d.String()
	if d == 0 {
		return s
	}
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// cell escapes text for a Markdown table cell: pipes end cells, and
// <zone> would be read as an HTML tag.
var cell = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace

// referenceHeader opens docs/config.md; ¦ stands for a backtick.
var referenceHeader = strings.ReplaceAll(`# Configuration reference

<!-- Generated from internal/config/config.go by
     go test ./internal/config -run TestReference -update
     Edit the field comments there, not this file. -->

Meridian reads one YAML file, named with ¦--config FILE¦ (¦meridian serve¦,
¦check¦, ¦explain¦, ¦status¦, ¦drain¦); without it, ¦./meridian.yaml¦, else
¦/etc/meridian/meridian.yaml¦. Every key is optional: a key left out
takes the default listed here. An unknown key is an error that names the key
and its line (¦meridian.yaml:3: unknown key "dns.listn"¦), so a typo never
falls back to a default silently. ¦meridian check --config FILE¦
validates a file, opens every file and directory it names as ¦serve¦ does at
start (¦mesh.keyfile¦, ¦api.token_file¦, ¦geoip.databases¦,
¦log.queries.path¦, ¦state_dir¦, ¦mesh.state_dir¦) and loads every zone it
points at, without serving anything; ¦serve¦ refuses to start on the same
problems, each named by its key.

**Paths.** A relative path (¦zones.dir¦, ¦state_dir¦, ¦geoip.databases¦,
¦api.token_file¦, ¦mesh.keyfile¦, ¦mesh.state_dir¦, ¦log.queries.path¦) is
resolved against the directory of the config file, not the working
directory: ¦zones.dir: zones¦ in ¦/etc/meridian/meridian.yaml¦ means
¦/etc/meridian/zones¦.

**Durations** are strings in Go's ¦time.ParseDuration¦ syntax: numbers with
a unit (¦ns¦, ¦us¦, ¦ms¦, ¦s¦, ¦m¦, ¦h¦), several of them concatenated:
¦250ms¦, ¦1.5s¦, ¦2m¦, ¦1h30m¦. There is no unit for days. A bare number is
an error, even ¦0¦: write ¦0s¦.

**Addresses** are ¦host:port¦, with IPv6 hosts in brackets
(¦"[2001:db8::53]:53"¦). An empty host (¦":53"¦) listens on every address;
port 0 takes a free port, and the log line ¦msg=listening addr=...¦ names it.

**What SIGHUP changes.** SIGHUP (¦systemctl reload meridian¦) re-reads this
file, then every zone. A file that fails to load is logged and the running
configuration stays in force. These keys take effect on SIGHUP:
¦dns.udp_size¦, ¦dns.nsid¦, ¦dns.version¦, ¦dns.rrl.*¦, the ¦dns.tcp.*¦
limits other than ¦read_timeout¦ and ¦max_queries¦ (for connections
accepted after the reload), ¦transfer.*¦, ¦zones.dir¦, ¦soa.*¦, ¦dynamic_ttl¦, ¦degraded_ttl¦, ¦log.level¦,
¦log.queries.*¦ (SIGHUP also reopens the query log file, for logrotate),
¦geoip.databases¦, and the health-check defaults ¦health.interval¦,
¦timeout¦, ¦rise¦, ¦fall¦, ¦expect¦ and ¦tls_verify¦ (an endpoint whose check
settings change is a new endpoint: it starts again from ¦health.assume¦).
Every other key needs a restart: ¦node.*¦, ¦dns.listen¦, ¦dns.udp_sockets¦,
¦dns.tcp.read_timeout¦ and ¦dns.tcp.max_queries¦ (a reload that changes
them logs a warning), ¦zones.watch¦ and ¦zones.debounce¦ (a new
¦zones.dir¦ is watched from the reload on; one that cannot be read fails
the reload), ¦state_dir¦,
¦log.format¦, ¦health.assume¦, ¦health.concurrency¦, ¦api.*¦ and ¦mesh.*¦.
Zone files need neither: changes under ¦zones.dir¦ are picked up by
themselves.
`, "¦", "`")

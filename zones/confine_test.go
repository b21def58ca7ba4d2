package zones

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestZoneFileLinks: zone files are read through the zones directory's
// root. Links that stay inside are followed, as in a Kubernetes ConfigMap
// mount (the directory itself a link, its files links into "..data");
// links that leave it are refused without reading the target, whose
// content would otherwise show in problems.
func TestZoneFileLinks(t *testing.T) {
	outside := t.TempDir()
	secret := "www: {type: A, value: s3cr3t-token}\n"
	if err := os.WriteFile(filepath.Join(outside, "example.com.yaml"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "example.com.zone"), []byte("s3cr3t IN A\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const outsideMsg = "symbolic link leads outside the zones directory"
	for _, tt := range []struct {
		name   string
		file   string // the zone file, a link
		target string // where it leads; "%OUT%" is the outside directory
		want   string // the problem; "" when the zone loads
	}{
		{"yaml inside", "example.com.yaml", "..data/example.com.yaml", ""},
		{"zone inside", "example.com.zone", "..data/example.com.zone", ""},
		{"yaml outside", "example.com.yaml", "../out/example.com.yaml", outsideMsg},
		{"zone outside", "example.com.zone", "../out/example.com.zone", outsideMsg},
		{"yaml absolute", "example.com.yaml", "%OUT%/example.com.yaml",
			"symbolic link is absolute; only relative links that stay in the zones directory are followed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// base/zones -> ..2026 holds the files; base/out is outside.
			base := t.TempDir()
			real := filepath.Join(base, "..2026")
			if err := os.MkdirAll(filepath.Join(real, "..v1"), 0o755); err != nil {
				t.Fatal(err)
			}
			writeZone(t, filepath.Join(real, "..v1"), "example.com.yaml", strings.ReplaceAll(yamlZone, "example.org.", "example.com."))
			writeZone(t, filepath.Join(real, "..v1"), "example.com.zone", strings.ReplaceAll(otherZone, "other.test.", "example.com."))
			mustLink(t, "..v1", filepath.Join(real, "..data"))
			mustLink(t, "..2026", filepath.Join(base, "zones"))
			mustLink(t, outside, filepath.Join(base, "out"))
			mustLink(t, strings.ReplaceAll(tt.target, "%OUT%", outside), filepath.Join(real, tt.file))
			dir := filepath.Join(base, "zones")

			set, ps := Load(Options{Dir: dir, SOA: testSOA})
			if tt.want == "" {
				if len(ps) > 0 || set.Zone("example.com.") == nil {
					t.Fatalf("got problems %v; want the zone loaded", ps)
				}
				return
			}
			want := filepath.Join(dir, tt.file) + ": " + tt.want
			if len(ps) != 1 || ps[0].String() != want {
				t.Fatalf("problems: got %v; want %s", ps, want)
			}
			if strings.Contains(ps.Error(), "s3cr3t") {
				t.Errorf("problems show the outside file: %v", ps)
			}
		})
	}
}

func mustLink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
)

// TestSignedQueryUDP: a secondary's signed SOA check over UDP is answered
// signed, and dig and kdig verify the signature; a query signed with a
// key or secret we do not have gets NOTAUTH with BADKEY or BADSIG, as
// over TCP.
func TestSignedQueryUDP(t *testing.T) {
	tsig := fmt.Sprintf("  tsig: {name: %s, algorithm: hmac-sha256, secret: %q}\n", xfrKey, xfrSecret)
	n := testbin.Start(t, xfrConfig("transfer:\n  allow: [127.0.0.1/32]\n"+tsig), map[string]string{
		"zones/example.org.yaml": xfrZoneYAML,
	})
	key := "hmac-sha256:" + strings.TrimSuffix(xfrKey, ".") + ":" + xfrSecret
	for _, tool := range []string{"dig", "kdig"} {
		p := xfrTool(t, tool)
		t.Run(tool, func(t *testing.T) {
			for _, tt := range []struct {
				name, key, want string
				signed          bool
			}{
				{"signed", key, "NOERROR", true},
				{"unknown key", "hmac-sha256:other-key:" + xfrSecret, "BADKEY", false},
				{"wrong secret", "hmac-sha256:xfr-key:d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=", "BADSIG", false},
			} {
				t.Run(tt.name, func(t *testing.T) {
					out := xfrRun(t, p, n.Addr, "-y", tt.key, "+notcp", "SOA", "example.org.")
					if !strings.Contains(out, "(UDP)") || !strings.Contains(out, ";; TSIG PSEUDOSECTION:") {
						t.Fatalf("want a UDP answer with a TSIG record\n%s", out)
					}
					tsigLine := ""
					for _, l := range strings.Split(out, "\n") {
						if f := strings.Fields(l); len(f) > 3 && f[3] == "TSIG" {
							tsigLine = l
						}
					}
					if !strings.Contains(tsigLine, " "+tt.want+" ") && !strings.HasSuffix(tsigLine, " "+tt.want) {
						t.Errorf("TSIG record %q; want error %s\n%s", tsigLine, tt.want, out)
					}
					soa := strings.Contains(out, "IN\tSOA\tns1.example.org.")
					failed := strings.Contains(out, "Couldn't verify") || // dig
						strings.Contains(out, "TSIG could not be validated") || // dig
						strings.Contains(out, "failed to verify TSIG") // kdig
					if tt.signed && (!soa || failed || !strings.Contains(out, "status: NOERROR")) {
						t.Errorf("want the SOA, its TSIG verified\n%s", out)
					}
					if !tt.signed && (soa || !failed) {
						t.Errorf("want no records and an unsigned error\n%s", out)
					}
				})
			}
		})
	}
}

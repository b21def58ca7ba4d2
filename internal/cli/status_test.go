package cli

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridiandns/meridian/internal/api"
)

func TestStatusArgs(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--bogus"}, 2, "unknown flag --bogus"},
		{[]string{"--json=yes"}, 2, "takes no value"},
		{[]string{"--api"}, 2, "needs a value"},
		{[]string{"--api", "ftp://x"}, 1, "want a URL"},
		{[]string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, 1, "none.yaml"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var errOut bytes.Buffer
			if code := Run(append([]string{"status"}, tt.args...), io.Discard, &errOut); code != tt.wantCode {
				t.Errorf("got exit %d; want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("got stderr %q; want it to contain %q", errOut.String(), tt.wantStderr)
			}
		})
	}
}

// TestStatusFromConfig finds the API through api.listen; reading needs no
// token, so an unreadable token file does not stop it.
func TestStatusFromConfig(t *testing.T) {
	s, err := api.New(api.Options{}, &roundTripBackend{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "meridian.yaml")
	os.WriteFile(cfg, []byte("api:\n  listen: "+strings.TrimPrefix(srv.URL, "http://")+"\n  token_file: missing.token\n"), 0o600)

	var out, errOut bytes.Buffer
	if code := Run([]string{"status", "--config", cfg}, &out, &errOut); code != 0 {
		t.Fatalf("got exit %d (%s); want 0", code, errOut.String())
	}
	for _, want := range []string{"api:    " + srv.URL + "\n", "REGION  NODE  STATE  ADDRESS\n", "drains: none\n", "last reload: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got:\n%s\nwant it to contain %q", out.String(), want)
		}
	}
}

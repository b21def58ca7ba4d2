package healthmesh

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridiandns/meridian/pools"
)

// TestDrainPersistFailure: a drain that cannot be written still applies,
// the failure is reported until a write succeeds, and that write holds
// every drain, the ones set while failing included.
func TestDrainPersistFailure(t *testing.T) {
	dir := t.TempDir()
	n, err := aloneNode(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	// A directory where the file goes fails the rename, even for root.
	if err := os.Mkdir(filepath.Join(dir, "drains.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SetDrain("198.51.100.1", 0, "", "test", false); err == nil {
		t.Error("SetDrain: got no error; want the failed write")
	}
	if !n.Drained(nil, nil, &pools.Value{Value: "198.51.100.1"}) {
		t.Error("drain not applied after a failed write")
	}
	st := n.DrainPersistence()
	if st.Err == nil || st.Since.IsZero() || st.Failures != 1 || st.Path != filepath.Join(dir, "drains.json") {
		t.Errorf("while failing: got %+v", st)
	}
	if n.DrainError() == nil {
		t.Error("DrainError: got nil while failing")
	}

	if err := os.Remove(filepath.Join(dir, "drains.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.SetDrain("pool:eu", 0, "", "test", false); err != nil {
		t.Fatalf("SetDrain after the fix: %v", err)
	}
	st = n.DrainPersistence()
	if st.Err != nil || !st.Since.IsZero() || st.Failures != 1 {
		t.Errorf("after the fix: got %+v; want the error cleared, the failure still counted", st)
	}
	data, err := os.ReadFile(filepath.Join(dir, "drains.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list []Drain
	if err := json.Unmarshal(data, &list); err != nil || len(list) != 2 {
		t.Errorf("drains.json: got %d drains (%v); want both", len(list), err)
	}
}

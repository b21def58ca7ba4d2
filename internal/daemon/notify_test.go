package daemon

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/internal/notifytest"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/meridiandns/meridian/zones"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const notifySecret = "bm90aWZ5LWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OWFiY2RlZg=="

func loadSet(t *testing.T, dir string, serials map[string]int) *zones.Set {
	t.Helper()
	for zone, serial := range serials {
		body := "$ORIGIN " + zone + "\n$TTL 300\n@ SOA ns1." + zone + " h." + zone + " " +
			strconv.Itoa(serial) + " 7200 1800 1209600 60\n@ NS ns1." + zone + "\nns1 A 192.0.2.1\n"
		if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(zone, ".")+".zone"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, ps := zones.Load(zones.Options{Dir: dir})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	return set
}

func newTestNotifier(t *testing.T, targets []string, key config.TSIG) (*notifier, *prometheus.CounterVec) {
	t.Helper()
	counts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_notifies_total", Help: "test"}, []string{"result"})
	n := newNotifier(slog.New(slog.NewTextHandler(testWriter{t}, nil)), counts)
	n.firstTry = 100 * time.Millisecond
	n.attempts = 3
	c := config.Default()
	c.Transfer.Notify = targets
	c.Transfer.TSIG = key
	n.configure(c)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		n.wait()
	})
	n.start(ctx)
	return n, counts
}

func counter(v *prometheus.CounterVec, result string) float64 {
	var m dto.Metric
	v.WithLabelValues(result).Write(&m)
	return m.GetCounter().GetValue()
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestNotify: every zone is notified at start; a retry follows an ignored
// NOTIFY and the reply stops them; a changed serial is notified again and
// an unchanged one is not; the NOTIFY is signed when a key is set.
func TestNotify(t *testing.T) {
	key := config.TSIG{Name: "notify-key.", Algorithm: "hmac-sha256", Secret: notifySecret}
	for _, tt := range []struct {
		name string
		key  config.TSIG
	}{{"unsigned", config.TSIG{}}, {"signed", key}} {
		t.Run(tt.name, func(t *testing.T) {
			sec := notifytest.Start(t, 1, map[string]string{key.Name: key.Secret})
			n, counts := newTestNotifier(t, []string{sec.Addr}, tt.key)
			dir := t.TempDir()
			n.zonesLoaded(loadSet(t, dir, map[string]int{"a.test.": 10, "b.test.": 20}))

			testbin.Eventually(t, 5*time.Second, func() bool { return counter(counts, "acked") == 2 },
				"two acked NOTIFYs")
			time.Sleep(3 * n.firstTry) // long enough for a retry to show up, were one due
			for _, zone := range []string{"a.test.", "b.test."} {
				if c := len(sec.Of(zone, 0)); c != 2 {
					t.Errorf("%s: got %d NOTIFYs; want 2 (one ignored, one answered, then no more)", zone, c)
				}
			}
			for _, g := range sec.Received() {
				if g.Signed != (tt.key.Name != "") || (g.Signed && g.TSIG != nil) {
					t.Errorf("NOTIFY %+v (%v): want signed=%v and a good TSIG", g, g.TSIG, tt.key.Name != "")
				}
			}

			// b changes, a does not: only b is notified, with its new serial.
			n.zonesLoaded(loadSet(t, dir, map[string]int{"a.test.": 10, "b.test.": 21}))
			testbin.Eventually(t, 5*time.Second, func() bool { return counter(counts, "acked") == 3 },
				"the changed zone's NOTIFY acked")
			if c := len(sec.Of("a.test.", 0)); c != 2 {
				t.Errorf("a.test.: got %d NOTIFYs; want still 2", c)
			}
			got := sec.Received()
			if last := got[len(got)-1]; last.Zone != "b.test." || last.Serial != 21 {
				t.Errorf("last NOTIFY %+v; want b.test. with serial 21", last)
			}
			if f := counter(counts, "failed"); f != 0 {
				t.Errorf("failed: %v; want 0", f)
			}
		})
	}
}

// TestNotifyGivesUp: a secondary that never answers gets the configured
// number of tries, then the NOTIFY counts as failed.
func TestNotifyGivesUp(t *testing.T) {
	sec := notifytest.Start(t, 1000, nil)
	n, counts := newTestNotifier(t, []string{sec.Addr}, config.TSIG{})
	n.zonesLoaded(loadSet(t, t.TempDir(), map[string]int{"a.test.": 1}))
	testbin.Eventually(t, 5*time.Second, func() bool { return counter(counts, "failed") == 1 },
		"the NOTIFY to fail")
	if c := len(sec.Of("a.test.", 0)); c != n.attempts {
		t.Errorf("got %d tries; want %d", c, n.attempts)
	}
}

// TestNotifyNotBeforeStart: nothing is sent before the server answers.
func TestNotifyNotBeforeStart(t *testing.T) {
	sec := notifytest.Start(t, 0, nil)
	counts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"result"})
	n := newNotifier(slog.New(slog.DiscardHandler), counts)
	c := config.Default()
	c.Transfer.Notify = []string{sec.Addr}
	n.configure(c)
	n.zonesLoaded(loadSet(t, t.TempDir(), map[string]int{"a.test.": 1}))
	time.Sleep(200 * time.Millisecond)
	if got := sec.Received(); len(got) != 0 {
		t.Errorf("got %v before start; want nothing", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); n.wait() }()
	n.start(ctx)
	testbin.Eventually(t, 5*time.Second, func() bool { return len(sec.Of("a.test.", 0)) == 1 }, "the NOTIFY after start")
}

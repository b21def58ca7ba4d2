package server

import (
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/meridiandns/meridian/geo"
	"github.com/meridiandns/meridian/internal/bench"
	"github.com/meridiandns/meridian/zones"
)

// BenchmarkAnswerMix answers the query mix of make bench-gslb (geo,
// weighted, failover, static and NXDOMAIN names, varied ECS) from the same
// generated zones and GeoIP database, in the order dnsperf sends it: the
// user-space half of what that benchmark measures, without the kernel.
// One op is one query.
func BenchmarkAnswerMix(b *testing.B) {
	lay, err := bench.Generate(b.TempDir(), bench.NewScenario(bench.DefaultSpec()), bench.DefaultListeners())
	if err != nil {
		b.Fatal(err)
	}
	l, err := zones.NewLoader(zones.Options{Dir: filepath.Join(filepath.Dir(lay.Meridian), "zones"), DynamicTTL: 30, DegradedTTL: 10,
		SOA: zones.SOAValues{RName: "hostmaster", Refresh: 7200, Retry: 1800, Expire: 1209600, Minimum: 60, TTL: 3600}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if ps := l.Reload(); len(ps) > 0 {
		b.Fatal(ps)
	}
	g, err := geo.Open([]string{lay.GeoDB})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	s := New(Options{UDPSize: 1232}, l, slog.New(slog.DiscardHandler))
	s.SetGeo(g)
	msgs, err := bench.ReadQueryFile(lay.QueryFile)
	if err != nil {
		b.Fatal(err)
	}
	pkts := make([][]byte, len(msgs))
	for i, m := range msgs {
		pkts[i] = pack(b, m)
	}
	w := newWorker(s)
	src := netip.MustParseAddr("127.0.0.1")
	for _, p := range pkts {
		if _, v := w.fast(p, src); v != fastAnswer {
			b.Fatalf("a query of the mix is not answered by the fast path")
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.answer(pkts[i], src)
		if i++; i == len(pkts) {
			i = 0
		}
	}
}

package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meridiandns/meridian/internal/testbin"
)

// TestMeshUnauthenticatedQuiet sends packets and streams that are not
// sealed with the mesh key to the gossip port of the binary: each is
// counted in meridian_mesh_unauthenticated_packets_total, and the log has
// one warning for the lot rather than a line each.
func TestMeshUnauthenticatedQuiet(t *testing.T) {
	mesh := []string{net.JoinHostPort("127.0.0.1", fmt.Sprint(testbin.FreePort(t, "127.0.0.1")))}
	n := testbin.Start(t, meshConfig(0, mesh), map[string]string{
		"zones/example.com.yaml": meshZone("127.0.0.20", "127.0.0.21", "9"),
		"mesh.key":               meshKey + "\n",
	})
	n.WaitLog("mesh listening", 5*time.Second)
	const packets, streams = 200, 3
	u, err := net.Dial("udp", mesh[0])
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for range packets {
		if _, err := u.Write([]byte(strings.Repeat("x", 64))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // loopback drops nothing at this pace
	}
	for range streams {
		c, err := net.Dial("tcp", mesh[0])
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{0x01, 0x02, 0x03, 0x04}) // a push/pull, not encrypted
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 512)) // memberlist answers with an error, or closes
		c.Close()
	}
	key := mkey("meridian_mesh_unauthenticated_packets_total")
	testbin.Eventually(t, 5*time.Second, func() bool { return scrapeMetrics(t, n)[key] == packets+streams },
		"the counter at %d; got %v", packets+streams, func() string { return fmt.Sprint(scrapeMetrics(t, n)[key]) })
	logs := n.Logs()
	if got := strings.Count(logs, "refused a packet not sealed with the mesh key"); got != 1 {
		t.Errorf("got %d warnings; want one for the lot\n%s", got, logs)
	}
	if got := strings.Count(logs, "msg=memberlist"); got > 5 {
		t.Errorf("got %d memberlist lines; the refusals were logged one by one\n%s", got, logs)
	}
}

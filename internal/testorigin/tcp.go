package testorigin

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// TCP is a TCP origin that accepts connections and closes them at once.
// Its methods are safe for concurrent use.
type TCP struct {
	Addr string // host:port it listens on; fixed across Stop/Start

	t    testing.TB
	hits atomic.Int64

	life sync.Mutex // serialises Start and Stop

	mu   sync.Mutex    // guards the fields below
	ln   net.Listener  // nil while stopped
	done chan struct{} // closed when the accept loop returns
}

// NewTCP starts a TCP origin on addr ("" means "127.0.0.1:0"). It is
// stopped when the test ends.
func NewTCP(t testing.TB, addr string) *TCP {
	t.Helper()
	ln, err := listen(defaultAddr(addr))
	if err != nil {
		t.Fatalf("origin: %v", err)
	}
	o := &TCP{t: t, Addr: ln.Addr().String()}
	o.serve(ln)
	t.Cleanup(o.Stop)
	return o
}

// Hits is the number of connections accepted.
func (o *TCP) Hits() int64 { return o.hits.Load() }

// Stop stops listening; afterwards connections to Addr are refused.
func (o *TCP) Stop() {
	o.life.Lock()
	defer o.life.Unlock()
	o.mu.Lock()
	ln, done := o.ln, o.done
	o.ln = nil
	o.mu.Unlock()
	if ln == nil {
		return
	}
	ln.Close()
	<-done
}

// Start listens again on the same Addr after Stop; it does nothing if the
// origin is running. A failure to bind is reported with t.Errorf.
func (o *TCP) Start() {
	o.life.Lock()
	defer o.life.Unlock()
	o.mu.Lock()
	running := o.ln != nil
	o.mu.Unlock()
	if running {
		return
	}
	ln, err := listen(o.Addr)
	if err != nil {
		o.t.Errorf("origin: restart: %v", err)
		return
	}
	o.serve(ln)
}

func (o *TCP) serve(ln net.Listener) {
	done := make(chan struct{})
	o.mu.Lock()
	o.ln, o.done = ln, done
	o.mu.Unlock()
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.hits.Add(1)
			c.Close()
		}
	}()
}

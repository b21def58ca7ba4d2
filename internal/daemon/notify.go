package daemon

import (
	"context"
	"encoding/base64"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/meridiandns/meridian/internal/config"
	"github.com/meridiandns/meridian/server"
	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// transferOptions converts the transfer settings for the DNS server
// (validated by config.Load).
func transferOptions(c *config.Config) server.TransferOptions {
	o := server.TransferOptions{Allow: c.TransferAllow()}
	if k := c.Transfer.TSIG; k.Name != "" {
		sec, _ := base64.StdEncoding.DecodeString(k.Secret)
		o.Key = server.TSIGKey{Name: k.Name, Algorithm: config.TSIGAlgorithms[k.Algorithm], Secret: sec}
	}
	return o
}

// Notify defaults: five tries, waiting 1s, 2s, 4s, 8s and 16s for the
// reply, about half a minute in all; at most notifyParallel NOTIFYs in
// flight, however many zones and secondaries.
const (
	notifyAttempts  = 5
	notifyFirstWait = time.Second
	notifyParallel  = 32
)

// notifier sends NOTIFY (RFC 1996) to the secondaries in transfer.notify
// whenever a zone's serial differs from the one they were last told of:
// every zone once when serving starts, then each zone whose serial a
// reload changed. Each NOTIFY goes over UDP, signed with transfer.tsig
// when it is set, and is sent again with a doubling wait until a reply
// arrives or the tries run out.
//
// Its methods never block on the network: sending is done by goroutines
// it starts, so a reload or a query never waits for a secondary.
type notifier struct {
	log      *slog.Logger
	counts   *prometheus.CounterVec // by result: acked, failed
	attempts int                    // tries per NOTIFY
	firstTry time.Duration          // wait for the first reply; doubles each try
	slots    chan struct{}          // NOTIFYs in flight

	mu      sync.Mutex // guards the fields below
	targets []string
	key     config.TSIG // Name "" when unsigned
	set     *zones.Set  // the zones last loaded
	ctx     context.Context
	sent    map[notifyKey]*notifyJob // the serial each secondary was last sent, per zone
	wg      sync.WaitGroup           // the sending goroutines
}

type notifyKey struct{ zone, target string }

// notifyJob is the NOTIFY of one serial to one secondary.
type notifyJob struct {
	serial uint32
	cancel context.CancelFunc // stops its retries: superseded, or target gone
}

func newNotifier(log *slog.Logger, counts *prometheus.CounterVec) *notifier {
	return &notifier{log: log, counts: counts, attempts: notifyAttempts, firstTry: notifyFirstWait,
		slots: make(chan struct{}, notifyParallel), sent: map[notifyKey]*notifyJob{}}
}

// configure applies transfer.notify and transfer.tsig (at start and on a
// config reload). A secondary that is new to the list is told of every
// zone; one that left it is sent nothing more.
func (n *notifier) configure(c *config.Config) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.targets = slices.Clone(c.Transfer.Notify)
	n.key = c.Transfer.TSIG
	n.syncLocked()
}

// zonesLoaded notes the zone set a reload produced and notifies the
// zones whose serial changed.
func (n *notifier) zonesLoaded(set *zones.Set) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.set = set
	n.syncLocked()
}

// start begins notifying, once the server answers: until then a
// secondary told of a change could not fetch it. Sending stops when ctx
// ends.
func (n *notifier) start(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ctx = ctx
	n.syncLocked()
}

// wait waits for the sending goroutines to finish, after the context
// given to start has ended.
func (n *notifier) wait() { n.wg.Wait() }

// syncLocked starts a NOTIFY for every (zone, secondary) whose last sent
// serial is not the zone's, and forgets zones and secondaries that are
// gone.
func (n *notifier) syncLocked() {
	if n.ctx == nil || n.set == nil {
		return
	}
	want := map[notifyKey]bool{}
	for _, z := range n.set.Zones() {
		for _, t := range n.targets {
			k := notifyKey{z.Origin, t}
			want[k] = true
			if j := n.sent[k]; j != nil {
				if j.serial == z.SOA.Serial {
					continue
				}
				j.cancel()
			}
			ctx, cancel := context.WithCancel(n.ctx)
			n.sent[k] = &notifyJob{serial: z.SOA.Serial, cancel: cancel}
			key := n.key
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				defer cancel()
				n.notify(ctx, z.Origin, z.SOA, t, key)
			}()
		}
	}
	for k, j := range n.sent {
		if !want[k] {
			j.cancel()
			delete(n.sent, k)
		}
	}
}

// notify sends one NOTIFY until it is answered, the tries run out or ctx
// ends (then it is not counted: a newer NOTIFY or shutdown took over).
func (n *notifier) notify(ctx context.Context, zone string, soa *dns.SOA, target string, key config.TSIG) {
	select {
	case n.slots <- struct{}{}:
		defer func() { <-n.slots }()
	case <-ctx.Done():
		return
	}
	c := &dns.Client{Net: "udp"}
	if key.Name != "" {
		c.TsigSecret = map[string]string{key.Name: key.Secret}
	}
	m := new(dns.Msg)
	m.SetNotify(zone)
	m.Answer = []dns.RR{soa} // the new serial, as a hint (RFC 1996 3.7)
	wait := n.firstTry
	var last string
	for try := 1; try <= n.attempts; try++ {
		c.Timeout = wait
		r, err := exchangeOnce(ctx, c, m, target, key)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			last = err.Error()
		case r.Opcode != dns.OpcodeNotify || !r.Response:
			last = "the reply is not a NOTIFY response"
		case r.Rcode != dns.RcodeSuccess:
			// The secondary does not want it (not its zone, a key it does
			// not know): trying again will not change its mind.
			n.failed(ctx, zone, soa.Serial, target, "answered "+dns.RcodeToString[r.Rcode])
			return
		default:
			n.counts.WithLabelValues("acked").Inc()
			n.log.Debug("notify acknowledged", "zone", zone, "serial", soa.Serial, "secondary", target, "tries", try)
			return
		}
		wait *= 2
	}
	n.failed(ctx, zone, soa.Serial, target, "no reply after "+strconv.Itoa(n.attempts)+" tries: "+last)
}

// exchangeOnce sends m, signed afresh when key is set, from a new socket
// (a TSIG-signed exchange belongs to one connection) and waits for the
// reply until c.Timeout passes or ctx ends.
func exchangeOnce(ctx context.Context, c *dns.Client, m *dns.Msg, target string, key config.TSIG) (*dns.Msg, error) {
	co, err := c.DialContext(ctx, target)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() }) // ends the wait for a reply
	defer stop()
	if key.Name != "" {
		m.Extra = nil
		m.SetTsig(key.Name, config.TSIGAlgorithms[key.Algorithm], 300, time.Now().Unix())
	}
	r, _, err := c.ExchangeWithConnContext(ctx, m, co)
	return r, err
}

func (n *notifier) failed(ctx context.Context, zone string, serial uint32, target, why string) {
	if ctx.Err() != nil {
		return
	}
	n.counts.WithLabelValues("failed").Inc()
	n.log.Warn("notify failed", "zone", zone, "serial", serial, "secondary", target, "reason", why)
}

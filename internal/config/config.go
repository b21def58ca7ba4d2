// Package config reads and validates Meridian's YAML configuration file.
//
// Every field has a default (see Default); a file only needs the keys it
// changes. Unknown keys are errors that name the key and line, so a typo
// never silently falls back to a default.
package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meridiandns/meridian/pools"
	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of one node.
type Config struct {
	Node        Node     `yaml:"node"`
	DNS         DNS      `yaml:"dns"`
	Zones       Zones    `yaml:"zones"`
	SOA         SOA      `yaml:"soa"`
	DynamicTTL  uint32   `yaml:"dynamic_ttl"`  // TTL in seconds of dynamic answers whose record sets no ttl
	DegradedTTL uint32   `yaml:"degraded_ttl"` // TTL cap in seconds of answers from a fallback pool, a farther nearest pool or fail-open, and of the SOA in the NODATA a dynamic record answers when every value is drained
	Log         Log      `yaml:"log"`
	GeoIP       GeoIP    `yaml:"geoip"`
	Health      Health   `yaml:"health"`
	API         API      `yaml:"api"`
	Mesh        Mesh     `yaml:"mesh"`
	Transfer    Transfer `yaml:"transfer"`
	// StateDir holds state that must survive restarts: the zone serials of
	// YAML zones, in zone-serials.json, and under last-good/ a copy of each
	// zone as it last loaded without problems. A zone whose file is broken
	// at startup is served from that copy (and reported) instead of not at
	// all; deleting a zone file deletes its copy. Empty means nothing is
	// persisted: serials then restart from the clock, and a zone broken at
	// startup is not served. The node refuses to start when the directory
	// cannot be written or created; later write failures are reported
	// and retried.
	StateDir string `yaml:"state_dir"`

	// Path is the file the config was read from; relative paths in the
	// config were resolved against its directory.
	Path string `yaml:"-"`
}

// Node identifies this server in the fleet.
type Node struct {
	Name   string `yaml:"name"`   // unique name of the node: its mesh member name, shown in status and logs
	Region string `yaml:"region"` // region the node runs in; health verdicts are voted region by region
}

// DNS configures the listeners and wire behaviour.
type DNS struct {
	Listen  []string `yaml:"listen"`   // host:port addresses, each served on UDP and TCP
	UDPSize uint16   `yaml:"udp_size"` // EDNS buffer size advertised; UDP answers never exceed it (at least 512)
	// UDPSockets is the number of UDP sockets bound to each listen address
	// (SO_REUSEPORT; the kernel spreads clients over them), each read and
	// answered by its own goroutine. 0 means one per CPU the process may
	// use (GOMAXPROCS). Changes apply at restart.
	UDPSockets int    `yaml:"udp_sockets"`
	NSID       string `yaml:"nsid"`    // RFC 5001 NSID payload (text); empty turns NSID, hostname.bind and id.server off
	Version    string `yaml:"version"` // CHAOS TXT version.bind answer; empty answers REFUSED
	TCP        TCP    `yaml:"tcp"`
	RRL        RRL    `yaml:"rrl"`
}

// RRL is response rate limiting over UDP, in the style of BIND and NSD:
// each client network (/24 for IPv4, /56 for IPv6) gets
// responses_per_second answers of one class (positive answers of one name
// and type; NODATA of one name; one zone's NXDOMAINs; one zone's
// referrals; errors; a wildcard or DNAME counts as one name for all the
// names below it) per second, with the same budget as burst. Over it, every slip-th response is sent truncated and empty, so a
// real client retries over TCP, and the others are dropped.
type RRL struct {
	// ResponsesPerSecond is the budget of one client network and answer
	// class; 0 turns rate limiting off.
	ResponsesPerSecond int `yaml:"responses_per_second"`
	// Slip: every slip-th limited response is sent truncated (TC set, no
	// records) instead of dropped; 0 drops them all, 1 truncates them all.
	Slip int `yaml:"slip"`
	// Window bounds the debt a client network can run up: after this long
	// under its rate it is answered normally again.
	Window time.Duration `yaml:"window"`
	// Exempt lists client networks (CIDR) never limited.
	Exempt []string `yaml:"exempt"`
}

// TCP bounds what TCP clients can hold.
type TCP struct {
	MaxConnections int           `yaml:"max_connections"` // connections open at once, over all listeners; more are closed at accept
	IdleTimeout    time.Duration `yaml:"idle_timeout"`    // a connection with no query for this long is closed
	ReadTimeout    time.Duration `yaml:"read_timeout"`    // time allowed to read the first query of a connection
	// MaxConnectionsPerClient is the number of connections one client
	// address may hold open at once; more are closed at accept.
	MaxConnectionsPerClient int `yaml:"max_connections_per_client"`
	// MaxQueries is the number of queries answered on one connection
	// before it is closed; 0 means no limit.
	MaxQueries int `yaml:"max_queries"`
	// MaxLifetime is the time a connection may stay open however busy it
	// is; zone transfers under way are not cut short by it.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// WriteTimeout is the time allowed to write one response: a client that
	// stops reading loses its connection.
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// Transfer lets secondaries copy the zones (AXFR over TCP; IXFR is
// answered with the whole zone, or the SOA alone when the secondary is up
// to date) and tells them when a zone changes (NOTIFY). Dynamic records
// are transferred as their top-level values. Nothing is transferred
// unless allow is set. See docs/transfer.md.
type Transfer struct {
	// Allow lists the networks (CIDR) that may transfer; a request from
	// elsewhere is REFUSED.
	Allow []string `yaml:"allow"`
	// TSIG, when its name is set, must sign every transfer request (on
	// top of allow: unsigned is REFUSED, badly signed NOTAUTH), and signs
	// our NOTIFYs and our answers to signed queries.
	TSIG TSIG `yaml:"tsig"`
	// Notify lists secondaries (IP:port) sent a NOTIFY, over UDP, for
	// every zone once serving starts and for each zone whose serial
	// changes; it is retried for about 30s until answered.
	Notify []string `yaml:"notify"`
}

// TSIG is a shared transaction key (RFC 8945).
type TSIG struct {
	Name      string `yaml:"name"`      // key name, e.g. transfer-key.; empty means no TSIG
	Algorithm string `yaml:"algorithm"` // hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1
	Secret    string `yaml:"secret"`    // the key, base64 (as written by tsig-keygen or keymgr)
}

// Zones locates the zone files.
type Zones struct {
	Dir string `yaml:"dir"` // directory of <zone>.yaml and <zone>.zone files
	// Watch reloads the zones when a file under zones.dir changes.
	Watch *bool `yaml:"watch"`
	// Debounce is how long the watcher waits for writes to settle before
	// reloading; it also waits for a file written in place to be closed.
	Debounce time.Duration `yaml:"debounce"`
}

// SOA holds the values of the SOA record synthesised for YAML zones.
type SOA struct {
	MName   string `yaml:"mname"`   // primary server; empty = the first apex NS target
	RName   string `yaml:"rname"`   // mailbox; relative names get the zone appended, "user@domain" is accepted
	Refresh uint32 `yaml:"refresh"` // SOA refresh, in seconds
	Retry   uint32 `yaml:"retry"`   // SOA retry, in seconds
	Expire  uint32 `yaml:"expire"`  // SOA expire, in seconds
	Minimum uint32 `yaml:"minimum"` // SOA minimum: caps the TTL of negative answers (RFC 2308), in seconds
	TTL     uint32 `yaml:"ttl"`     // TTL of the SOA and the default TTL of YAML records, in seconds
}

// GeoIP lists the databases that locate clients.
type GeoIP struct {
	// Databases are GeoIP2/GeoLite2 City or Country files (or compatible);
	// the first that knows an address answers. A file that changes on
	// disk is reloaded; a broken replacement keeps the old one serving.
	Databases []string `yaml:"databases"`
}

// Health holds the defaults of every record's health check and how the
// checker runs.
type Health struct {
	Interval    time.Duration `yaml:"interval"`    // time between probes of one endpoint
	Timeout     time.Duration `yaml:"timeout"`     // per-probe deadline; shorter than interval
	Rise        int           `yaml:"rise"`        // successes that bring a down endpoint up
	Fall        int           `yaml:"fall"`        // failures that take an up endpoint down
	Expect      []string      `yaml:"expect"`      // accepted HTTP statuses: "200-399", "204", ...
	TLSVerify   bool          `yaml:"tls_verify"`  // verify HTTPS certificates
	Assume      string        `yaml:"assume"`      // verdict before the first probes: up or down
	Concurrency int           `yaml:"concurrency"` // probes in flight at once
}

// Mesh configures gossip between the nodes of a fleet.
type Mesh struct {
	// Bind is the host:port memberlist listens on (UDP and TCP); empty
	// runs the node alone, deciding health by itself.
	Bind string `yaml:"bind"`
	// Advertise is the host:port other nodes reach this one at; empty means
	// mesh.bind.
	Advertise string `yaml:"advertise"`
	// Join lists peers (host:port) to join; retried until they answer.
	Join []string `yaml:"join"`
	// Keyfile holds the base64 32-byte key that encrypts and authenticates
	// gossip (make one with meridian keygen); every node needs the same key.
	// Required with mesh.join, unless mesh.insecure.
	Keyfile string `yaml:"keyfile"`
	// StateDir keeps drains across restarts, in drains.json; empty keeps
	// them in memory only. The node refuses to start when the directory
	// cannot be written or created.
	StateDir string `yaml:"state_dir"`
	// Insecure allows gossip without mesh.keyfile: unencrypted and
	// unauthenticated, for tests only.
	Insecure bool `yaml:"insecure"`
	// GossipInterval is how often memberlist sends queued broadcasts
	// (observations, drains); 0s keeps its LAN default of 200ms.
	GossipInterval time.Duration `yaml:"gossip_interval"`
	// ProbeInterval is how often memberlist probes a random member to
	// detect failed nodes; 0s keeps its LAN default of 1s.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// PushPullInterval is how often memberlist exchanges full state with a
	// random member; 0s keeps its LAN default of 30s.
	PushPullInterval time.Duration `yaml:"push_pull_interval"`
	// DriftGrace is how long a node's zone set may differ from the one
	// more than half of the live members serve before it is flagged as
	// drifting (status, metrics): long enough for a deploy to reach every
	// node.
	DriftGrace time.Duration `yaml:"drift_grace"`
	// ProbersPerRegion, above 0, has only that many nodes of each region
	// probe each endpoint, chosen by rendezvous hash over the region's
	// live members, so that probe load on the origins stops growing with
	// the fleet; when one dies or leaves, the next takes over. 0 = every
	// node probes every endpoint.
	ProbersPerRegion int `yaml:"probers_per_region"`
}

// API configures the HTTP API that operators and `meridian drain` use.
type API struct {
	// Listen is the host:port the API serves on; empty disables the API.
	// Keep it on loopback unless api.token_file is set.
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token that POST and DELETE calls must
	// present. Empty means mutating calls are accepted from loopback only.
	TokenFile string `yaml:"token_file"`
	// Pprof serves Go's profiler under /debug/pprof/ on the API listener
	// (also turned on by `meridian serve --pprof`). Keep the API on
	// loopback when it is on: profiles reveal internals.
	Pprof bool `yaml:"pprof"`
	// AllowedHosts are host names that requests may carry in their Host
	// header, such as the name operators reach the node by. IP addresses,
	// localhost and the host of api.listen are always accepted; any other
	// name gets 421, so that a web page cannot read the API through a name
	// it points at this node (DNS rebinding).
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// Log configures logging.
type Log struct {
	Level   string   `yaml:"level"`   // debug, info, warn or error
	Format  string   `yaml:"format"`  // text or json
	Queries QueryLog `yaml:"queries"` // the optional query log
}

// QueryLog configures the query log: JSON lines written off the query
// path, dropped (and counted) rather than slowing answers when the writer
// falls behind.
type QueryLog struct {
	// Enabled turns the query log on.
	Enabled bool `yaml:"enabled"`
	// Sample is the fraction of queries logged, in (0, 1]; 0.01 logs one
	// query in a hundred.
	Sample float64 `yaml:"sample"`
	// Path is the file the lines are appended to; "-" or empty writes
	// them to standard error with the other logs.
	Path string `yaml:"path"`
}

// Default returns the configuration used for every key a file leaves out.
func Default() *Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "meridian"
	}
	return &Config{
		Node: Node{Name: host, Region: "default"},
		DNS: DNS{
			Listen:  []string{"127.0.0.1:5353"},
			UDPSize: 1232,
			TCP: TCP{MaxConnections: 512, IdleTimeout: 10 * time.Second, ReadTimeout: 5 * time.Second,
				MaxConnectionsPerClient: 32, MaxQueries: 1000, MaxLifetime: 2 * time.Minute, WriteTimeout: 5 * time.Second},
			RRL: RRL{ResponsesPerSecond: 200, Slip: 2, Window: 15 * time.Second,
				Exempt: []string{"127.0.0.0/8", "::1/128"}},
		},
		Zones: Zones{Dir: "zones", Debounce: 250 * time.Millisecond},
		SOA: SOA{RName: "hostmaster", Refresh: 7200, Retry: 1800, Expire: 1209600,
			Minimum: 60, TTL: 3600},
		DynamicTTL:  30,
		DegradedTTL: 10,
		Log:         Log{Level: "info", Format: "text", Queries: QueryLog{Sample: 0.01}},
		Health: Health{Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 2,
			Expect: []string{"200-399"}, TLSVerify: true, Assume: "up", Concurrency: 64},
		Mesh:     Mesh{DriftGrace: 30 * time.Second},
		API:      API{Listen: "127.0.0.1:8053"},
		Transfer: Transfer{TSIG: TSIG{Algorithm: "hmac-sha256"}},
	}
}

// WatchZones reports whether zone files are watched for changes.
func (c *Config) WatchZones() bool { return c.Zones.Watch == nil || *c.Zones.Watch }

// Load reads, defaults and validates the config file at path. Relative paths
// in it are made relative to the file's directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for data already read from path.
func Parse(path string, data []byte) (*Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, decodeError(path, err)
	}
	c.Path = path
	base := filepath.Dir(path)
	c.Zones.Dir = resolve(base, c.Zones.Dir)
	if c.StateDir != "" {
		c.StateDir = resolve(base, c.StateDir)
	}
	for i, p := range c.GeoIP.Databases {
		c.GeoIP.Databases[i] = resolve(base, p)
	}
	c.API.TokenFile = resolve(base, c.API.TokenFile)
	if c.Log.Queries.Path != "-" {
		c.Log.Queries.Path = resolve(base, c.Log.Queries.Path)
	}
	c.Mesh.Keyfile = resolve(base, c.Mesh.Keyfile)
	c.Mesh.StateDir = resolve(base, c.Mesh.StateDir)
	if err := c.validate(); err != nil {
		lines := strings.Split(err.Error(), "\n")
		for i, l := range lines {
			lines[i] = path + ": " + l
		}
		return nil, errors.New(strings.Join(lines, "\n"))
	}
	return c, nil
}

func resolve(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type config\.(\w+)$`)
	lineMsg      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// sections maps Go type names to the key path users write.
var sections = map[string]string{
	"Config": "", "Node": "node.", "DNS": "dns.", "TCP": "dns.tcp.",
	"Zones": "zones.", "SOA": "soa.", "Log": "log.", "QueryLog": "log.queries.", "GeoIP": "geoip.", "Health": "health.",
	"API": "api.", "Mesh": "mesh.", "RRL": "dns.rrl.", "Transfer": "transfer.", "TSIG": "transfer.tsig.",
}

// decodeError turns yaml.v3 errors into "path:line: message" lines that
// name the key in the user's terms.
func decodeError(path string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if g := unknownField.FindStringSubmatch(m); g != nil {
			out = append(out, fmt.Sprintf("%s:%s: unknown key %q", path, g[1], sections[g[3]]+g[2]))
			continue
		}
		if g := lineMsg.FindStringSubmatch(m); g != nil {
			out = append(out, fmt.Sprintf("%s:%s: %s", path, g[1], g[2]))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s", path, strings.TrimPrefix(m, "yaml: ")))
	}
	return errors.New(strings.Join(out, "\n"))
}

func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Node.Name == "" {
		bad("node.name", "must not be empty")
	} else if len(c.Node.Name) > 128 || strings.ContainsAny(c.Node.Name, "\n\r") {
		bad("node.name", "must be one line of at most 128 bytes")
	}
	if c.Node.Region == "" {
		bad("node.region", "must not be empty")
	} else if len(c.Node.Region) > 64 || strings.ContainsAny(c.Node.Region, "\n\r") {
		bad("node.region", "must be one line of at most 64 bytes")
	}
	if len(c.DNS.Listen) == 0 {
		bad("dns.listen", "needs at least one address")
	}
	for _, l := range c.DNS.Listen {
		host, port, err := net.SplitHostPort(l)
		if err != nil {
			bad("dns.listen", "%q is not host:port", l)
			continue
		}
		if host != "" && net.ParseIP(host) == nil && host != "localhost" {
			bad("dns.listen", "%q: host must be an IP address", l)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("dns.listen", "%q: invalid port", l)
		}
	}
	if c.DNS.UDPSockets < 0 || c.DNS.UDPSockets > 1024 {
		bad("dns.udp_sockets", "%d is not between 0 and 1024", c.DNS.UDPSockets)
	}
	if c.DNS.UDPSize < 512 {
		bad("dns.udp_size", "%d is below the minimum of 512", c.DNS.UDPSize)
	}
	if len(c.DNS.NSID) > 512 {
		bad("dns.nsid", "longer than 512 bytes")
	}
	if c.DNS.TCP.MaxConnections < 1 {
		bad("dns.tcp.max_connections", "must be at least 1")
	}
	if c.DNS.TCP.IdleTimeout <= 0 {
		bad("dns.tcp.idle_timeout", "must be positive")
	}
	if c.DNS.TCP.ReadTimeout <= 0 {
		bad("dns.tcp.read_timeout", "must be positive")
	}
	if c.DNS.TCP.MaxConnectionsPerClient < 1 {
		bad("dns.tcp.max_connections_per_client", "must be at least 1")
	}
	if c.DNS.TCP.MaxQueries < 0 {
		bad("dns.tcp.max_queries", "must not be negative")
	}
	if c.DNS.TCP.MaxLifetime <= 0 {
		bad("dns.tcp.max_lifetime", "must be positive")
	}
	if c.DNS.TCP.WriteTimeout <= 0 {
		bad("dns.tcp.write_timeout", "must be positive")
	}
	if r := c.DNS.RRL; r.ResponsesPerSecond < 0 {
		bad("dns.rrl.responses_per_second", "must not be negative")
	} else if r.ResponsesPerSecond > 0 {
		if r.Slip < 0 || r.Slip > 10 {
			bad("dns.rrl.slip", "%d is not between 0 and 10", r.Slip)
		}
		if r.Window < time.Second || r.Window > time.Hour {
			bad("dns.rrl.window", "%s is not between 1s and 1h", r.Window)
		}
	}
	for _, e := range c.DNS.RRL.Exempt {
		if _, err := netip.ParsePrefix(e); err != nil {
			bad("dns.rrl.exempt", "%q is not a CIDR network", e)
		}
	}
	c.validateTransfer(bad)
	for _, p := range c.GeoIP.Databases {
		if p == "" {
			bad("geoip.databases", "empty path")
		}
	}
	if c.Zones.Dir == "" {
		bad("zones.dir", "must not be empty")
	}
	if c.Zones.Debounce < 0 {
		bad("zones.debounce", "must not be negative")
	}
	if c.SOA.RName == "" {
		bad("soa.rname", "must not be empty")
	}
	if c.SOA.Refresh == 0 || c.SOA.Retry == 0 || c.SOA.Expire == 0 {
		bad("soa", "refresh, retry and expire must be positive")
	}
	if c.DynamicTTL == 0 {
		bad("dynamic_ttl", "must be positive")
	}
	if c.DegradedTTL == 0 {
		bad("degraded_ttl", "must be positive")
	}
	h := c.Health
	if h.Interval <= 0 || h.Timeout <= 0 || h.Timeout >= h.Interval {
		bad("health", "interval and timeout must be positive, timeout shorter than interval (got %s, %s)", h.Interval, h.Timeout)
	}
	if h.Rise < 1 || h.Fall < 1 {
		bad("health", "rise and fall must be at least 1")
	}
	if _, err := pools.ParseExpect(h.Expect); err != nil {
		bad("health.expect", "%v", err)
	}
	if h.Assume != "up" && h.Assume != "down" {
		bad("health.assume", "%q is not one of up, down", h.Assume)
	}
	if h.Concurrency < 1 {
		bad("health.concurrency", "must be at least 1")
	}
	for key, addr := range map[string]string{"mesh.bind": c.Mesh.Bind, "mesh.advertise": c.Mesh.Advertise} {
		if _, _, err := net.SplitHostPort(addr); addr != "" && err != nil {
			bad(key, "%q is not host:port", addr)
		}
	}
	for _, j := range c.Mesh.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			bad("mesh.join", "%q is not host:port", j)
		}
	}
	if len(c.Mesh.Join) > 0 && c.Mesh.Bind == "" {
		bad("mesh.join", "needs mesh.bind")
	}
	if c.Mesh.DriftGrace <= 0 {
		bad("mesh.drift_grace", "must be more than 0s")
	}
	if c.Mesh.ProbersPerRegion < 0 {
		bad("mesh.probers_per_region", "must be 0 (every node) or more")
	}
	for _, h := range c.API.AllowedHosts {
		if _, ok := dns.IsDomainName(h); !ok || h == "" || strings.ContainsAny(h, ":/@ *") {
			bad("api.allowed_hosts", "%q is not a host name (no scheme, port or wildcard)", h)
		}
	}
	if l := c.API.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil {
			bad("api.listen", "%q is not host:port", l)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("api.listen", "%q: invalid port", l)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if q := c.Log.Queries; q.Sample <= 0 || q.Sample > 1 {
		bad("log.queries.sample", "%v is not in (0, 1]", q.Sample)
	}
	return errors.Join(errs...)
}

// RRLExempt returns dns.rrl.exempt parsed (validation has checked it).
func (c *Config) RRLExempt() []netip.Prefix {
	return prefixes(c.DNS.RRL.Exempt)
}

// TransferAllow returns transfer.allow parsed (validation has checked it).
func (c *Config) TransferAllow() []netip.Prefix {
	return prefixes(c.Transfer.Allow)
}

func prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// TSIGAlgorithms maps the algorithm names accepted in transfer.tsig to
// their RFC 8945 names.
var TSIGAlgorithms = map[string]string{
	"hmac-sha1":   "hmac-sha1.",
	"hmac-sha224": "hmac-sha224.",
	"hmac-sha256": "hmac-sha256.",
	"hmac-sha384": "hmac-sha384.",
	"hmac-sha512": "hmac-sha512.",
}

func (c *Config) validateTransfer(bad func(key, format string, args ...any)) {
	t := &c.Transfer
	for _, a := range t.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			bad("transfer.allow", "%q is not a CIDR network", a)
		}
	}
	for _, n := range t.Notify {
		if ap, err := netip.ParseAddrPort(n); err != nil || ap.Port() == 0 {
			bad("transfer.notify", "%q is not IP:port", n)
		}
	}
	k := &t.TSIG
	if k.Name == "" {
		if k.Secret != "" {
			bad("transfer.tsig.name", "must be set with transfer.tsig.secret")
		}
		return
	}
	if _, ok := dns.IsDomainName(k.Name); !ok {
		bad("transfer.tsig.name", "%q is not a domain name", k.Name)
	} else {
		k.Name = dns.CanonicalName(k.Name)
	}
	k.Algorithm = strings.TrimSuffix(strings.ToLower(k.Algorithm), ".")
	if _, ok := TSIGAlgorithms[k.Algorithm]; !ok {
		bad("transfer.tsig.algorithm", "%q is not one of hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1", k.Algorithm)
	}
	if sec, err := base64.StdEncoding.DecodeString(k.Secret); err != nil || len(sec) == 0 {
		bad("transfer.tsig.secret", "must be a non-empty base64 key")
	}
}

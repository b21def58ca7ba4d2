// Package config reads and validates Meridian's YAML configuration file.
//
// Every field has a default (see Default); a file only needs the keys it
// changes. Unknown keys are errors that name the key and line, so a typo
// never silently falls back to a default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meridiandns/meridian/pools"
	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of one node.
type Config struct {
	Node        Node   `yaml:"node"`
	DNS         DNS    `yaml:"dns"`
	Zones       Zones  `yaml:"zones"`
	SOA         SOA    `yaml:"soa"`
	DynamicTTL  uint32 `yaml:"dynamic_ttl"`  // TTL of dynamic answers whose record has no ttl
	DegradedTTL uint32 `yaml:"degraded_ttl"` // TTL cap for fallback and fail-open answers
	Log         Log    `yaml:"log"`
	GeoIP       GeoIP  `yaml:"geoip"`
	Health      Health `yaml:"health"`
	API         API    `yaml:"api"`
	Mesh        Mesh   `yaml:"mesh"`
	// StateDir holds state that must survive restarts (zone serials). Empty
	// means nothing is persisted: serials then restart from the clock.
	StateDir string `yaml:"state_dir"`

	// Path is the file the config was read from; relative paths in the
	// config were resolved against its directory.
	Path string `yaml:"-"`
}

// Node identifies this server in the fleet.
type Node struct {
	Name   string `yaml:"name"`   // unique node name; defaults to the host name
	Region string `yaml:"region"` // region the node runs in
}

// DNS configures the listeners and wire behaviour.
type DNS struct {
	Listen  []string `yaml:"listen"`   // host:port addresses, each served on UDP and TCP
	UDPSize uint16   `yaml:"udp_size"` // EDNS buffer size we advertise and honour
	NSID    string   `yaml:"nsid"`     // RFC 5001 NSID payload (text); empty turns NSID, hostname.bind and id.server off
	Version string   `yaml:"version"`  // CHAOS TXT version.bind answer; empty answers REFUSED
	TCP     TCP      `yaml:"tcp"`
}

// TCP bounds what TCP clients can hold.
type TCP struct {
	MaxConnections int           `yaml:"max_connections"` // connections open at once, over all listeners; more are closed at accept
	IdleTimeout    time.Duration `yaml:"idle_timeout"`    // a connection with no query for this long is closed
	ReadTimeout    time.Duration `yaml:"read_timeout"`    // time allowed to read the first query of a connection
}

// Zones locates the zone files.
type Zones struct {
	Dir string `yaml:"dir"` // directory of <zone>.yaml and <zone>.zone files
	// Watch reloads when a file under Dir changes. Default true.
	Watch *bool `yaml:"watch"`
	// Debounce is how long the watcher waits for writes to settle.
	Debounce time.Duration `yaml:"debounce"`
}

// SOA holds the values of the SOA record synthesised for YAML zones.
type SOA struct {
	MName   string `yaml:"mname"`   // primary server; empty = the first apex NS target
	RName   string `yaml:"rname"`   // mailbox; relative names get the zone appended, "user@domain" is accepted
	Refresh uint32 `yaml:"refresh"` // seconds
	Retry   uint32 `yaml:"retry"`   // seconds
	Expire  uint32 `yaml:"expire"`  // seconds
	Minimum uint32 `yaml:"minimum"` // negative-caching TTL cap (RFC 2308)
	TTL     uint32 `yaml:"ttl"`     // TTL of the SOA and the default TTL of YAML records
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
	// Advertise is the host:port other nodes reach this one at; empty = Bind.
	Advertise string `yaml:"advertise"`
	// Join lists peers (host:port) to join; retried until they answer.
	Join []string `yaml:"join"`
	// Keyfile holds the base64 32-byte key that encrypts gossip (meridian keygen).
	Keyfile string `yaml:"keyfile"`
	// StateDir keeps drains across restarts; empty keeps them in memory.
	StateDir string `yaml:"state_dir"`
	// Insecure allows joining peers without a key.
	Insecure bool `yaml:"insecure"`
	// GossipInterval, ProbeInterval and PushPullInterval tune memberlist;
	// zero keeps its LAN defaults (200ms, 1s, 30s).
	GossipInterval   time.Duration `yaml:"gossip_interval"`
	ProbeInterval    time.Duration `yaml:"probe_interval"`
	PushPullInterval time.Duration `yaml:"push_pull_interval"`
}

// API configures the HTTP API that operators and `meridian drain` use.
type API struct {
	// Listen is the host:port the API serves on; empty disables the API.
	// Keep it on loopback unless TokenFile is set.
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token that POST and DELETE calls must
	// present. Empty means mutating calls are accepted from loopback only.
	TokenFile string `yaml:"token_file"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
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
			TCP:     TCP{MaxConnections: 512, IdleTimeout: 10 * time.Second, ReadTimeout: 5 * time.Second},
		},
		Zones: Zones{Dir: "zones", Debounce: 250 * time.Millisecond},
		SOA: SOA{RName: "hostmaster", Refresh: 7200, Retry: 1800, Expire: 1209600,
			Minimum: 60, TTL: 3600},
		DynamicTTL:  30,
		DegradedTTL: 10,
		Log:         Log{Level: "info", Format: "text"},
		Health: Health{Interval: 5 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 2,
			Expect: []string{"200-399"}, TLSVerify: true, Assume: "up", Concurrency: 64},
		API: API{Listen: "127.0.0.1:8053"},
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
	"Zones": "zones.", "SOA": "soa.", "Log": "log.", "GeoIP": "geoip.", "Health": "health.",
	"API": "api.", "Mesh": "mesh.",
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
	}
	if c.Node.Region == "" {
		bad("node.region", "must not be empty")
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
	return errors.Join(errs...)
}

package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseDefaultsAndPaths(t *testing.T) {
	c, err := Parse("/etc/meridian/meridian.yaml", []byte("node: {name: n1, region: eu}\nzones: {dir: z}\nstate_dir: /var/lib/meridian\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Zones.Dir, filepath.FromSlash("/etc/meridian/z"); got != want {
		t.Errorf("zones.dir: got %q; want %q (relative to the config file)", got, want)
	}
	if c.StateDir != "/var/lib/meridian" {
		t.Errorf("state_dir: got %q; want it unchanged when absolute", c.StateDir)
	}
	if c.DNS.UDPSize != 1232 || c.DynamicTTL != 30 || c.DegradedTTL != 10 || c.SOA.Minimum != 60 || c.SOA.TTL != 3600 {
		t.Errorf("defaults: got %+v", c)
	}
	if got := c.DNS.Listen; len(got) != 1 || got[0] != "127.0.0.1:5353" {
		t.Errorf("dns.listen default: got %v", got)
	}
	if !c.WatchZones() {
		t.Error("zones.watch: got false; want true by default")
	}
}

func TestParseDurations(t *testing.T) {
	c, err := Parse("m.yaml", []byte("dns: {tcp: {idle_timeout: 1m30s}}\nzones: {debounce: 10ms, watch: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.DNS.TCP.IdleTimeout != 90*time.Second || c.Zones.Debounce != 10*time.Millisecond || c.WatchZones() {
		t.Errorf("got %+v %+v", c.DNS.TCP, c.Zones)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top-level key", "nod: {}\n", []string{`m.yaml:1: unknown key "nod"`}},
		{"unknown nested key", "dns:\n  listen: []\n  nsd: x\n", []string{`m.yaml:3: unknown key "dns.nsd"`}},
		{"unknown deep key", "dns:\n  tcp: {max_conns: 3}\n", []string{`m.yaml:2: unknown key "dns.tcp.max_conns"`}},
		{"wrong type", "dynamic_ttl: soon\n", []string{"m.yaml:1: cannot unmarshal !!str `soon` into uint32"}},
		{"syntax", "dns: [\n", []string{"m.yaml:1: did not find expected node content"}},
		{"bad listen", "dns: {listen: [\"localhost\"]}\n", []string{`m.yaml: dns.listen: "localhost" is not host:port`}},
		{"listen host name", "dns: {listen: [\"ns1.example.com:53\"]}\n", []string{`m.yaml: dns.listen: "ns1.example.com:53": host must be an IP address`}},
		{"small udp size", "dns: {udp_size: 100}\n", []string{`m.yaml: dns.udp_size: 100 is below the minimum of 512`}},
		{"zero ttl", "dynamic_ttl: 0\n", []string{`m.yaml: dynamic_ttl: must be positive`}},
		{"bad log", "log: {level: loud, format: xml}\n", []string{`m.yaml: log.level: "loud" is not one of debug, info, warn, error`, `m.yaml: log.format: "xml" is not one of text, json`}},
		{"health timeout not shorter", "health: {interval: 1s, timeout: 1s}\n", []string{`m.yaml: health: interval and timeout must be positive, timeout shorter than interval (got 1s, 1s)`}},
		{"health expect", "health: {expect: [\"2xx\"]}\n", []string{`m.yaml: health.expect: "2xx" is not a status code or range like 200-399`}},
		{"health assume", "health: {assume: maybe}\n", []string{`m.yaml: health.assume: "maybe" is not one of up, down`}},
		{"drift grace not positive", "mesh: {drift_grace: 0s}\n", []string{`m.yaml: mesh.drift_grace: must be more than 0s`}},
		{"probers per region negative", "mesh: {probers_per_region: -1}\n", []string{`m.yaml: mesh.probers_per_region: must be 0 (every node) or more`}},
		{"node name too long", "node: {name: " + strings.Repeat("n", 129) + "}\n", []string{`m.yaml: node.name: must be one line of at most 128 bytes`}},
		{"region too long", "node: {region: " + strings.Repeat("r", 65) + "}\n", []string{`m.yaml: node.region: must be one line of at most 64 bytes`}},
		{"unknown health key", "health: {intervall: 1s}\n", []string{`m.yaml:1: unknown key "health.intervall"`}},
		{"unknown api key", "api: {lisen: x}\n", []string{`m.yaml:1: unknown key "api.lisen"`}},
		{"bad api listen", "api: {listen: nowhere}\n", []string{`m.yaml: api.listen: "nowhere" is not host:port`}},
		{"api allowed host with a port", "api: {allowed_hosts: [\"meridian.internal:8053\", \"https://x\", \"*.example\", \"\"]}\n",
			[]string{`m.yaml: api.allowed_hosts: "meridian.internal:8053" is not a host name (no scheme, port or wildcard)`,
				`m.yaml: api.allowed_hosts: "https://x" is not a host name`, `m.yaml: api.allowed_hosts: "*.example" is not a host name`,
				`m.yaml: api.allowed_hosts: "" is not a host name`}},
		{"unknown mesh key", "mesh: {bnd: x}\n", []string{`m.yaml:1: unknown key "mesh.bnd"`}},
		{"bad mesh bind", "mesh: {bind: nowhere}\n", []string{`m.yaml: mesh.bind: "nowhere" is not host:port`}},
		{"join without bind", "mesh: {join: [\"127.0.0.1:7946\"]}\n", []string{`m.yaml: mesh.join: needs mesh.bind`}},
		{"rrl negative", "dns: {rrl: {responses_per_second: -1}}\n", []string{`m.yaml: dns.rrl.responses_per_second: must not be negative`}},
		{"rrl slip", "dns: {rrl: {slip: 11}}\n", []string{`m.yaml: dns.rrl.slip: 11 is not between 0 and 10`}},
		{"rrl window", "dns: {rrl: {window: 100ms}}\n", []string{`m.yaml: dns.rrl.window: 100ms is not between 1s and 1h`}},
		{"rrl exempt", "dns: {rrl: {exempt: [\"10.0.0.1\"]}}\n", []string{`m.yaml: dns.rrl.exempt: "10.0.0.1" is not a CIDR network`}},
		{"unknown rrl key", "dns: {rrl: {rate: 5}}\n", []string{`m.yaml:1: unknown key "dns.rrl.rate"`}},
		{"tcp limits", "dns: {tcp: {max_connections_per_client: 0, max_queries: -1, max_lifetime: 0s, write_timeout: 0s}}\n",
			[]string{`dns.tcp.max_connections_per_client: must be at least 1`, `dns.tcp.max_queries: must not be negative`,
				`dns.tcp.max_lifetime: must be positive`, `dns.tcp.write_timeout: must be positive`}},
		{"transfer allow", "transfer: {allow: [\"192.0.2.0/33\"]}\n", []string{`m.yaml: transfer.allow: "192.0.2.0/33" is not a CIDR network`}},
		{"transfer notify", "transfer: {notify: [\"ns2.example.net\"]}\n", []string{`m.yaml: transfer.notify: "ns2.example.net" is not IP:port`}},
		{"tsig", "transfer: {tsig: {name: \"k\", algorithm: md5, secret: \"not base64!\"}}\n",
			[]string{`transfer.tsig.algorithm: "md5" is not one of`, `transfer.tsig.secret: must be a non-empty base64 key`}},
		{"tsig secret without name", "transfer: {tsig: {secret: \"c2VjcmV0\"}}\n", []string{`transfer.tsig.name: must be set with transfer.tsig.secret`}},
		{"unknown tsig key", "transfer: {tsig: {key: x}}\n", []string{`m.yaml:1: unknown key "transfer.tsig.key"`}},
		{"several at once", "dns: {udp_size: 10}\ndegraded_ttl: 0\n", []string{`dns.udp_size`, `degraded_ttl: must be positive`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestMeshAndAPIPaths(t *testing.T) {
	c, err := Parse("/etc/meridian/meridian.yaml", []byte("api: {token_file: token}\nmesh: {bind: \"127.0.0.1:7946\", keyfile: mesh.key, state_dir: /var/lib/meridian}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.API.TokenFile != "/etc/meridian/token" || c.Mesh.Keyfile != "/etc/meridian/mesh.key" || c.Mesh.StateDir != "/var/lib/meridian" {
		t.Errorf("got %q %q %q", c.API.TokenFile, c.Mesh.Keyfile, c.Mesh.StateDir)
	}
	if d := Default(); d.API.Listen != "127.0.0.1:8053" || d.Mesh.Bind != "" {
		t.Errorf("defaults: api %q mesh %q; want the API on loopback and no mesh", d.API.Listen, d.Mesh.Bind)
	}
}

func TestEmptyFileIsAllDefaults(t *testing.T) {
	if _, err := Parse("m.yaml", nil); err != nil {
		t.Errorf("got %v; want the defaults to be valid", err)
	}
}

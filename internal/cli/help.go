package cli

// What `meridian <command> --help` prints. Each starts with the usage line
// that a bad command line points to.

const serveHelp = `usage: meridian serve [--config FILE] [--pprof]

Serve DNS, probe the origins and gossip with the mesh until SIGTERM or
SIGINT (a graceful shutdown, exit 0). SIGHUP re-reads the config and every
zone; changes under zones.dir are reloaded by themselves. Before anything
listens, every file the config names is opened (as 'meridian check' does):
a problem stops the start with the config key at fault.

flags:
  --config FILE   the config (default ./meridian.yaml, else /etc/meridian/meridian.yaml)
  --pprof         also serve /debug/pprof/ on the API listener (as api.pprof: true)

examples:
  meridian serve --config /etc/meridian/meridian.yaml
  meridian serve --config examples/meridian.yaml --pprof
`

const checkHelp = `usage: meridian check [--config FILE]

Load the config, open every file and directory it names as serve does at
start (mesh.keyfile, api.token_file, geoip.databases, log.queries.path,
state_dir, mesh.state_dir), and load every zone; print each problem on its
own line, with its file and line or the config key at fault. Exit 1 when
there is any problem, else print "ok". Nothing is written, and no port is
bound: a node may be running with the same config.

flags:
  --config FILE   the config (default ./meridian.yaml, else /etc/meridian/meridian.yaml)

examples:
  meridian check --config /etc/meridian/meridian.yaml
  meridian check && systemctl reload meridian
`

const statusHelp = `usage: meridian status [--api URL | --config FILE] [--json]

Print a node's view from its API: nodes by region and their zone sets,
what each dynamic record answers now (fail-open and fallback records are
named first), every value with its verdict and whether it is served,
endpoints with their votes, drains and the last reload. Reading needs no
token.

flags:
  --api URL       the node's API (127.0.0.1:8053 means http://127.0.0.1:8053)
  --config FILE   read api.listen from this config instead
  --json          print /api/v1/status as it is

Without --api or --config, api.listen is read from ./meridian.yaml, else
/etc/meridian/meridian.yaml, else the default address 127.0.0.1:8053 is
asked.

examples:
  meridian status
  meridian status --api 10.0.1.5:8053
  meridian status --json | jq '.serving'
`

const explainHelp = `usage: meridian explain [--config FILE] NAME [TYPE] --client IP[/PREFIX] [--down VALUE|pool:ID ...]

Show how a query from a client would be answered, and why, from the config
and zones on disk: the client's location, one live probe of each endpoint
involved, each rule tried, each pool walked, the answer, its TTL and ECS
scope. TYPE defaults to A. Exit 1 for NXDOMAIN or a name outside the zones.
To ask a running node with its own verdicts and drains, use
GET /api/v1/explain.

flags:
  --config FILE         the config (default ./meridian.yaml, else /etc/meridian/meridian.yaml)
  --client IP[/PREFIX]  required: the client; IP/PREFIX is an ECS address and source prefix
  --down VALUE|pool:ID  count a value as failing its checks, or a pool as drained (repeatable)

examples:
  meridian explain app.example.com --client 198.51.100.7
  meridian explain app.example.com AAAA --client 2001:db8::/56
  meridian explain app.example.com --client 203.0.113.0/24 --down pool:ap --down 192.0.2.100
`

const drainHelp = `usage: meridian drain TARGET [--for DURATION] [--reason TEXT] [--force] [--api URL | --config FILE] [--token-file FILE]
       meridian drain --undo TARGET [--api URL | --config FILE] [--token-file FILE]

Take a value (an address, or a CNAME target name) or a pool id
("pool:eu") of the zones served out of service on every node of the mesh,
or put it back with --undo. The target is stored canonical (2001:DB8::1
is 2001:db8::1, CDN.Example.NET. is cdn.example.net). A target that no
dynamic record names is refused, with the closest ones; --force drains one
that is about to appear. An --undo of a target that is not drained is
refused too. Exit 1 when the API refuses, 2 for a bad command line.

flags:
  --for DURATION    lift the drain by itself after this long (30m, 2h); default: until undone
  --reason TEXT     why, shown in status (at most 200 bytes)
  --force           drain a target the zones do not name (yet)
  --undo            put TARGET back
  --api URL         the node's API (default: api.listen of the config, else 127.0.0.1:8053)
  --config FILE     read api.listen and api.token_file from this config
  --token-file FILE the API token (default: api.token_file of the config)

Without --api or --config, ./meridian.yaml, else /etc/meridian/meridian.yaml,
is read when it exists.

examples:
  meridian drain pool:eu --for 2h --reason "kernel upgrade"
  meridian drain 198.51.100.1
  meridian drain --undo pool:eu
  meridian drain cdn-new.example.net --force
`

const keygenHelp = `usage: meridian keygen

Print a new random 32-byte mesh key, base64, for mesh.keyfile. Every node
of a mesh needs the same key.

example:
  meridian keygen > /etc/meridian/mesh.key
`

const versionHelp = `usage: meridian version   (also meridian --version, meridian -v)

Print the version, the Go version and the platform.
`

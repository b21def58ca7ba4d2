#!/usr/bin/env bash
# The three-region fleet of docs/dr.md on one machine: three Meridian
# nodes (us-east, eu-west, ap-south) run from this directory's configs and
# zone, changed only to use loopback addresses, and the service's six
# origins as small local HTTP servers. Every address is on loopback and
# every port unprivileged; no root is needed.
#
#   examples/dr/run.sh           # or make dr-demo: start, then take commands
#   examples/dr/run.sh --check   # start, run the failover scenario, exit
#
# Interactive, it prints what to try and takes commands (help lists them)
# until quit, Ctrl-C or the end of its input. Either way everything it
# started is stopped on the way out.
#
# Environment:
#   MERIDIAN         the meridian binary (default: go build into the work dir)
#   MERIDIAN_DR_NET  first three octets of the loopback addresses (127.0.53)
#   MERIDIAN_DR_DIR  configs, logs and state (default: a new temporary
#                    directory, removed at exit)
#
# With net = MERIDIAN_DR_NET:
#   nodes    ns1-us-east net.1, ns2-eu-west net.2, ns3-ap-south net.3:
#            DNS on port 5353, API and status page on 8053, gossip on 7946
#   origins  us-east net.11 net.12, eu-west net.21 net.22,
#            ap-south net.31 net.32: HTTP on 8080 (the zone's health port)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
net=${MERIDIAN_DR_NET:-127.0.53}
regions=(us-east eu-west ap-south)
# The ECS client network the demo GeoIP database places in each region
# (Virginia, Frankfurt, Tokyo), and each region's documentation network in
# the zone, whose .10 and .11 are its origins.
clients=(192.0.2.0 198.51.100.0 203.0.113.0)
docnets=(192.0.2 198.51.100 203.0.113)

check=false
case "${1:-}" in
--check) check=true ;;
"") ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

die() {
	echo "run.sh: $*" >&2
	exit 1
}

# --- Stopping everything it started --------------------------------------

work=${MERIDIAN_DR_DIR:-}
own_work=false
# alive PID...: whether any of the processes still runs.
alive() {
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}
# stop PID...: SIGTERM, and SIGKILL for what still runs 10 s later.
stop() {
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	local n=0
	while alive "$@" && [ $n -lt 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	kill -KILL "$@" 2>/dev/null || true
}
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	local f pids=()
	for f in "$work"/origins/*.pid; do
		[ -f "$f" ] && pids+=("$(cat "$f")")
	done
	stop "${pids[@]}"
	# One node after the other: each leaves the mesh while its peers can
	# still hear it, which is quicker than all at once.
	for f in "$work"/*/node.pid; do
		[ -f "$f" ] && stop "$(cat "$f")"
	done
	wait 2>/dev/null || true
	rm -f "$work"/origins/*.pid "$work"/*/node.pid
	if $own_work; then
		rm -rf "$work"
	fi
	exit "$status"
}
if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/meridian-dr.XXXXXX")
	own_work=true
fi
# A directory used before starts afresh: no process ids of an earlier run
# (which could belong to anything by now), no drains it saved.
mkdir -p "$work/bin" "$work/origins"
rm -f "$work"/origins/*.pid "$work"/*/node.pid
rm -rf "$work"/*/state
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Binaries ------------------------------------------------------------

meridian=${MERIDIAN:-}
if [ -z "$meridian" ]; then
	echo "building meridian"
	(cd "$root" && go build -o "$work/bin/meridian" ./cmd/meridian)
	meridian=$work/bin/meridian
fi
meridian=$(cd "$(dirname "$meridian")" && pwd)/$(basename "$meridian")
if [ ! -x "$work/bin/origin" ] || [ "$here/origin/main.go" -nt "$work/bin/origin" ]; then
	(cd "$root" && go build -o "$work/bin/origin" ./examples/dr/origin)
fi

# --- The fleet's files: one key, each node's config and zone ---------------

# Once for the fleet: every node gets the same key.
rm -f "$work/mesh.key"
(umask 0377 && "$meridian" keygen >"$work/mesh.key")

# origin R H: the loopback address of origin H (1 or 2) of region R (0-2).
origin() { echo "$net.$(($1 + 1))$2"; }
node_ip() { echo "$net.$(($1 + 1))"; }

# The zone with each origin moved to loopback: a.b.c.10 and a.b.c.11 of
# region i become net.(i+1)1 and net.(i+1)2.
zone_rewrite=()
for i in 0 1 2; do
	d=${docnets[$i]//./\\.}
	zone_rewrite+=(-e "s/$d\.10\([^0-9]\)/$(origin $i 1)\1/g" -e "s/$d\.11\([^0-9]\)/$(origin $i 2)\1/g")
done

for i in 0 1 2; do
	r=${regions[$i]}
	ip=$(node_ip $i)
	dir=$work/$r
	mkdir -p "$dir/zones" "$dir/state"
	join=""
	for j in 0 1 2; do
		[ $j = $i ] || join="$join${join:+, }\"$(node_ip $j):7946\""
	done
	sed -e "s|^  listen: \[.*\]|  listen: [\"$ip:5353\"]|" \
		-e "s|^  listen: \"127.0.0.1:8053\"|  listen: \"$ip:8053\"|" \
		-e "s|^  databases: .*|  databases: [\"$root/examples/geoip/demo-city.mmdb\"]|" \
		-e "s|^state_dir: [^ ]*|state_dir: \"$dir/state\"|" \
		-e "s|^  state_dir: [^ ]*|  state_dir: \"$dir/state/mesh\"|" \
		-e "s|^  bind: .*|  bind: \"$ip:7946\"|" \
		-e "s|^  join: .*|  join: [$join]|" \
		-e "s|^  keyfile: .*|  keyfile: \"$work/mesh.key\"|" \
		"$here/$r.yaml" >"$dir/meridian.yaml"
	sed "${zone_rewrite[@]}" "$here/zones/gslb.example.com.yaml" >"$dir/zones/gslb.example.com.yaml"

	# Every address and path was moved: nothing of the production setup
	# is left outside comments.
	if sed 's/#.*//' "$dir/meridian.yaml" | grep -nE '192\.0\.2\.53|198\.51\.100\.53|203\.0\.113\.53|2001:db8|/etc/|/var/|127\.0\.0\.1'; then
		die "examples/dr/$r.yaml has changed: the lines above were not moved to loopback"
	fi
	if sed 's/#.*//' "$dir/zones/gslb.example.com.yaml" | grep -nE '(192\.0\.2|198\.51\.100|203\.0\.113)\.1[01]([^0-9]|$)'; then
		die "examples/dr/zones/gslb.example.com.yaml has changed: the origins above were not moved to loopback"
	fi
	# The doc's step before starting a node.
	"$meridian" check --config "$dir/meridian.yaml" >/dev/null || die "meridian check --config $dir/meridian.yaml failed"
done

# --- Origins and nodes -----------------------------------------------------

# start_origin ADDR and stop_origin ADDR: an origin is a process; down is
# gone, as after a crash.
start_origin() {
	"$work/bin/origin" -listen "$1:8080" >>"$work/origins/$1.log" 2>&1 &
	echo $! >"$work/origins/$1.pid"
}
stop_origin() {
	local f=$work/origins/$1.pid
	if [ -f "$f" ]; then
		kill "$(cat "$f")" 2>/dev/null || true
		wait "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	fi
}

for i in 0 1 2; do
	start_origin "$(origin $i 1)"
	start_origin "$(origin $i 2)"
done
for r in "${regions[@]}"; do
	"$meridian" serve --config "$work/$r/meridian.yaml" >"$work/$r/log" 2>&1 &
	echo $! >"$work/$r/node.pid"
done

# Each node serves once its log says so; one that exits shows its log.
for r in "${regions[@]}"; do
	n=0
	until grep -q 'msg=serving' "$work/$r/log"; do
		if ! kill -0 "$(cat "$work/$r/node.pid")" 2>/dev/null || [ $n -ge 200 ]; then
			tail -n 20 "$work/$r/log" >&2
			die "the $r node did not start (log above)"
		fi
		sleep 0.1
		n=$((n + 1))
	done
done

# --- Asking the fleet ------------------------------------------------------

have_dig=false
command -v dig >/dev/null && have_dig=true

# answer NODE CLIENT: what the node at address NODE answers
# app.gslb.example.com to a client in CLIENT/24 (sent as ECS): the
# addresses, sorted, and the TTL.
answer() {
	{ dig @"$1" -p 5353 +norec +time=1 +tries=1 +noall +answer +subnet="$2/24" app.gslb.example.com A 2>/dev/null || true; } |
		awk '$4 == "A" { a[n++] = $5; ttl = $2 }
			END {
				for (i = 1; i < n; i++) { # a handful: insertion sort
					v = a[i]
					for (j = i - 1; j >= 0 && a[j] > v; j--) a[j + 1] = a[j]
					a[j + 1] = v
				}
				for (i = 0; i < n; i++) printf "%s ", a[i]
				if (n) printf "ttl=%s", ttl
			}'
}

# pool R: what region R's pool answers, with TTL.
pool() { echo "$(origin "$1" 1) $(origin "$1" 2) ttl=$2"; }

now_us() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		echo "${EPOCHREALTIME//[!0-9]/}"
	else
		echo $((SECONDS * 1000000))
	fi
}

# everywhere WHAT R WANT: wait until every node answers region R's clients
# with WANT (at most 20 s) and say how long it took.
everywhere() {
	local what=$1 r=$2 want=$3 start i got
	start=$(now_us)
	for i in 0 1 2; do
		while got=$(answer "$(node_ip $i)" "${clients[$r]}"); [ "$got" != "$want" ]; do
			if [ $(($(now_us) - start)) -gt 20000000 ]; then
				echo "FAIL $what: ${regions[$i]}'s node answers ${regions[$r]}'s clients \"$got\"; want \"$want\""
				return 1
			fi
			sleep 0.1
		done
	done
	local us=$(($(now_us) - start))
	printf 'ok   %-12s every node answers %s clients %s (after %d.%d s)\n' \
		"$what" "${regions[$r]}'s" "$want" $((us / 1000000)) $((us / 100000 % 10))
}

ask() {
	if ! $have_dig; then
		echo "ask needs dig (apt-get install bind9-dnsutils)"
		return
	fi
	local r i
	printf '%-27s' "clients of"
	for i in 0 1 2; do printf '%-34s' "${regions[$i]}'s node"; done
	echo
	for r in 0 1 2; do
		printf '%-27s' "${regions[$r]} (${clients[$r]}/24)"
		for i in 0 1 2; do printf '%-34s' "$(answer "$(node_ip $i)" "${clients[$r]}")"; done
		echo
	done
}

# targets WHAT: the origins a region name or an origin address stands for.
targets() {
	local i
	for i in 0 1 2; do
		if [ "$1" = "${regions[$i]}" ]; then
			echo "$(origin $i 1) $(origin $i 2)"
			return
		fi
		if [ "$1" = "$(origin $i 1)" ] || [ "$1" = "$(origin $i 2)" ]; then
			echo "$1"
			return
		fi
	done
	echo "no region or origin $1: try one of ${regions[*]} or an origin address" >&2
	return 1
}

is_region() {
	case " ${regions[*]} " in *" $1 "*) return 0 ;; esac
	echo "no region $1: try one of ${regions[*]}" >&2
	return 1
}

# run CMD...: show a command, then run it.
run() {
	local a line=\$
	for a in "$@"; do
		case "$a" in
		*" "*) line="$line \"$a\"" ;;
		*) line="$line $a" ;;
		esac
	done
	echo "${line//$work/\$DIR}"
	"$@"
}

down() {
	local a
	for a in $(targets "$1"); do
		stop_origin "$a"
		echo "origin $a stopped"
	done
}
up() {
	local a
	for a in $(targets "$1"); do
		[ -f "$work/origins/$a.pid" ] || start_origin "$a"
		echo "origin $a running"
	done
}
drain() {
	is_region "$1" && run "$meridian" drain "pool:$1" --for 1h --reason "dr demo" --config "$work/us-east/meridian.yaml"
}
undrain() {
	is_region "$1" && run "$meridian" drain --undo "pool:$1" --config "$work/eu-west/meridian.yaml"
}

# --- Check mode: the scenario of docs/dr.md, step by step -----------------

if $check; then
	$have_dig || die "--check needs dig (apt-get install bind9-dnsutils)"
	echo "nodes: ns1-us-east $(node_ip 0), ns2-eu-west $(node_ip 1), ns3-ap-south $(node_ip 2)"
	eu=1 us=0
	for r in 0 1 2; do
		everywhere "normal" $r "$(pool $r 60)"
	done
	drain eu-west
	everywhere "drain" $eu "$(pool $us 10)"
	undrain eu-west
	everywhere "undrain" $eu "$(pool $eu 60)"
	down eu-west
	everywhere "region-down" $eu "$(pool $us 10)"
	echo "dr check: ok"
	exit 0
fi

# --- Interactive -------------------------------------------------------------

cat <<EOF

The fleet of docs/dr.md is up. DIR=$work holds each node's
config, zone, state and log (removed at exit).

  node          DNS                 status page
  ns1-us-east   $(node_ip 0):5353     http://$(node_ip 0):8053/
  ns2-eu-west   $(node_ip 1):5353     http://$(node_ip 1):8053/
  ns3-ap-south  $(node_ip 2):5353     http://$(node_ip 2):8053/

  origins (HTTP :8080): us-east $(origin 0 1) $(origin 0 2), eu-west $(origin 1 1) $(origin 1 2),
  ap-south $(origin 2 1) $(origin 2 2)

Open a status page and keep it in view. Ask a node as a resolver in
Frankfurt (eu-west's area) would, from another terminal:

  dig @$(node_ip 1) -p 5353 +subnet=198.51.100.0/24 app.gslb.example.com

Then, at the prompt below:

  ask               what each node answers each region's clients
  down eu-west      kill eu-west's origins: within about 4 s every node sends
                    its clients to us-east, with TTL 10
  up eu-west        start them again: home, with TTL 60, within about 4 s
  down $(origin 1 1)  kill one origin: the pool serves the other
  drain eu-west     planned failover (meridian drain pool:eu-west)
  undrain eu-west   and back
  status            meridian status on ns1
  log eu-west       the end of a node's log
  help, quit        (Ctrl-C or the end of input quit too)

EOF

help() {
	echo "ask | down REGION|ORIGIN | up REGION|ORIGIN | drain REGION | undrain REGION | status | log REGION | quit"
}

while printf 'dr> ' && read -r cmd arg rest; do
	case "$cmd" in
	"") ;;
	ask) ask ;;
	down | up | drain | undrain)
		if [ -z "${arg:-}" ]; then help; else "$cmd" "$arg" || true; fi
		;;
	status) run "$meridian" status --config "$work/us-east/meridian.yaml" || true ;;
	log)
		if [ -n "${arg:-}" ] && is_region "$arg"; then tail -n 20 "$work/$arg/log"; else help; fi
		;;
	help) help ;;
	quit | exit) break ;;
	*)
		echo "unknown command $cmd"
		help
		;;
	esac
done
echo

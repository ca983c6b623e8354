#!/usr/bin/env bash
# A drover cluster on this one host, for developers and tests (as kind is for Kubernetes).
# Each "machine" is a network namespace with its own drover daemon (root, exec root,
# cgroup parent, bridge prefix), linked to the others by a veth on a host bridge; traffic
# stays on that bridge. A Debian docker-registry on the bridge serves a busybox image made
# from the host's busybox-static, which every node pulls as "busybox".
#
#   scripts/cluster-local.sh up         NODES=3 (default) machines: SERVERS=1 (default) or 3
#                                       servers, the rest agents; prints KUBECONFIG=PATH last
#   scripts/cluster-local.sh kill-node NAME   kill -9 every process of machine NAME (power loss)
#   scripts/cluster-local.sh start-node NAME  start machine NAME's daemon again
#   scripts/cluster-local.sh down       remove everything
#
# Needs root, busybox-static, docker-registry, iproute2. DROVER_BIN picks the binary
# (default bin/drover, built with make when missing); CLUSTER_DIR the state directory;
# CLUSTER_NAME (default drvcl) names the namespaces, bridge, veths and cgroups, and
# CLUSTER_NET (default 10.77.0) the machines' /24, so clusters can run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${DROVER_BIN:-$PWD/bin/drover}"
DIR="${CLUSTER_DIR:-/tmp/drover-cluster-local}"
NAME="${CLUSTER_NAME:-drvcl}"
NET="${CLUSTER_NET:-10.77.0}" # the machines' /24 on the host bridge
BR="${NAME}0"
NODES="${NODES:-3}"
SERVERS="${SERVERS:-1}"
REG="$NET.1:5000"

say() { echo "cluster-local: $*" >&2; }
die() { say "$*"; exit 1; }

ns() { echo "$NAME-$1"; }                   # a machine's network namespace
ip_of() { echo "$NET.$((10 + ${1#n}))"; }   # n1 -> .11
sock() { echo "$DIR/$1/run/drover.sock"; }
on() { local n=$1; shift; "$BIN" -H "unix://$(sock "$n")" "$@"; }

start_daemon() {
	local n=$1 i=${1#n}
	mkdir -p "$DIR/$n"
	# nsenter, not "ip netns exec": that one remounts /sys, and the engine needs the cgroup mounts.
	nsenter --net="/run/netns/$(ns "$n")" "$BIN" daemon --root "$DIR/$n/root" --exec-root "$DIR/$n/run" \
		--cgroup-parent "$NAME-$n" --network-prefix "dcl$i" --cri-socket "" --docker-socket "" \
		--registry-mirror "docker.io=$REG" --insecure-registry "$REG" \
		>>"$DIR/$n/daemon.log" 2>&1 &
	echo $! >"$DIR/$n/daemon.pid"
	for _ in $(seq 200); do [ -S "$(sock "$n")" ] && on "$n" info >/dev/null 2>&1 && return 0; sleep 0.05; done
	die "the daemon of $n did not start: see $DIR/$n/daemon.log"
}

machine() {
	local n=$1 i=${1#n}
	ip netns add "$(ns "$n")"
	ip link add "$NAME$i" type veth peer name eth0 netns "$(ns "$n")"
	ip link set "$NAME$i" master "$BR" up
	ip -n "$(ns "$n")" addr add "$(ip_of "$n")/24" dev eth0
	ip -n "$(ns "$n")" link set eth0 up
	ip -n "$(ns "$n")" link set lo up
	ip -n "$(ns "$n")" route add default via "$NET.1"
	start_daemon "$n"
}

registry() {
	mkdir -p "$DIR/registry"
	cat >"$DIR/registry/config.yml" <<EOC
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/registry/data
http:
  addr: $REG
  secret: drover-cluster-local
EOC
	/usr/bin/docker-registry serve "$DIR/registry/config.yml" >"$DIR/registry/log" 2>&1 &
	echo $! >"$DIR/registry/pid"
	for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null 2>&1 && return 0; sleep 0.05; done
	die "docker-registry did not start: see $DIR/registry/log"
}

busybox_image() {
	local root="$DIR/busybox"
	mkdir -p "$root/bin" "$root/etc" "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	tar -C "$root" -cf "$DIR/busybox.tar" .
	on n1 import --change 'CMD ["sh"]' "$DIR/busybox.tar" "$REG/library/busybox:latest" >/dev/null
	on n1 push "$REG/library/busybox:latest" >/dev/null
	on n1 rmi "$REG/library/busybox:latest" >/dev/null
}

up() {
	[ -e "$DIR/up" ] && die "a local cluster is up already ($DIR): run \"$0 down\" first"
	[ -x "$BIN" ] || make build >/dev/null
	[ "$SERVERS" -ge 1 ] && [ "$SERVERS" -le "$NODES" ] || die "SERVERS must be between 1 and NODES"
	mkdir -p "$DIR" && touch "$DIR/up"
	echo "$NODES" >"$DIR/nodes"
	ip link add "$BR" type bridge && ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up
	registry
	for i in $(seq "$NODES"); do machine "n$i"; done
	busybox_image
	on n1 cluster init --advertise "$(ip_of n1)" --node-name n1 --format json >"$DIR/init.json"
	local atok stok
	atok=$(sed -n 's/.*"agentToken": *"\([^"]*\)".*/\1/p' "$DIR/init.json")
	stok=$(sed -n 's/.*"serverToken": *"\([^"]*\)".*/\1/p' "$DIR/init.json")
	for i in $(seq 2 "$NODES"); do
		if [ "$i" -le "$SERVERS" ]; then
			on "n$i" cluster join "$(ip_of n1):6443" --token "$stok" --server --advertise "$(ip_of "n$i")" --node-name "n$i" >/dev/null
		else
			on "n$i" cluster join "$(ip_of n1):6443" --token "$atok" --advertise "$(ip_of "n$i")" --node-name "n$i" >/dev/null
		fi
	done
	on n1 cluster kubeconfig -o "$DIR/kubeconfig"
	say "$NODES machines up ($SERVERS server(s)); logs in $DIR/nN/daemon.log"
	echo "KUBECONFIG=$DIR/kubeconfig"
}

# kill_procs kills with -9 the daemon, shims and containers of machine $1: the processes
# in its network namespace and in its cgroups.
kill_procs() {
	local n=$1
	ip netns pids "$(ns "$n")" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	for f in /sys/fs/cgroup/*/"$NAME-$n"/cgroup.procs /sys/fs/cgroup/*/"$NAME-$n"/*/cgroup.procs /sys/fs/cgroup/*/"$NAME-$n"/*/*/cgroup.procs; do
		[ -e "$f" ] && xargs -r kill -9 <"$f" 2>/dev/null || true
	done
	return 0
}

down() {
	local count=0
	[ -e "$DIR/nodes" ] && count=$(cat "$DIR/nodes")
	for i in $(seq "$count"); do
		# Bounded: a machine whose cluster lost its quorum must not hold up the rest.
		timeout 30 "$BIN" -H "unix://$(sock "n$i")" cluster leave --force >/dev/null 2>&1 || true
		# A daemon stops its containers' supervision gracefully; then nothing may be left.
		[ -e "$DIR/n$i/daemon.pid" ] && kill "$(cat "$DIR/n$i/daemon.pid")" 2>/dev/null || true
	done
	sleep 0.5
	for i in $(seq "$count"); do
		kill_procs "n$i"
		for m in $(grep -o " $DIR/n$i/[^ ]*" /proc/self/mountinfo | sort -r); do umount -l "$m" 2>/dev/null || true; done
		ip netns del "$(ns "n$i")" 2>/dev/null || true
		ip link del "$NAME$i" 2>/dev/null || true
		for c in /sys/fs/cgroup/*/"$NAME-n$i"; do
			[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		done
	done
	[ -e "$DIR/registry/pid" ] && kill "$(cat "$DIR/registry/pid")" 2>/dev/null || true
	ip link del "$BR" 2>/dev/null || true
	rm -rf "$DIR"
}

case "${1:-}" in
up) up ;;
down) down ;;
kill-node) [ -n "${2:-}" ] || die "usage: $0 kill-node NAME"; kill_procs "$2" ;;
start-node) [ -n "${2:-}" ] || die "usage: $0 start-node NAME"; start_daemon "$2" ;;
*) die "usage: $0 up|down|kill-node NAME|start-node NAME" ;;
esac

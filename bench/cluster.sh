#!/usr/bin/env bash
# The cluster's figures (issue 10's targets), in one go, on local clusters made by
# scripts/cluster-local.sh (each machine a network namespace with its own daemon, linked
# by a host bridge), measured from the host through the API with bench/cluster:
#
#   1. scheduler throughput: bench/scheduler, 5,000 simulated nodes, 50,000 pods, 2 cores
#   2. cluster A, NODES=4 SERVERS=1: n1 is the server (cordoned, so pods go to the 3
#      agents n2-n4), busybox pulled on every node beforehand:
#      - idle RSS of the server's daemon and of each agent's daemon, beside a plain daemon
#        (the engine alone, never in a cluster, same flags, same image pulled)
#      - pod start-up: a Deployment of REPLICAS pods, from the create call to each pod
#        seen Running by a client-go watch; then one agent's share (REPLICAS/3 pods on
#        n2 alone), since here the three agents share this host's cores
#   3. cluster B, NODES=3 SERVERS=3: idle RSS of each server's daemon; API write latency
#      and watch lag (Leases: one writer, then API_CONC writers; API_N writes each) on the
#      leader (n1) and through a follower (n2, which forwards writes to the leader)
#
# RSS is the daemon process alone (not its shims or containers), read from
# /proc/PID/status after SETTLE seconds idle: VmRSS (the figure the targets name) and
# RssAnon (VmRSS less the mapped pages of the drover binary, which every drover process
# on the machine shares). Each is the median of five reads a second apart.
#
#   bench/cluster.sh                                  # REPLICAS=100 API_N=500 API_CONC=16 SETTLE=30
#   SCHED=0 REPLICAS=30 API_N=100 SETTLE=5 bench/cluster.sh   # quick
#   SCHED=0 API=0 DROVER_BIN=/other/drover bench/cluster.sh  # RSS and pod start-up of another build
#
# Needs root, busybox-static, docker-registry, iproute2, and Go (bench/cluster and
# bench/scheduler are built here). CLUSTER_NET (default 10.79.0) is the clusters' /24.
set -euo pipefail
cd "$(dirname "$0")/.."
REPLICAS=${REPLICAS:-100}
API_N=${API_N:-500}
API_CONC=${API_CONC:-16}
SETTLE=${SETTLE:-30}
SCHED=${SCHED:-1}
API=${API:-1}
BIN="${DROVER_BIN:-$PWD/bin/drover}"
[ -x "$BIN" ] || make build >/dev/null
command -v go >/dev/null || { echo "bench: go is missing: put /usr/local/go/bin on PATH" >&2; exit 1; }

W=$(mktemp -d /tmp/drover-bench-cluster.XXXXXX)
export CLUSTER_NAME=bnchc CLUSTER_NET="${CLUSTER_NET:-10.79.0}" CLUSTER_DIR="$W/cl" DROVER_BIN="$BIN"
LOCAL=scripts/cluster-local.sh
REG="$CLUSTER_NET.1:5000" # cluster-local's registry, on the host bridge
. bench/lib.sh
cleanup() {
	set +e
	[ -e "$CLUSTER_DIR/up" ] && "$LOCAL" down >/dev/null 2>&1
	export DROVER_HOST="unix://$W/run/drover.sock"
	bench_stop
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }

go build -o "$W/bench-cluster" ./bench/cluster
go build -o "$W/bench-scheduler" ./bench/scheduler
on() { local n=$1; shift; "$BIN" -H "unix://$CLUSTER_DIR/$n/run/drover.sock" "$@"; }
kc() { kubectl --kubeconfig "$CLUSTER_DIR/kubeconfig" "$@"; }

# rss PID: "VmRSS RssAnon" in MB, each the median of five reads a second apart.
rss() {
	local v=() a=() i
	for i in 1 2 3 4 5; do
		v+=("$(awk '/^VmRSS:/{print $2}' "/proc/$1/status")")
		a+=("$(awk '/^RssAnon:/{print $2}' "/proc/$1/status")")
		[ "$i" = 5 ] || sleep 1
	done
	printf '%s %s\n' "$(printf '%s\n' "${v[@]}" | sort -n | sed -n 3p)" "$(printf '%s\n' "${a[@]}" | sort -n | sed -n 3p)" |
		awk '{printf "%.1f %.1f\n", $1/1024, $2/1024}'
}
up() {
	NODES=$1 SERVERS=$2 "$LOCAL" up >"$W/up.log" 2>&1 || { cat "$W/up.log" >&2; exit 1; }
	for _ in $(seq 100); do
		[ "$(kc get nodes --no-headers 2>/dev/null | grep -c ' Ready ')" = "$1" ] && return 0
		sleep 0.2
	done
	log "the cluster's $1 nodes did not all turn Ready"; kc get nodes >&2; exit 1
}
wait_load() {
	log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

OUT="$W/out"
: >"$OUT"
say() { echo "$*" | tee -a "$OUT"; }
say "# bench/cluster.sh, $(date -u +%F), $(nproc) CPUs, $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

if [ "$SCHED" = 1 ]; then
	wait_load
	say "## scheduler (load average at start: $(cut -d' ' -f1-3 /proc/loadavg))"
	GOMAXPROCS=2 "$W/bench-scheduler" -nodes 5000 -pods 50000 | tee -a "$OUT"
fi

# Cluster A: one server, three agents.
log "cluster A: NODES=4 SERVERS=1"
up 4 1
kc cordon n1 >/dev/null
# pull CMD...: pulls busybox with the drover command CMD, retried; a failure says which.
pull() {
	local i
	for i in 1 2 3; do "$@" pull busybox >"$W/pull.log" 2>&1 && return 0; sleep 1; done
	log "pull busybox failed ($*):"; cat "$W/pull.log" >&2; exit 1
}
for n in n1 n2 n3 n4; do pull on "$n"; done
# The engine alone: a plain daemon with the machines' flags, the same image pulled.
export DROVER_HOST="unix://$W/run/drover.sock"
bench_start_daemon bcp --cri-socket "" --docker-socket "" --registry-mirror "docker.io=$REG" --insecure-registry "$REG"
pull "$BIN"
unset DROVER_HOST
log "settling for ${SETTLE}s"
sleep "$SETTLE"
say "## idle RSS, cluster A (load average: $(cut -d' ' -f1-3 /proc/loadavg)); MB: VmRSS RssAnon"
read -r PV PA < <(rss "$DPID")
say "plain daemon (engine alone): $PV $PA"
for n in n1 n2 n3 n4; do
	read -r V A < <(rss "$(cat "$CLUSTER_DIR/$n/daemon.pid")")
	role=agent
	[ "$n" = n1 ] && role="server (and agent, cordoned)"
	say "$n $role: $V $A; above the plain daemon: $(awk -v a="$V" -v b="$PV" 'BEGIN{printf "%.1f", a-b}') $(awk -v a="$A" -v b="$PA" 'BEGIN{printf "%.1f", a-b}')"
done
wait_load
say "## pod start-up, $REPLICAS replicas on n2-n4 (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
# Where the CPU goes meanwhile: the machine's busy share, the server's and the agents'
# daemons, and what runs in the agents' cgroups (shims, pause and pod processes).
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat; }
dcpu() { local t=0 n; for n in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$(cat "$CLUSTER_DIR/$n/daemon.pid")/stat"))); done; echo "$t"; }
ccpu() { local t=0 f; for f in /sys/fs/cgroup/cpuacct/"$CLUSTER_NAME"-n[234]/cpuacct.usage; do [ -e "$f" ] && t=$((t + $(cat "$f"))); done; echo "$t"; }
read -r B0 I0 < <(busy); D0=$(dcpu n2 n3 n4); S0=$(dcpu n1); C0=$(ccpu)
"$W/bench-cluster" pods -kubeconfig "$CLUSTER_DIR/kubeconfig" -replicas "$REPLICAS" -keep | tee -a "$OUT"
read -r B1 I1 < <(busy); D1=$(dcpu n2 n3 n4); S1=$(dcpu n1); C1=$(ccpu)
HZ=$(getconf CLK_TCK)
say "CPU meanwhile: machine $(awk -v b=$((B1 - B0)) -v i=$((I1 - I0)) 'BEGIN{printf "%.0f%% busy", 100*b/(b+i)}'), $(awk -v t=$((B1 - B0)) -v h="$HZ" 'BEGIN{printf "%.1f", t/h}') cpu-s in all;" \
	"the server's daemon $(awk -v t=$((S1 - S0)) -v h="$HZ" 'BEGIN{printf "%.1f", t/h}') cpu-s;" \
	"the three agents' daemons $(awk -v t=$((D1 - D0)) -v h="$HZ" 'BEGIN{printf "%.1f", t/h}') cpu-s; their cgroups (shims, pods) $(awk -v t=$((C1 - C0)) 'BEGIN{printf "%.1f", t/1e9}') cpu-s"
kc delete deployment bench-start --wait=false >/dev/null
# One agent's share alone: REPLICAS/3 pods on n2 with n3 and n4 cordoned, what one machine
# of three would start if the cluster's machines did not share this host's cores (n2
# still shares them with the server).
SHARE=$(( (REPLICAS + 2) / 3 ))
kc cordon n3 n4 >/dev/null
for _ in $(seq 300); do [ -z "$(kc get pods --no-headers 2>/dev/null)" ] && break; sleep 0.2; done
wait_load
say "## pod start-up, one agent's share: $SHARE replicas on n2 alone (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
"$W/bench-cluster" pods -kubeconfig "$CLUSTER_DIR/kubeconfig" -replicas "$SHARE" -name bench-share -keep | tee -a "$OUT"
"$LOCAL" down >/dev/null 2>&1

# Cluster B: three servers.
if [ "$API" = 0 ]; then
	log "API=0: no cluster B; figures in $OUT (removed on exit); copied to stdout above"
	exit 0
fi
log "cluster B: NODES=3 SERVERS=3"
up 3 3
log "settling for ${SETTLE}s"
sleep "$SETTLE"
say "## idle RSS, cluster B, three servers (load average: $(cut -d' ' -f1-3 /proc/loadavg)); MB: VmRSS RssAnon"
for n in n1 n2 n3; do
	read -r V A < <(rss "$(cat "$CLUSTER_DIR/$n/daemon.pid")")
	say "$n server: $V $A"
done
wait_load
say "## API on the leader, n1 (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
"$W/bench-cluster" api -kubeconfig "$CLUSTER_DIR/kubeconfig" -namespace bench-api-leader -n "$API_N" -concurrency "$API_CONC" | tee -a "$OUT"
say "## API through a follower, n2 (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
"$W/bench-cluster" api -kubeconfig "$CLUSTER_DIR/kubeconfig" -namespace bench-api-follower -server "https://$CLUSTER_NET.12:6443" \
	-n "$API_N" -concurrency "$API_CONC" | tee -a "$OUT"
log "figures in $OUT (removed on exit); copied to stdout above"

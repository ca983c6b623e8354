#!/usr/bin/env bash
# A/B of two drover binaries: each runs its own daemon (own root, cgroup parent and network
# prefix) and the two take turns, ROUNDS rounds of N `run --rm --network none IMAGE true`
# each, so that the VM's drift hits both alike. Prints each round and the mean ratio B/A.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY          # defaults: ROUNDS=6 N=24
#   ROUNDS=10 N=30 bench/ab.sh /tmp/drover-old bin/drover
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bench/ab.sh OLD_BINARY NEW_BINARY" >&2; exit 2; }
ROUNDS=${ROUNDS:-6}
N=${N:-24}
A=$(realpath "$1")
B=$(realpath "$2")
. bench/lib.sh

# One scratch dir and daemon per side; lib.sh keeps one daemon's state in W, DPID and
# BENCH_NAME, so each side saves its own.
start_side() { # NAME BINARY
	W=$(mktemp -d /tmp/drover-ab.XXXXXX) BIN=$2 DPID= BENCH_NAME=
	eval "W_$1=\$W"
	export DROVER_HOST="$W/run/drover.sock"
	bench_start_daemon "ab$1"
	eval "DPID_$1=\$DPID"
	bench_rootfs "$W/rootfs"
	tar -C "$W/rootfs" -cf "$W/rootfs.tar" .
	"$BIN" import "$W/rootfs.tar" bench >/dev/null
}
stop_side() { # NAME BINARY
	eval "W=\${W_$1:-} DPID=\${DPID_$1:-}"
	[ -n "$W" ] || return 0
	BIN=$2 BENCH_NAME="ab$1" DROVER_HOST="$W/run/drover.sock" bench_stop
}
trap 'stop_side a "$A"; stop_side b "$B"' EXIT
start_side a "$A"
start_side b "$B"

round() { # NAME BINARY: mean ms of N runs, in hundredths
	local w
	eval "w=\$W_$1"
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq "$N"); do DROVER_HOST="$w/run/drover.sock" "$2" run --rm --network none bench true >/dev/null; done
	t1=$(date +%s%N)
	echo $(((t1 - t0) / N / 10000))
}
round a "$A" >/dev/null
round b "$B" >/dev/null # warm-up
ta=0 tb=0
for r in $(seq "$ROUNDS"); do
	a=$(round a "$A") b=$(round b "$B")
	ta=$((ta + a)) tb=$((tb + b))
	printf 'round %d: A %d.%02d ms  B %d.%02d ms\n' "$r" $((a / 100)) $((a % 100)) $((b / 100)) $((b % 100))
done
printf 'mean: A %d.%02d ms  B %d.%02d ms  B/A %d%%\n' $((ta / ROUNDS / 100)) $((ta / ROUNDS % 100)) $((tb / ROUNDS / 100)) $((tb / ROUNDS % 100)) $((tb * 100 / ta))

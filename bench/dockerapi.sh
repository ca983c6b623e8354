#!/usr/bin/env bash
# The Docker API's cost: `docker run --rm --network none IMAGE true` through drover's Docker
# API socket against `drover run --rm --network none IMAGE true` on drover's own API, same
# daemon and image. The commands take turns, ROUNDS rounds of N runs each, so that the VM's
# drift hits all alike (as bench/ab.sh does). Prints each round and a markdown table for
# BENCHMARKS.md. Needs root and a docker CLI (Debian's docker.io; /usr/local/bin/docker too
# if present); no dockerd.
#
# The CLIs' rows count each CLI's own work (its start-up, and the docker CLI's work between
# its five requests). The API layer alone is timed last by bench/dockerapi, one Go process
# that sends the docker CLI's requests with Docker's own client module and drover run's
# request with drover's client, taking turns: that ratio is the target's (issue 15).
#
#   bench/dockerapi.sh                 # defaults: ROUNDS=6 N=20
#   ROUNDS=10 N=30 bench/dockerapi.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-6}
N=${N:-20}
BIN="$PWD/bin/drover"
[ -x "$BIN" ] || make build >/dev/null
CLIS=()
for c in /usr/bin/docker /usr/local/bin/docker; do [ -x "$c" ] && CLIS+=("$c"); done
[ ${#CLIS[@]} -gt 0 ] || { echo "bench: no docker CLI: apt-get install docker.io (its dockerd is not used)" >&2; exit 1; }

W=$(mktemp -d /tmp/drover-bench.XXXXXX)
export DROVER_HOST="$W/run/drover.sock"
. bench/lib.sh
trap bench_stop EXIT

bench_rootfs "$W/rootfs"
tar -C "$W/rootfs" -cf "$W/rootfs.tar" .
bench_start_daemon dapi
"$BIN" import "$W/rootfs.tar" bench >/dev/null
export DOCKER_HOST="unix://$W/run/docker.sock" DOCKER_CONFIG="$W/docker-config"

# times CMD...: mean milliseconds (two decimals) of N runs of CMD.
times() {
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq "$N"); do "$@" >/dev/null; done
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / N / 10000))"
}
names=(drover "drover version")
cmds=("$BIN run --rm --network none bench true" "$BIN version")
for c in "${CLIS[@]}"; do
	v=$("$c" version --format '{{.Client.Version}}' 2>/dev/null | cut -d+ -f1)
	names+=("docker $v" "docker $v version")
	cmds+=("$c run --rm --network none bench true" "$c version --format {{.Server.Version}}")
done
for i in "${!cmds[@]}"; do times ${cmds[$i]} >/dev/null; done # warm-up
declare -A sum
for r in $(seq "$ROUNDS"); do
	line="round $r:"
	for i in "${!cmds[@]}"; do
		t=$(times ${cmds[$i]})
		sum[$i]=$((${sum[$i]:-0} + t))
		line+=" ${names[$i]} $((t / 100)).$(printf %02d $((t % 100))) ms;"
	done
	echo "$line" >&2
done
mean() { echo "scale=1; ${sum[$1]} / $ROUNDS / 100" | bc; }
d=$(mean 0)
dv=$(mean 1)
echo "| measure | docker CLI via drover's Docker API | drover CLI | ratio | target |"
echo "|---|---|---|---|---|"
for i in $(seq 2 2 $((${#cmds[@]} - 1))); do
	m=$(mean "$i")
	v=$(mean $((i + 1)))
	echo "| \`${names[$i]} run --rm IMAGE true\` | $m ms | $d ms | $(echo "scale=2; $m / $d" | bc)x | |"
	echo "| same, less the CLI's own start and ping (\`version\`: $v ms) | $(echo "$m - $v" | bc) ms | $d ms | $(echo "scale=2; ($m - $v) / $d" | bc)x | |"
	echo "| same, each less its own CLI's start and ping (drover \`version\`: $dv ms) | $(echo "$m - $v" | bc) ms | $(echo "$d - $dv" | bc) ms | $(echo "scale=2; ($m - $v) / ($d - $dv)" | bc)x | |"
done
echo
(cd bench/dockerapi && GOFLAGS="-mod=mod" go build -o "$W/dockerapi" .)
"$W/dockerapi" -docker "$DOCKER_HOST" -drover "$DROVER_HOST" -image bench -rounds "$ROUNDS" -n "$N"

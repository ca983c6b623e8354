#!/usr/bin/env bash
# Networking benchmark: drover against rootful podman with its default bridge network, in
# one run. Measures `run --rm IMAGE true` on the default network, and HTTP request
# throughput through a published port (a small static Go HTTP server in the container, load
# from wrk on the host's 127.0.0.1). Prints a markdown table for BENCHMARKS.md.
# Needs root, hyperfine, podman, runc, wrk and Go (Debian packages, Go for the test server).
#
#   bench/net.sh            # defaults: 20 start-up runs, 5 rounds of 5 s of wrk per engine
#   RUNS=30 ROUNDS=7 DURATION=10s bench/net.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-5}
BIN="$PWD/bin/drover"
[ -x "$BIN" ] || make build >/dev/null
for tool in hyperfine podman runc wrk; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done

W=$(mktemp -d /tmp/drover-netbench.XXXXXX)
export DROVER_HOST="$W/run/drover.sock"
PODMAN_IMG=localhost/drover-netbench:latest
. bench/lib.sh
cleanup() {
	podman rm -af -t 0 >/dev/null 2>&1 || true
	podman rmi -f "$PODMAN_IMG" >/dev/null 2>&1 || true
	bench_stop
}
trap cleanup EXIT

R="$W/rootfs"
bench_rootfs "$R"
CGO_ENABLED=0 go build -o "$R/bin/testprog" ./internal/testutil/testprog
tar -C "$R" -cf "$W/rootfs.tar" .

bench_start_daemon netbench
"$BIN" import "$W/rootfs.tar" bench >/dev/null
podman import -q "$W/rootfs.tar" "$PODMAN_IMG" >/dev/null
PODMAN="podman --runtime runc"
ULIMITS="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$W/start.json" \
	-n drover "$BIN run --rm bench true" \
	-n podman "$PODMAN run --rm $ULIMITS $PODMAN_IMG true" >&2

# Throughput through a published port.
"$BIN" run -d --name web -p 127.0.0.1:18301:8080 bench /bin/testprog http :8080 >/dev/null
$PODMAN run -d --name web $ULIMITS -p 127.0.0.1:18302:8080 "$PODMAN_IMG" /bin/testprog http :8080 >/dev/null
for port in 18301 18302; do
	for _ in $(seq 100); do wget -qO- "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
done
rps() { wrk -t2 -c32 -d"$DURATION" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
wrk -t2 -c32 -d2s http://127.0.0.1:18301/ >/dev/null; wrk -t2 -c32 -d2s http://127.0.0.1:18302/ >/dev/null
# Alternate the two, ROUNDS times, and keep the medians: one run of wrk on 2 cores swings
# by 10-15%.
D_ALL=(); P_ALL=()
for _ in $(seq "$ROUNDS"); do
	D_ALL+=("$(rps 18301)")
	P_ALL+=("$(rps 18302)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
D_RPS=$(median "${D_ALL[@]}")
P_RPS=$(median "${P_ALL[@]}")
echo "wrk rounds: drover ${D_ALL[*]}; podman ${P_ALL[*]}" >&2

python3 - "$W/start.json" "$D_RPS" "$P_RPS" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
d, p = (res[k]["mean"] * 1000 for k in ("drover", "podman"))
ds, ps = (res[k]["stddev"] * 1000 for k in ("drover", "podman"))
drps, prps = float(sys.argv[2]), float(sys.argv[3])
print("| measure | drover | podman | ratio (drover/podman) | target |")
print("|---|---|---|---|---|")
print(f"| `run --rm IMAGE true`, default bridge network | {d:.1f} ms ± {ds:.1f} | {p:.1f} ms ± {ps:.1f} | {d/p:.2f}x | ≤ 0.25x |")
print(f"| HTTP requests/s through a published port (wrk -t2 -c32 on 127.0.0.1, median of rounds) | {drps:.0f} | {prps:.0f} | {drps/prps:.2f}x | ≥ 1x |")
PY

#!/usr/bin/env bash
# Container start-up and memory benchmark: drover against podman and bare runc, in one run,
# on the same busybox rootfs. Prints a markdown table of timings and ratios for
# BENCHMARKS.md. Needs root, hyperfine, podman, runc and busybox-static (Debian packages).
# podman runs with runc: Debian's crun refuses the hybrid cgroup layout of these machines.
#
#   bench/run.sh            # defaults: 30 runs per command
#   RUNS=50 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
BIN="$PWD/bin/drover"
[ -x "$BIN" ] || make build >/dev/null
for tool in hyperfine podman runc; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done

W=$(mktemp -d /tmp/drover-bench.XXXXXX)
export DROVER_HOST="$W/run/drover.sock"
PODMAN_IMG=localhost/drover-bench-busybox:latest
. bench/lib.sh
cleanup() {
	podman rm -af >/dev/null 2>&1 || true
	podman rmi -f "$PODMAN_IMG" >/dev/null 2>&1 || true
	runc --root "$W/runc" delete -f benchid >/dev/null 2>&1 || true
	bench_stop
}
trap cleanup EXIT

# One rootfs for everyone.
R="$W/bundle/rootfs"
bench_rootfs "$R"
tar -C "$R" -cf "$W/rootfs.tar" .

bench_start_daemon bench
"$BIN" import "$W/rootfs.tar" bench >/dev/null
podman import -q "$W/rootfs.tar" "$PODMAN_IMG" >/dev/null

# A runc bundle with the same rootfs, no network namespace setup beyond a new netns.
(cd "$W/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"/"true"/' config.json)

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$W/start.json" \
	-n drover "$BIN run --rm --network none bench true" \
	-n podman "podman --runtime runc run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 $PODMAN_IMG true" \
	-n runc "runc --root $W/runc run --bundle $W/bundle benchid" >&2

# Memory: daemon idle, and what each running container costs (shim + its sleep).
pss() { awk '/^Pss:/ {s+=$2} END {print s+0}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
DAEMON_PSS=$(pss "$DPID")
N=20
for i in $(seq $N); do "$BIN" run -d --network none bench sleep 600 >/dev/null; done
sleep 1
SHIM_PSS=0; CTR_PSS=0
# Shims may supervise several containers each (--containers-per-shim): count each once.
for p in $(for f in "$W"/run/containers/*/shim.pid; do cat "$f"; echo; done | sort -u); do SHIM_PSS=$((SHIM_PSS + $(pss "$p"))); done
for id in $("$BIN" ps -q); do CTR_PSS=$((CTR_PSS + $(pss "$("$BIN" inspect -f '{{.State.Pid}}' "$id")"))); done
"$BIN" rm -f $("$BIN" ps -aq) >/dev/null

for i in $(seq $N); do podman --runtime runc run -d --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$PODMAN_IMG" sleep 600 >/dev/null; done
sleep 1
CONMON_PSS=0
for p in $(pgrep -x conmon); do CONMON_PSS=$((CONMON_PSS + $(pss "$p"))); done
podman rm -af -t 0 >/dev/null

python3 - "$W/start.json" "$DAEMON_PSS" "$SHIM_PSS" "$CTR_PSS" "$CONMON_PSS" "$N" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
daemon, shim, ctr, conmon, n = (int(x) for x in sys.argv[2:7])
d, p, r = (res[k]["mean"] * 1000 for k in ("drover", "podman", "runc"))
ds = res["drover"]["stddev"] * 1000
print("| measure | drover | peer | ratio (drover/peer) | target |")
print("|---|---|---|---|---|")
print(f"| `run --rm IMAGE true` vs podman (--network none) | {d:.1f} ms ± {ds:.1f} | {p:.1f} ms | {d/p:.2f}x | ≤ 0.25x |")
print(f"| `run --rm IMAGE true` vs bare `runc run` | {d:.1f} ms | {r:.1f} ms | {d/r:.2f}x | ≤ 1.5x |")
print(f"| shim PSS per container | {shim/n/1024:.2f} MiB | conmon {conmon/n/1024:.2f} MiB | {shim/max(conmon,1):.2f}x | ≤ 2 MiB |")
print(f"| container PSS incl. its process | {(shim+ctr)/n/1024:.2f} MiB | | | |")
print(f"| daemon idle PSS | {daemon/1024:.1f} MiB | | | |")
PY

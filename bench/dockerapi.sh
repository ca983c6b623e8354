#!/usr/bin/env bash
# The Docker API's cost: `docker run --rm IMAGE true` through drover's Docker API socket
# against `drover run --rm IMAGE true` on drover's own API, same daemon, same image, in one
# run. Prints a markdown row per docker CLI for BENCHMARKS.md. Needs root, hyperfine and a
# docker CLI (Debian's docker.io for 20.10; /usr/local/bin/docker if present); no dockerd.
#
#   bench/dockerapi.sh          # defaults: 30 runs per command
#   RUNS=50 bench/dockerapi.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
BIN="$PWD/bin/drover"
[ -x "$BIN" ] || make build >/dev/null
command -v hyperfine >/dev/null || { echo "bench: hyperfine is missing: apt-get install hyperfine" >&2; exit 1; }
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

args=(-n drover "$BIN run --rm --network none bench true")
for c in "${CLIS[@]}"; do
	v=$("$c" version --format '{{.Client.Version}}' 2>/dev/null || echo "?")
	args+=(-n "docker $v" "$c run --rm --network none bench true")
	# The CLI alone, without a container: what the client costs before the API does work.
	args+=(-n "docker $v version" "$c version --format {{.Server.Version}}")
done
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$W/dockerapi.json" "${args[@]}" >&2

python3 - "$W/dockerapi.json" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
d = res["drover"]["mean"] * 1000
print("| measure | docker CLI via drover's Docker API | drover CLI | ratio | target |")
print("|---|---|---|---|---|")
for name, r in res.items():
    if not name.startswith("docker ") or name.endswith(" version"):
        continue
    m, s = r["mean"] * 1000, r["stddev"] * 1000
    v = res[name + " version"]["mean"] * 1000
    print(f"| `{name} run --rm IMAGE true` (--network none) | {m:.1f} ms ± {s:.1f} | {d:.1f} ms | {m/d:.2f}x | ≤ 1.10x |")
    print(f"| same, less the CLI's own `version` round trip ({v:.1f} ms) | {m - v:.1f} ms | {d:.1f} ms | {(m - v)/d:.2f}x | |")
PY

#!/usr/bin/env bash
# Image build benchmark: drover build against podman build (buildah), in one run, on the
# same busybox base, Dockerfile and context (a few thousand files). Three cases: a cold
# build (--no-cache on both), a rebuild with nothing changed, and a rebuild after one
# source file changed (everything from its COPY on runs again). Prints a markdown table
# for BENCHMARKS.md. Needs root, hyperfine, podman, runc and busybox-static.
# podman keeps its images in a storage of its own under the scratch directory.
#
#   bench/build.sh            # defaults: 5 cold runs, 10 of each rebuild
#   FILES=5000 RUNS=10 bench/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
COLD_RUNS=${COLD_RUNS:-5}
FILES=${FILES:-3000}
BIN="$PWD/bin/drover"
[ -x "$BIN" ] || make build >/dev/null
for tool in hyperfine podman runc; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done

W=$(mktemp -d /tmp/drover-bench-build.XXXXXX)
export DROVER_HOST="$W/run/drover.sock"
PODMAN=(podman --root "$W/podman/root" --runroot "$W/podman/run" --storage-driver overlay)
. bench/lib.sh
cleanup() {
	"${PODMAN[@]}" rmi -af >/dev/null 2>&1 || true
	"${PODMAN[@]}" system reset -f >/dev/null 2>&1 || true
	grep -o " $W/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	bench_stop
}
trap cleanup EXIT

R="$W/rootfs"
bench_rootfs "$R"
for a in mkdir find wc sed du cat sort head; do ln -s busybox "$R/bin/$a"; done
tar -C "$R" -cf "$W/rootfs.tar" .
bench_start_daemon build
"$BIN" import "$W/rootfs.tar" localhost/bench-base >/dev/null
"${PODMAN[@]}" import -q "$W/rootfs.tar" localhost/bench-base >/dev/null

# The context: FILES small source files in 50 directories, a config file, a Dockerfile
# with four RUN and three COPY steps.
C="$W/ctx"
mkdir -p "$C/conf"
for d in $(seq 0 49); do mkdir -p "$C/src/d$d"; done
python3 - "$C/src" "$FILES" <<'PY'
import sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{root}/d{i % 50}/f{i}.txt", "w") as f:
        f.write(f"file {i}\n" * 20)
PY
echo "name=bench" >"$C/conf/app.conf"
cat >"$C/Dockerfile" <<'EOF'
FROM localhost/bench-base
RUN mkdir -p /app/bin && echo setup > /app/setup
COPY conf/app.conf /app/conf/
RUN sed -n 1p /app/conf/app.conf > /app/name
COPY src/ /app/src/
RUN find /app/src -type f | wc -l > /app/count
COPY Dockerfile /app/
RUN du -s /app > /app/size && cat /app/count
WORKDIR /app
CMD ["cat", "/app/count"]
EOF

DROVER_BUILD="$BIN build -q --network none -t bench:latest $C"
PODMAN_BUILD="${PODMAN[*]} build -q --runtime runc --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 -t localhost/bench:latest $C"
# Warm both caches once.
$DROVER_BUILD >/dev/null
$PODMAN_BUILD >/dev/null

hyperfine -N --runs "$COLD_RUNS" --export-json "$W/cold.json" \
	-n drover "$DROVER_BUILD --no-cache" -n podman "$PODMAN_BUILD --no-cache" >&2
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$W/nochange.json" \
	-n drover "$DROVER_BUILD" -n podman "$PODMAN_BUILD" >&2
# One source file changes before each run: the steps from COPY src/ on run again.
hyperfine --runs "$RUNS" --export-json "$W/onefile.json" \
	--prepare "date +%s%N > $C/src/d7/f7.txt" \
	-n drover "$DROVER_BUILD" -n podman "$PODMAN_BUILD" >&2

python3 - "$W" "$FILES" <<'PY'
import json, sys
w, files = sys.argv[1], sys.argv[2]
print(f"| case ({files} files in the context) | drover | podman build | ratio (drover/podman) | target |")
print("|---|---|---|---|---|")
for name, label, target in (("cold", "cold build (`--no-cache`)", ""), ("nochange", "rebuild, nothing changed", "≤ 0.2x"), ("onefile", "rebuild, one source file changed", "")):
    res = {r["command"]: r for r in json.load(open(f"{w}/{name}.json"))["results"]}
    d, p = res["drover"], res["podman"]
    print(f"| {label} | {d['mean']*1000:.0f} ms ± {d['stddev']*1000:.0f} | {p['mean']*1000:.0f} ms ± {p['stddev']*1000:.0f} | {d['mean']/p['mean']:.2f}x | {target} |")
PY

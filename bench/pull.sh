#!/usr/bin/env bash
# Image pull benchmark: drover against podman (pull + store) and skopeo (download only),
# from one local registry (Debian's docker-registry on 127.0.0.1), in one run. The image
# is ~200 MB unpacked in 4 layers, built by podman from random text; a second image adds
# one small layer on top of it. Also times save and load against podman. Prints a
# markdown table for BENCHMARKS.md. Needs root, hyperfine, podman, skopeo, docker-registry.
#
#   bench/pull.sh            # defaults: 5 runs per command
#   RUNS=10 bench/pull.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
BIN="$PWD/bin/drover"
[ -x "$BIN" ] || make build >/dev/null
for tool in hyperfine podman skopeo docker-registry; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done

W=$(mktemp -d /tmp/drover-pull.XXXXXX)
export DROVER_HOST="$W/run/drover.sock"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG="127.0.0.1:$PORT"
IMG="$REG/bench/big:1"
IMG2="$REG/bench/big:2"
. bench/lib.sh
cleanup() {
	[ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null || true
	podman rmi -f "$IMG" "$IMG2" localhost/drover-pull-base >/dev/null 2>&1 || true
	bench_stop
}
trap cleanup EXIT

cat >"$W/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/registry}}
http: {addr: $REG}
YML
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
RPID=$!

# Four layers of ~50 MB of base64 text (gzip takes it to ~75%).
mkdir -p "$W/ctx"
for i in 1 2 3 4; do head -c 37000000 /dev/urandom | base64 >"$W/ctx/layer$i"; done
head -c 1000000 /dev/urandom | base64 >"$W/ctx/extra"
printf 'FROM scratch\nCOPY layer1 /l1\nCOPY layer2 /l2\nCOPY layer3 /l3\nCOPY layer4 /l4\n' >"$W/ctx/Dockerfile"
podman build -q -t "$IMG" "$W/ctx" >/dev/null
printf 'FROM %s\nCOPY extra /extra\n' "$IMG" >"$W/ctx/Dockerfile.2"
podman build -q -f "$W/ctx/Dockerfile.2" -t "$IMG2" "$W/ctx" >/dev/null
podman push -q --tls-verify=false "$IMG" >/dev/null
podman push -q --tls-verify=false "$IMG2" >/dev/null
podman rmi -f "$IMG" "$IMG2" >/dev/null

bench_start_daemon pull

hyperfine -N --runs "$RUNS" --export-json "$W/pull.json" \
	--prepare "sh -c '$BIN rmi -f $IMG >/dev/null 2>&1; $BIN image prune -a >/dev/null; podman rmi -f $IMG >/dev/null 2>&1; rm -rf $W/skopeo; sync'" \
	-n drover "$BIN pull -q $IMG" \
	-n podman "podman pull -q --tls-verify=false $IMG" \
	-n skopeo "skopeo copy -q --src-tls-verify=false docker://$IMG dir:$W/skopeo" >&2

# The second image shares the four big layers: only the new one moves.
hyperfine -N --runs "$RUNS" --export-json "$W/shared.json" \
	--prepare "sh -c '$BIN pull -q $IMG >/dev/null; $BIN rmi -f $IMG2 >/dev/null 2>&1; podman pull -q --tls-verify=false $IMG >/dev/null; podman rmi -f $IMG2 >/dev/null 2>&1; true'" \
	-n drover "$BIN pull -q $IMG2" \
	-n podman "podman pull -q --tls-verify=false $IMG2" >&2

"$BIN" pull -q "$IMG" >/dev/null
podman pull -q --tls-verify=false "$IMG" >/dev/null
hyperfine -N --runs "$RUNS" --export-json "$W/save.json" \
	-n drover "$BIN save -o $W/d.tar $IMG" \
	-n podman "podman save -q -o $W/p.tar $IMG" \
	--prepare "rm -f $W/d.tar $W/p.tar" >&2
rm -f "$W/d.tar" "$W/p.tar"
"$BIN" save -o "$W/d.tar" "$IMG"
podman save -q -o "$W/p.tar" "$IMG"
hyperfine -N --runs "$RUNS" --export-json "$W/load.json" \
	--prepare "sh -c '$BIN rmi -f $IMG >/dev/null 2>&1; $BIN image prune -a >/dev/null; podman rmi -f $IMG >/dev/null 2>&1; true'" \
	-n drover "$BIN load -q -i $W/d.tar" \
	-n podman "podman load -q -i $W/p.tar" >&2

SIZE=$(du -sb "$W/ctx" | awk '{print $1}')
python3 - "$W" "$SIZE" <<'PY'
import json, sys
w, size = sys.argv[1], int(sys.argv[2])
def means(f):
    return {r["command"]: r["mean"] for r in json.load(open(f"{w}/{f}"))["results"]}
p, s, sv, ld = means("pull.json"), means("shared.json"), means("save.json"), means("load.json")
mb = size / 1e6
print(f"| what | drover | podman | skopeo (download only) | drover/podman time |")
print(f"|---|---|---|---|---|")
print(f"| pull {mb:.0f} MB, 4 layers | {p['drover']:.2f} s ({mb/p['drover']:.0f} MB/s) | {p['podman']:.2f} s ({mb/p['podman']:.0f} MB/s) | {p['skopeo']:.2f} s ({mb/p['skopeo']:.0f} MB/s) | {p['drover']/p['podman']:.2f}x |")
print(f"| pull of an image sharing those layers | {s['drover']:.2f} s | {s['podman']:.2f} s | | {s['drover']/s['podman']:.2f}x |")
print(f"| save | {sv['drover']:.2f} s | {sv['podman']:.2f} s | | {sv['drover']/sv['podman']:.2f}x |")
print(f"| load | {ld['drover']:.2f} s | {ld['podman']:.2f} s | | {ld['drover']/ld['podman']:.2f}x |")
PY

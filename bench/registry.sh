#!/usr/bin/env bash
# Registry benchmark: drover's registry (drover registry serve) against Debian's
# docker-registry, with the same client (skopeo) and the same ~200 MB image (4 layers of
# random data in gzip containers), in one run, rounds alternating between the two. Each
# push goes to a fresh, empty registry; each pull into an empty directory; medians. Then manifest GETs per second with hey, 50
# concurrent clients. Prints a markdown table for BENCHMARKS.md. Needs skopeo, hey,
# docker-registry, python3.
#
#   bench/registry.sh            # defaults: 5 pushes and pulls each
#   RUNS=3 bench/registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
GETS=${GETS:-20000}
BIN="$PWD/bin/drover"
[ -x "$BIN" ] || make build >/dev/null
for tool in skopeo hey docker-registry python3; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done

W=$(mktemp -d /tmp/drover-registry-bench.XXXXXX)
RPID=""
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stop_registry() {
	if [ -n "$RPID" ]; then kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null || true; fi
	RPID=""
}
trap 'stop_registry; rm -rf "$W"' EXIT

# start_registry drover|docker: a fresh registry with empty storage on a new port (REG).
start_registry() {
	stop_registry
	rm -rf "$W/storage"
	REG="127.0.0.1:$(freeport)"
	if [ "$1" = drover ]; then
		"$BIN" registry serve --addr "$REG" --root "$W/storage" 2>"$W/registry.log" &
	else
		cat >"$W/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/storage}}
http: {addr: $REG}
YML
		docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
	fi
	RPID=$!
	for _ in $(seq 200); do
		curl -fs "http://$REG/v2/" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "bench: the $1 registry did not start:" >&2
	cat "$W/registry.log" >&2
	return 1
}

# The image: an OCI layout with 4 layers of ~50 MB (random bytes, stored gzip so skopeo
# copies them as they are).
python3 - "$W/img" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(f"{d}/blobs/sha256")
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
layers, diffs = [], []
for i in range(4):
    payload = os.urandom(50_000_000)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        info = tarfile.TarInfo(f"layer{i}")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    diffs.append("sha256:" + hashlib.sha256(raw.getvalue()).hexdigest())
    layers.append(dict(blob(gzip.compress(raw.getvalue(), compresslevel=0)), mediaType="application/vnd.oci.image.layer.v1.tar+gzip"))
cfg = blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}}).encode())
cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
m = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cfg, "layers": layers}).encode())
m.update(mediaType="application/vnd.oci.image.manifest.v1+json", annotations={"org.opencontainers.image.ref.name": "1"})
json.dump({"schemaVersion": 2, "manifests": [m]}, open(f"{d}/index.json", "w"))
open(f"{d}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
SIZE=$(du -sb "$W/img/blobs" | awk '{print $1}')

# time_cmd: seconds a command takes.
time_cmd() {
	local t0=$EPOCHREALTIME
	"$@" >/dev/null 2>&1
	python3 -c "print($EPOCHREALTIME - $t0)"
}

# Rounds alternate between the two registries, so that load from elsewhere on the machine
# falls on both alike; each figure is the median of its runs.
declare -A PUSHES PULLS GET
for _ in $(seq "$RUNS"); do
	for impl in drover docker; do
		start_registry "$impl"
		sync
		PUSHES[$impl]+=" $(time_cmd skopeo copy -q --dest-tls-verify=false "oci:$W/img:1" "docker://$REG/bench/big:1")"
		rm -rf "$W/out"
		sync
		PULLS[$impl]+=" $(time_cmd skopeo copy -q --src-tls-verify=false "docker://$REG/bench/big:1" "dir:$W/out")"
		stop_registry
	done
done
median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' $1; }
for impl in drover docker; do
	start_registry "$impl"
	skopeo copy -q --dest-tls-verify=false "oci:$W/img:1" "docker://$REG/bench/big:1" >/dev/null
	hey -n 1000 -c 50 -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$REG/v2/bench/big/manifests/1" >/dev/null # warm up
	GET[$impl]=$(hey -n "$GETS" -c 50 -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$REG/v2/bench/big/manifests/1" | awk '/Requests\/sec/ {print $2}')
	stop_registry
done
declare -A PUSH PULL
for impl in drover docker; do
	PUSH[$impl]=$(median "${PUSHES[$impl]}")
	PULL[$impl]=$(median "${PULLS[$impl]}")
done
rm -rf "$W/out" "$W/storage"

python3 - "$SIZE" "${PUSH[drover]}" "${PUSH[docker]}" "${PULL[drover]}" "${PULL[docker]}" "${GET[drover]}" "${GET[docker]}" <<'PY'
import sys
size, pd, pk, ld, lk, gd, gk = map(float, sys.argv[1:])
mb = size / 1e6
print("| what | drover registry | docker-registry | drover speed / docker-registry |")
print("|---|---|---|---|")
print(f"| skopeo push {mb:.0f} MB, 4 layers | {pd:.2f} s ({mb/pd:.0f} MB/s) | {pk:.2f} s ({mb/pk:.0f} MB/s) | {pk/pd:.2f}x |")
print(f"| skopeo pull {mb:.0f} MB to dir: | {ld:.2f} s ({mb/ld:.0f} MB/s) | {lk:.2f} s ({mb/lk:.0f} MB/s) | {lk/ld:.2f}x |")
print(f"| manifest GET, hey -c 50 | {gd:.0f} req/s | {gk:.0f} req/s | {gd/gk:.2f}x |")
PY

#!/usr/bin/env bash
# CRI pod sandboxes: crictl against a drover daemon's CRI socket beside podman's pod
# commands, in alternating rounds of one run, then critest's own benchmark mode against
# the same daemon (no podman counterpart). Prints markdown tables for BENCHMARKS.md.
# Needs root, podman, runc, busybox-static, python3, and cri-tools v1.37.0 (crictl and
# critest) in $DROVER_CRI_TOOLS (default ~/.cache/drover-ci/cri-tools-v1.37.0; .ci/run
# installs them there). podman runs with runc: Debian's crun refuses this VM's hybrid
# cgroup layout.
#
# Both sides make a pod with an infra process and a bridge network (drover's own bridge,
# as --cni-conf-dir= turns CNI off; podman's default CNI bridge), then one busybox
# container in it. Each command is timed alone with the shell's clock. One more drover
# measure makes the sandbox the kubelet sends for a pod without shareProcessNamespace (a
# PID namespace per container), whose namespaces drover holds as files, with no process.
#
#   bench/cri.sh                                 # ROUNDS=5 CYCLES=10 CRITEST_N=50 CRITEST_CONTAINERS=10
#   ROUNDS=2 CYCLES=3 CRITEST_N=0 bench/cri.sh   # quick; CRITEST_N=0 leaves critest out
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
CYCLES=${CYCLES:-10}
CRITEST_N=${CRITEST_N:-50}
CRITEST_CONTAINERS=${CRITEST_CONTAINERS:-10}
BIN="$PWD/bin/drover"
[ -x "$BIN" ] || make build >/dev/null
TOOLS=${DROVER_CRI_TOOLS:-$HOME/.cache/drover-ci/cri-tools-v1.37.0}
for t in crictl critest; do
	[ -x "$TOOLS/$t" ] || {
		cat >&2 <<EOF
bench: $TOOLS/$t is missing. Install cri-tools v1.37.0 there as .ci/run does (or point
DROVER_CRI_TOOLS at a directory that has crictl and critest v1.37.0):
  GOBIN=$TOOLS GOFLAGS= go install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0
  (cd / && GOFLAGS= go mod download sigs.k8s.io/cri-tools@v1.37.0)
  (cd "\$(go env GOMODCACHE)/sigs.k8s.io/cri-tools@v1.37.0" && GOFLAGS=-mod=mod go test -c -o $TOOLS/critest ./cmd/critest)
EOF
		exit 1
	}
done
for tool in podman runc python3; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "bench: /bin/busybox is missing: apt-get install busybox-static" >&2; exit 1; }

W=$(mktemp -d /tmp/drover-bench-cri.XXXXXX)
export DROVER_HOST="$W/run/drover.sock"
IMG=drover-bench-cri                       # in drover's store
PODMAN_IMG=localhost/drover-bench-cri:latest # in podman's
P=drvcribench                              # podman's pod; its container is $P-sleep
SLEEP="trap 'exit 0' TERM; sleep 3600 & wait" # the pod's container, both sides
CRICTL=("$TOOLS/crictl" --config "$W/crictl.yaml")
. bench/lib.sh
cleanup() {
	set +e
	if [ -n "${DPID:-}" ]; then
		"${CRICTL[@]}" rmp -af >/dev/null 2>&1
		"$BIN" pod rm -f $("$BIN" pod ls -q 2>/dev/null) >/dev/null 2>&1
	fi
	[ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
	podman pod rm -f -t 0 "$P" >/dev/null 2>&1
	podman rmi -f "$PODMAN_IMG" >/dev/null 2>&1
	bench_stop
}
trap cleanup EXIT

# One busybox rootfs for both, with top for critest's containers. /bin/pause, podman's
# infra process, waits and leaves on SIGTERM, as drover's own pause does. The pod's
# container is a busybox sleep under a shell that leaves on SIGTERM too: a bare sleep as
# PID 1 ignores it, and both sides' pod stop then waits out its 10 s timeout.
R="$W/rootfs"
bench_rootfs "$R"
ln -s busybox "$R/bin/top"
printf '#!/bin/sh\ntrap "exit 0" TERM INT\nsleep 86400 &\nwait\n' >"$R/bin/pause"
chmod 755 "$R/bin/pause"
tar -C "$R" -cf "$W/rootfs.tar" .

bench_start_daemon cri --cni-conf-dir=
for _ in $(seq 100); do [ -S "$W/run/cri.sock" ] && break; sleep 0.05; done
cat >"$W/crictl.yaml" <<EOF
runtime-endpoint: unix://$W/run/cri.sock
image-endpoint: unix://$W/run/cri.sock
timeout: 30
pull-image-on-create: false
EOF
"$BIN" import "$W/rootfs.tar" "$IMG" >/dev/null
"${CRICTL[@]}" inspecti "$IMG" >/dev/null || { echo "bench: crictl does not see image $IMG in drover's store" >&2; exit 1; }
# podman's default nofile limit (1048576) is above this machine's hard limit, which runc
# may not raise here: both limits at 1024 as in bench/run.sh, for the infra container too.
sed '/^\[containers\]/a default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]' \
	/usr/share/containers/containers.conf >"$W/containers.conf"
export CONTAINERS_CONF="$W/containers.conf"
podman import -q "$W/rootfs.tar" "$PODMAN_IMG" >/dev/null

mkdir -p "$W/logs"
cat >"$W/pod.json" <<EOF
{"metadata": {"name": "bench", "namespace": "bench", "uid": "drover-bench-cri", "attempt": 0},
 "log_directory": "$W/logs", "linux": {"cgroup_parent": "/drover-cri"}}
EOF
cat >"$W/pod-k.json" <<EOF
{"metadata": {"name": "benchk", "namespace": "bench", "uid": "drover-bench-cri-k", "attempt": 0},
 "log_directory": "$W/logs", "linux": {"cgroup_parent": "/drover-cri",
  "security_context": {"namespace_options": {"pid": 1}}}}
EOF
cat >"$W/ctr.json" <<EOF
{"metadata": {"name": "sleep"}, "image": {"image": "$IMG"}, "command": ["sh", "-c", "$SLEEP"],
 "log_path": "sleep.log", "linux": {}}
EOF
PODMAN=(podman --runtime runc)

# Each sample appends microseconds to $W/t.KEY; now holds the shell's clock in µs.
now() { T=${EPOCHREALTIME/./}; }
rec() { echo "$2" >>"$W/t.$1"; }

# drover_runp [CONFIG KEY]: times crictl runp of CONFIG (pod.json) into $W/t.KEY (runp).
drover_runp() {
	local a b pod
	now; a=$T
	"${CRICTL[@]}" runp "$W/${1:-pod.json}" >"$W/id"
	now; b=$T
	rec "${2:-runp}" $((b - a))
	read -r pod <"$W/id"
	"${CRICTL[@]}" stopp "$pod" >/dev/null
	"${CRICTL[@]}" rmp "$pod" >/dev/null
}
podman_pod() {
	local a b c
	now; a=$T
	"${PODMAN[@]}" pod create --name "$P" --infra-image "$PODMAN_IMG" --infra-command /bin/pause >/dev/null
	now; b=$T
	"${PODMAN[@]}" pod start "$P" >/dev/null
	now; c=$T
	rec pcreate $((b - a))
	rec pstart $((c - b))
	rec ppair $((c - a))
	"${PODMAN[@]}" pod rm -f -t 0 "$P" >/dev/null
}
drover_cycle() {
	local t0 a b pod ctr
	now; t0=$T; a=$T
	"${CRICTL[@]}" runp "$W/pod.json" >"$W/id"
	now; b=$T; rec c1.d $((b - a)); a=$b
	read -r pod <"$W/id"
	"${CRICTL[@]}" create "$pod" "$W/ctr.json" "$W/pod.json" >"$W/id"
	now; b=$T; rec c2.d $((b - a)); a=$b
	read -r ctr <"$W/id"
	"${CRICTL[@]}" start "$ctr" >/dev/null
	now; b=$T; rec c3.d $((b - a)); a=$b
	"${CRICTL[@]}" stopp "$pod" >/dev/null
	now; b=$T; rec c4.d $((b - a)); a=$b
	"${CRICTL[@]}" rmp "$pod" >/dev/null
	now; b=$T; rec c5.d $((b - a))
	rec cycle.d $((b - t0))
}
podman_cycle() {
	local t0 a b
	now; t0=$T; a=$T
	"${PODMAN[@]}" pod create --name "$P" --infra-image "$PODMAN_IMG" --infra-command /bin/pause >/dev/null
	now; b=$T; rec c1.p $((b - a)); a=$b
	"${PODMAN[@]}" create -q --pod "$P" --name "$P-sleep" --log-driver k8s-file "$PODMAN_IMG" sh -c "$SLEEP" >/dev/null
	now; b=$T; rec c2.p $((b - a)); a=$b
	"${PODMAN[@]}" pod start "$P" >/dev/null
	now; b=$T; rec c3.p $((b - a)); a=$b
	"${PODMAN[@]}" pod stop "$P" >/dev/null
	now; b=$T; rec c4.p $((b - a)); a=$b
	"${PODMAN[@]}" pod rm "$P" >/dev/null
	now; b=$T; rec c5.p $((b - a))
	rec cycle.p $((b - t0))
}
cli_floor() {
	local a b
	now; a=$T
	"${CRICTL[@]}" version >/dev/null
	now; b=$T
	rec crictl $((b - a))
	"${PODMAN[@]}" version >/dev/null
	now; a=$T
	rec podman $((a - b))
}

# Warm-up (page cache, podman's storage, drover's warm shim), then the alternating rounds.
drover_runp; drover_runp pod-k.json runpk; podman_pod; drover_cycle; podman_cycle
rm -f "$W"/t.*
for r in $(seq "$ROUNDS"); do
	for _ in $(seq "$CYCLES"); do drover_runp; done
	for _ in $(seq "$CYCLES"); do drover_runp pod-k.json runpk; done
	for _ in $(seq "$CYCLES"); do podman_pod; done
	for _ in $(seq "$CYCLES"); do drover_cycle; done
	for _ in $(seq "$CYCLES"); do podman_cycle; done
	for _ in $(seq "$CYCLES"); do cli_floor; done
	echo "bench: round $r of $ROUNDS done" >&2
done

# critest -benchmark: pod lifecycle, container lifecycle, pod+container start, image pull
# and listing. The pull image comes from a drover registry on loopback; critest's
# containers run the imported image, which critest never removes (it removes the pull
# image after each image spec). critest stops each container right after starting it;
# should such a stop be lost (as before the daemon resent stop signals a starting
# process missed) it waits out critest's 60 s stop timeout: the result timeouts are
# above 60 s so that it shows in the figures instead of aborting critest.
CRITEST_OUT=
if [ "$CRITEST_N" -gt 0 ]; then
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$BIN" registry serve --addr "127.0.0.1:$PORT" --root "$W/registry" >"$W/registry.log" 2>&1 &
	RPID=$!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
	# An image of its own: removing it by name removes every tag of its ID, as in containerd.
	PULL="127.0.0.1:$PORT/drover-bench/busybox:1"
	echo pull >"$R/pull"
	tar -C "$R" -cf "$W/pull.tar" .
	"$BIN" import "$W/pull.tar" "$PULL" >/dev/null
	"$BIN" push "$PULL" >/dev/null
	"$BIN" rmi "$PULL" >/dev/null
	CTR_IMG=$("${CRICTL[@]}" inspecti -o go-template --template '{{index .status.repoTags 0}}' "$IMG")
	printf 'defaultTestContainerImage: %s\nwebServerTestImage: %s\n' "$CTR_IMG" "$CTR_IMG" >"$W/images.yaml"
	cat >"$W/params.yaml" <<EOF
containersNumber: $CRITEST_CONTAINERS
containersNumberParallel: 1
containerBenchmarkTimeoutSeconds: 150
podContainerStartBenchmarkTimeoutSeconds: 30
podsNumber: $CRITEST_N
podsNumberParallel: 1
imagesNumber: $CRITEST_N
imagesNumberParallel: 1
imagePullingBenchmarkImage: $PULL
imageListingBenchmarkImages: [$PULL]
EOF
	CRITEST_OUT="$W/critest"
	mkdir -p "$CRITEST_OUT"
	if ! (cd "$W" && "$TOOLS/critest" -benchmark --runtime-endpoint "unix://$W/run/cri.sock" \
		--image-endpoint "unix://$W/run/cri.sock" --test-images-file "$W/images.yaml" \
		--benchmarking-params-file "$W/params.yaml" --benchmarking-output-dir "$CRITEST_OUT" \
		--ginkgo.json-report "$CRITEST_OUT/report.json" --ginkgo.no-color --ginkgo.poll-progress-after 20s) >"$W/critest.log" 2>&1; then
		tail -50 "$W/critest.log" >&2
		echo "bench: critest -benchmark failed (its output above)" >&2
		exit 1
	fi
fi

python3 - "$W" "$ROUNDS" "$CYCLES" "$CRITEST_OUT" <<'PY'
import json, os, statistics, sys
w, rounds, cycles, cout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def ms(key):
    return [int(x) / 1000 for x in open(os.path.join(w, "t." + key)).read().split()]
def fmt(v):
    return f"{statistics.mean(v):.1f} ms ± {statistics.stdev(v):.1f}" if len(v) > 1 else f"{v[0]:.1f} ms"
def ratio(a, b):
    return f"{statistics.mean(a) / statistics.mean(b):.2f}x"
runp, pair, cyd, cyp = ms("runp"), ms("ppair"), ms("cycle.d"), ms("cycle.p")
print(f"{rounds} alternating rounds of {cycles} per measure; mean ± standard deviation\n")
print("| measure | drover (crictl) | podman | ratio (drover/podman) | target |")
print("|---|---|---|---|---|")
print(f"| pod sandbox start-up: `crictl runp` vs `podman pod create` + `podman pod start` | {fmt(runp)} | {fmt(pair)} | {ratio(runp, pair)} | ≤ 0.5x |")
print(f"| same, the kubelet's usual sandbox (pid namespace per container: no infra process) | {fmt(ms('runpk'))} | {fmt(pair)} | {ratio(ms('runpk'), pair)} | |")
print(f"| one-container pod, whole cycle (steps below) | {fmt(cyd)} | {fmt(cyp)} | {ratio(cyd, cyp)} | |")
print(f"| the CLI alone: `crictl version` vs `podman version` | {fmt(ms('crictl'))} | {fmt(ms('podman'))} | {ratio(ms('crictl'), ms('podman'))} | |")
print(f"\npodman's pair: `pod create` {fmt(ms('pcreate'))}, `pod start` {fmt(ms('pstart'))}.\n")
print("| cycle step, drover | time | podman | time |")
print("|---|---|---|---|")
steps = [("runp", "pod create"), ("create", "create --pod"), ("start", "pod start"), ("stopp", "pod stop"), ("rmp", "pod rm")]
for i, (d, p) in enumerate(steps, 1):
    print(f"| `crictl {d}` | {fmt(ms(f'c{i}.d'))} | `podman {p}` | {fmt(ms(f'c{i}.p'))} |")
if cout:
    print()
    print("critest -benchmark against the same daemon (drover only: critest has no podman mode); each call timed by critest over gRPC")
    print()
    print("| critest benchmark | operation | samples | mean | stddev | median |")
    print("|---|---|---|---|---|---|")
    for f, name in [("pod_benchmark_data.json", "pod lifecycle"), ("container_benchmark_data.json", "container lifecycle"),
                    ("image_lifecycle_benchmark_data.json", "image lifecycle"), ("image_listing_benchmark_data.json", "image listing")]:
        p = os.path.join(cout, f)
        if not os.path.exists(p):
            print(f"| {name} | (no data: {f} missing) | | | | |")
            continue
        d = json.load(open(p))
        for i, op in enumerate(d["operationsNames"]):
            v = [dp["operationsDurationsNs"][i] / 1e6 for dp in d["datapoints"]]
            sd = statistics.stdev(v) if len(v) > 1 else 0
            slow = sum(1 for x in v if x >= 10000)
            note = f" ({slow} of them ≥ 10 s: a lost stop signal)" if slow else ""
            print(f"| {name} | {op}{note} | {len(v)} | {statistics.mean(v):.2f} ms | {sd:.2f} | {statistics.median(v):.2f} ms |")
    # The pod+container start benchmark measures once, into the ginkgo report.
    try:
        for suite in json.load(open(os.path.join(cout, "report.json"))):
            for spec in suite.get("SpecReports") or []:
                for e in spec.get("ReportEntries") or []:
                    if e.get("Name") != "start-container-benchmark":
                        continue
                    exp = json.loads(e["Value"]["AsJSON"])
                    for m in exp.get("Measurements") or []:
                        for dur in m.get("Durations") or []:
                            print(f"| start a container from scratch | {m['Name']} (runp, create, start, stopp, rmp) | 1 | {dur / 1e6:.2f} ms | | |")
    except (OSError, KeyError, ValueError) as err:
        print(f"| start a container from scratch | (not read from the ginkgo report: {err}) | | | | |")
PY

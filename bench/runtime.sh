#!/usr/bin/env bash
# OCI runtime command line: `create` + `start` + `delete` of /bin/true on one bundle, with
# drover-runtime, Debian's runc and Debian's crun in alternating rounds of one run. Prints
# a markdown table for BENCHMARKS.md. Needs root, runc, crun and busybox-static.
#
# Debian's crun 1.8 refuses this machine's hybrid cgroup layout (cgroup v1 controllers plus
# a cgroup2 mount at /sys/fs/cgroup/unified). So every runtime runs in a mount namespace
# of the benchmark's own where /sys/fs/cgroup/unified is unmounted: all three see plain
# cgroup v1 and use the cgroupfs driver with the same cgroupsPath.
#
# A second measure, the burst: BURST containers (`sleep`, each in a cgroup and network
# namespace of its own, as a pod has) created and started by PAR parallel workers, per
# runtime: how long this machine takes to start many containers at once, whatever the
# runtime (the floor under the cluster's pod start-up, BENCHMARKS.md).
#
#   bench/runtime.sh             # 5 rounds of 20 cycles per runtime; a burst of 100, 2 workers
#   ROUNDS=10 CYCLES=50 BURST=0 bench/runtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
CYCLES=${CYCLES:-20}
BURST=${BURST:-100}
PAR=${PAR:-2}
# bin/drover-runtime: the per-container part of drover that make builds and bin/drover
# carries (cmd/drover-runtime), the binary to give podman or containerd.
BIN="$PWD/bin/drover-runtime"
[ -x "$BIN" ] || make build >/dev/null
for tool in runc crun unshare; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }
done

W=$(mktemp -d /tmp/drover-bench-rt.XXXXXX)
. bench/lib.sh
trap 'rmdir /sys/fs/cgroup/*/drover-bench-rt/* /sys/fs/cgroup/*/drover-bench-rt 2>/dev/null; rm -rf "$W"' EXIT
ln -s "$BIN" "$W/drover-runtime"
bench_rootfs "$W/bundle/rootfs"
"$W/drover-runtime" spec --bundle "$W/bundle"
# The default spec runs sh on a terminal: run /bin/true without one, in a cgroup of the
# benchmark's own; ociVersion 1.0.2, the newest crun 1.8 accepts.
sed -i 's/"ociVersion": *"[^"]*"/"ociVersion": "1.0.2"/; s/"terminal": true/"terminal": false/; s/"sh"$/"\/bin\/true"/; s/"cgroupsPath": *"[^"]*"/"cgroupsPath": "\/drover-bench-rt\/c"/' "$W/bundle/config.json"
grep -q '"/bin/true"' "$W/bundle/config.json" || { echo "bench: could not edit config.json" >&2; exit 1; }
if ! grep -q cgroupsPath "$W/bundle/config.json"; then
	sed -i 's/"linux": {/"linux": {\n\t\t"cgroupsPath": "\/drover-bench-rt\/c",/' "$W/bundle/config.json"
fi

unshare -m --propagation private bash -s "$W" "$ROUNDS" "$CYCLES" "$BURST" "$PAR" <<'INNER'
set -euo pipefail
W=$1 ROUNDS=$2 CYCLES=$3 BURST=$4 PAR=$5
umount -l /sys/fs/cgroup/unified 2>/dev/null || true
cd "$W/bundle"
declare -A total create start delete
names=(drover-runtime runc crun)
cmd() { case $1 in drover-runtime) echo "$W/drover-runtime --root $W/state-drover";; runc) echo "runc --root $W/state-runc";; crun) echo "crun --root $W/state-crun";; esac; }
# ${EPOCHREALTIME/[.,]/}: microseconds since the epoch, from bash itself (no process
# per reading, so each command is timed alone at no cost to the loop).
for n in "${names[@]}"; do total[$n]=0 create[$n]=0 start[$n]=0 delete[$n]=0; done
for round in $(seq "$ROUNDS"); do
	for n in "${names[@]}"; do
		rt=$(cmd "$n")
		for i in $(seq "$CYCLES"); do
			t0=${EPOCHREALTIME/[.,]/}
			$rt create "b$i" >/dev/null
			t1=${EPOCHREALTIME/[.,]/}
			$rt start "b$i"
			t2=${EPOCHREALTIME/[.,]/}
			$rt delete -f "b$i"
			t3=${EPOCHREALTIME/[.,]/}
			create[$n]=$(( ${create[$n]} + t1 - t0 ))
			start[$n]=$(( ${start[$n]} + t2 - t1 ))
			delete[$n]=$(( ${delete[$n]} + t3 - t2 ))
			total[$n]=$(( ${total[$n]} + t3 - t0 ))
		done
	done
done
n_cycles=$(( ROUNDS * CYCLES ))
ms() { awk -v us="$1" -v n="$n_cycles" 'BEGIN { printf "%.1f", us / n / 1e3 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
d=${total[drover-runtime]}
echo "| runtime | create+start+delete of /bin/true | drover-runtime / this | create | start | delete |"
echo "|---|---|---|---|---|---|"
for n in "${names[@]}"; do
	echo "| $n | $(ms "${total[$n]}") ms | $(ratio "$d" "${total[$n]}") | $(ms "${create[$n]}") ms | $(ms "${start[$n]}") ms | $(ms "${delete[$n]}") ms |"
done
echo
echo "$n_cycles cycles each, $ROUNDS alternating rounds; $(runc --version | head -1), $(crun --version | head -1)"
# What a cycle costs the machine, where perf is installed: page faults and system calls of
# every process (perf stat -a over 10 more cycles; the machine should be otherwise quiet).
# The ratios above move with the machine: on a VM whose page faults trap to the
# hypervisor, the runtime with the most faults loses most.
if command -v perf >/dev/null; then
	echo
	echo "| runtime | page faults per cycle | system calls per cycle |"
	echo "|---|---|---|"
	for n in "${names[@]}"; do
		rt=$(cmd "$n")
		perf stat -a -x, -e page-faults,raw_syscalls:sys_enter -o "$W/perf.$n" -- bash -c "for i in \$(seq 10); do $rt create p\$i >/dev/null; $rt start p\$i; $rt delete -f p\$i; done" >/dev/null 2>&1 || continue
		faults=$(awk -F, '$3 == "page-faults" {print $1}' "$W/perf.$n")
		calls=$(awk -F, '$3 == "raw_syscalls:sys_enter" {print $1}' "$W/perf.$n")
		echo "| $n | $(( ${faults:-0} / 10 )) | $(( ${calls:-0} / 10 )) |"
	done
fi
# The burst: BURST containers created and started by PAR workers, per runtime, then
# deleted. Each has a bundle of its own (the same rootfs, its own cgroup).
[ "$BURST" -gt 0 ] || exit 0
mkdir -p "$W/burst"
sed 's#"/bin/true"#"/bin/sleep", "1000"#; s#"path": *"rootfs"#"path": "'"$W"'/bundle/rootfs"#' "$W/bundle/config.json" >"$W/burst/config.json"
for i in $(seq "$BURST"); do
	mkdir "$W/burst/$i"
	sed "s#/drover-bench-rt/c\"#/drover-bench-rt/burst$i\"#" "$W/burst/config.json" >"$W/burst/$i/config.json"
done
# Shared cgroups would make every create after the first refuse a non-empty cgroup.
grep -q '"/drover-bench-rt/burst1"' "$W/burst/1/config.json" || { echo "bench: could not give the burst's bundles cgroups of their own" >&2; exit 1; }
echo
echo "| runtime | $BURST containers created and started, $PAR workers | per container |"
echo "|---|---|---|"
for n in "${names[@]}"; do
	rt=$(cmd "$n")
	t0=${EPOCHREALTIME/[.,]/}
	ok=yes
	seq "$BURST" | xargs -P "$PAR" -I{} sh -c "$rt create --bundle $W/burst/{} x{} >/dev/null && $rt start x{}" || ok=no
	t1=${EPOCHREALTIME/[.,]/}
	seq "$BURST" | xargs -P "$PAR" -I{} $rt delete -f x{} 2>/dev/null || true
	[ "$ok" = yes ] || { echo "bench: $n failed to start all $BURST containers" >&2; exit 1; }
	echo "| $n | $(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.2f s", us / 1e6 }') | $(awk -v us=$((t1 - t0)) -v n="$BURST" 'BEGIN { printf "%.1f ms", us / n / 1e3 }') |"
done
INNER

#!/usr/bin/env bash
# Demo: start a drover daemon in a scratch directory, import a busybox image made from the
# host's busybox-static, and run a container. Needs root, busybox-static and libseccomp-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/bin/drover"
DIR=$(mktemp -d /tmp/drover-demo.XXXXXX)
SOCK="$DIR/run/drover.sock"
export DROVER_HOST="$SOCK"

cleanup() {
	"$BIN" rm -f demo >/dev/null 2>&1 || true
	[ -n "${DPID:-}" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
	# A daemon keeps its default bridge and firewall table (as Docker); a demo does not.
	ip link del drvdemo0 2>/dev/null || true
	nft delete table inet drvdemo 2>/dev/null || true
	umount "$DIR/run/netns" 2>/dev/null || true
	rm -rf "$DIR"
	rmdir /sys/fs/cgroup/*/drover-demo 2>/dev/null || true
}
trap cleanup EXIT

"$BIN" daemon --root "$DIR/lib" --exec-root "$DIR/run" --cgroup-parent drover-demo --network-prefix drvdemo >"$DIR/daemon.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done

# A rootfs with busybox and its applets, as a tarball.
ROOTFS="$DIR/rootfs"
mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/tmp"
cp /bin/busybox "$ROOTFS/bin/busybox"
for a in sh echo cat ls uname id hostname ps sleep; do ln -s busybox "$ROOTFS/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"
echo 'root:x:0:' >"$ROOTFS/etc/group"
tar -C "$ROOTFS" -cf "$DIR/busybox.tar" .

"$BIN" import --change 'CMD ["sh"]' "$DIR/busybox.tar" busybox:demo
"$BIN" images
"$BIN" run --rm --name demo busybox:demo sh -c 'echo "hello from a drover container: $(hostname), $(uname -sr)"; id'
echo "exit code: $?"

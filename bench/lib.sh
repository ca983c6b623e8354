# Shared by the bench/ scripts (sourced): a drover daemon of the benchmark's own in a
# scratch directory, and a busybox rootfs. Callers set BIN and W, and call bench_stop in
# their EXIT trap.

# bench_start_daemon NAME [FLAG...]: starts a daemon under $W with cgroup parent drover-NAME
# and network prefix drvNAME (so it never touches a real daemon's bridge or table), and
# the given extra daemon flags, and waits until it answers.
bench_start_daemon() {
	BENCH_NAME=$1
	"$BIN" daemon --root "$W/lib" --exec-root "$W/run" --cgroup-parent "drover-$1" \
		--network-prefix "drv$1" "${@:2}" >"$W/daemon.log" 2>&1 &
	DPID=$!
	for _ in $(seq 200); do "$BIN" info >/dev/null 2>&1 && return 0; sleep 0.05; done
	echo "bench: the drover daemon did not start:" >&2
	cat "$W/daemon.log" >&2
	return 1
}

# bench_stop removes the containers, stops the daemon and removes what a daemon keeps by
# design (its bridge, firewall table and namespace directory mount; Docker keeps them
# too), then the scratch directory.
bench_stop() {
	if [ -n "${DPID:-}" ]; then
		"$BIN" rm -f $("$BIN" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
		kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null || true
	fi
	if [ -n "${BENCH_NAME:-}" ]; then
		ip link del "drv${BENCH_NAME}0" 2>/dev/null || true
		nft delete table inet "drv$BENCH_NAME" 2>/dev/null || true
		rmdir /sys/fs/cgroup/*/"drover-$BENCH_NAME" 2>/dev/null || true
	fi
	umount "$W/run/netns" 2>/dev/null || true
	rm -rf "$W"
}

# bench_rootfs DIR: a rootfs of the host's static busybox with a few applets.
bench_rootfs() {
	mkdir -p "$1/bin" "$1/etc" "$1/tmp" "$1/proc" "$1/sys" "$1/dev"
	cp /bin/busybox "$1/bin/busybox"
	for a in sh true sleep echo; do ln -s busybox "$1/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
	echo 'root:x:0:' >"$1/etc/group"
}

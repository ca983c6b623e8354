package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDetached covers the life of a background container: ps, logs, exec, top, stats,
// pause, rename, cp, stop, restart, wait, rm and prune.
func TestDetached(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")

	id := strings.TrimSpace(e.must("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
		"i=0; while true; do echo line $i; echo err $i >&2; i=$((i+1)); sleep 0.1; done"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a full ID", id)
	}
	if out := e.must("ps"); !strings.Contains(out, "ticker") || !strings.Contains(out, "Up ") {
		t.Fatalf("ps:\n%s", out)
	}
	if out := e.must("ps", "-q"); strings.TrimSpace(out) != id[:12] {
		t.Fatalf("ps -q = %q", out)
	}
	var list []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.must("ps", "--format", "json")), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("ps --format json line %q: %v", line, err)
		}
		list = append(list, m)
	}
	if len(list) != 1 || list[0]["Names"] != "ticker" {
		t.Fatalf("ps json: %v", list)
	}
	e.eventually(10*time.Second, "log lines", func() bool {
		out, _, _ := e.drover("logs", "ticker")
		return strings.Contains(out, "line 3")
	})
	_, errOut, _ := e.drover("logs", "ticker")
	if !strings.Contains(errOut, "err 1") {
		t.Fatalf("stderr not in logs: %q", errOut)
	}
	// --tail counts the records of both streams, as Docker does.
	var out string
	out, errOut, _ = e.drover("logs", "--tail", "2", "ticker")
	if n := strings.Count(out+errOut, "\n"); n != 2 {
		t.Fatalf("logs --tail 2 gave %d lines: %q %q", n, out, errOut)
	}
	out, errOut, _ = e.drover("logs", "-t", "--tail", "1", "ticker")
	out += errOut
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(out)[0]); err != nil {
		t.Fatalf("logs -t: %q", out)
	}

	if out := e.must("exec", "ticker", "sh", "-c", "echo in-container $((1+1))"); out != "in-container 2\n" {
		t.Fatalf("exec: %q", out)
	}
	if _, _, code := e.drover("exec", "ticker", "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exec exit = %d", code)
	}
	if out := e.must("exec", "-u", "1000", "-w", "/tmp", "-e", "X=y", "ticker", "sh", "-c", "echo $(id -u) $(pwd) $X"); out != "1000 /tmp y\n" {
		t.Fatalf("exec options: %q", out)
	}
	if out, _, code := e.droverIn([]byte("to exec\n"), "exec", "-i", "ticker", "cat"); code != 0 || out != "to exec\n" {
		t.Fatalf("exec -i: %q %d", out, code)
	}
	if _, _, code := e.drover("exec", "ticker", "nosuchcmd"); code != 127 {
		t.Fatalf("exec missing command: exit %d", code)
	}

	if out := e.must("top", "ticker"); !strings.Contains(out, "sh -c") || !strings.Contains(out, "PID") {
		t.Fatalf("top:\n%s", out)
	}
	if out := e.must("stats", "--no-stream", "ticker"); !strings.Contains(out, "ticker") || !strings.Contains(out, "MEM") ||
		!strings.Contains(out, "NET I/O") || !strings.Contains(out, "BLOCK I/O") {
		t.Fatalf("stats:\n%s", out)
	}

	e.must("pause", "ticker")
	if s := e.inspect("ticker", "{{.State.Status}}"); s != "paused" {
		t.Fatalf("after pause: %s", s)
	}
	e.must("unpause", "ticker")
	if s := e.inspect("ticker", "{{.State.Status}}"); s != "running" {
		t.Fatalf("after unpause: %s", s)
	}

	e.must("rename", "ticker", "ticker2")
	if s := e.inspect(id[:12], "{{.Name}}"); strings.TrimPrefix(s, "/") != "ticker2" {
		t.Fatalf("after rename: %s", s)
	}

	// cp both ways.
	src := filepath.Join(t.TempDir(), "hello.txt")
	os.WriteFile(src, []byte("copied in"), 0o644)
	e.must("cp", src, "ticker2:/tmp/")
	if out := e.must("exec", "ticker2", "cat", "/tmp/hello.txt"); out != "copied in" {
		t.Fatalf("cp in: %q", out)
	}
	e.must("exec", "ticker2", "sh", "-c", "mkdir -p /out/sub && echo copied out > /out/sub/f")
	dst := t.TempDir()
	e.must("cp", "ticker2:/out", dst)
	if data, _ := os.ReadFile(filepath.Join(dst, "out", "sub", "f")); string(data) != "copied out\n" {
		t.Fatalf("cp out: %q", data)
	}

	e.must("stop", "-t", "1", "ticker2")
	// sh as pid 1 ignores SIGTERM, so the stop ends with SIGKILL.
	if s := e.inspect("ticker2", "{{.State.Status}} {{.State.ExitCode}}"); s != "exited 137" {
		t.Fatalf("after stop: %s", s)
	}
	if out := e.must("ps"); strings.Contains(out, "ticker2") {
		t.Fatalf("ps lists a stopped container:\n%s", out)
	}
	if out := e.must("ps", "-a"); !strings.Contains(out, "Exited (137)") {
		t.Fatalf("ps -a:\n%s", out)
	}
	// Logs stay readable after exit.
	if out := e.must("logs", "ticker2"); !strings.Contains(out, "line 0") {
		t.Fatalf("logs after exit: %q", out)
	}
	e.must("start", "ticker2")
	if s := e.inspect("ticker2", "{{.State.Status}}"); s != "running" {
		t.Fatalf("after start: %s", s)
	}
	e.must("restart", "-t", "0", "ticker2")
	if s := e.inspect("ticker2", "{{.State.Status}}"); s != "running" {
		t.Fatalf("after restart: %s", s)
	}
	_, errOut, code := e.drover("rm", "ticker2")
	if code == 0 || !strings.Contains(errOut, "running") {
		t.Fatalf("rm of a running container: exit %d %q", code, errOut)
	}
	e.must("kill", "-s", "KILL", "ticker2")
	if out := strings.TrimSpace(e.must("wait", "ticker2")); out != "137" {
		t.Fatalf("wait = %q", out)
	}
	e.must("rm", "ticker2")
	if _, errOut, code := e.drover("inspect", "ticker2"); code == 0 || !strings.Contains(strings.ToLower(errOut), "no such") {
		t.Fatalf("inspect after rm: %d %q", code, errOut)
	}

	// rm -f of a running container and prune of stopped ones.
	e.must("run", "-d", "--name", "victim", "busybox", "sleep", "100")
	e.must("rm", "-f", "victim")
	e.must("run", "--name", "done1", "busybox", "true")
	e.must("create", "--name", "never", "busybox", "true")
	e.must("create", "--name", "labelled", "--label", "tier=batch", "busybox", "true")
	// Filters narrow a prune: only the labelled one, and not while it is newer than an hour.
	e.must("container", "prune", "-f", "--filter", "label=tier=batch", "--filter", "until=1h")
	if out := e.must("ps", "-a", "--format", "{{.Names}}"); !strings.Contains(out, "labelled") {
		t.Fatalf("prune --filter until=1h removed a container made just now:\n%s", out)
	}
	e.must("container", "prune", "-f", "--filter", "label=tier=batch")
	if out := e.must("ps", "-a", "--format", "{{.Names}}"); strings.Contains(out, "labelled") || !strings.Contains(out, "never") {
		t.Fatalf("prune --filter label=tier=batch:\n%s", out)
	}
	if _, errOut, code := e.drover("container", "prune", "-f", "--filter", "color=red"); code == 0 || !strings.Contains(errOut, "invalid filter 'color'") {
		t.Fatalf("prune with an unknown filter: exit %d, %q", code, errOut)
	}
	out = e.must("container", "prune", "-f")
	if !strings.Contains(out, "Total reclaimed space") && !strings.Contains(out, "Deleted") {
		t.Fatalf("prune output: %q", out)
	}
	if out := e.must("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Fatalf("containers after prune: %q", out)
	}

	// system prune: stopped containers and unused networks go; tagged images stay.
	e.must("create", "--name", "stopped", "busybox", "true")
	e.must("network", "create", "unused-net")
	out = e.must("system", "prune", "-f")
	if !strings.Contains(out, "Deleted Containers:") || !strings.Contains(out, "unused-net") || !strings.Contains(out, "Total reclaimed space") {
		t.Fatalf("system prune:\n%s", out)
	}
	if out := e.must("ps", "-aq"); strings.TrimSpace(out) != "" {
		t.Fatalf("containers after system prune: %q", out)
	}
	if out := e.must("images", "--format", "{{.Repository}}"); !strings.Contains(out, "busybox") {
		t.Fatalf("system prune without -a removed a tagged image:\n%s", out)
	}
}

// TestDaemonRestart kills the daemon (SIGTERM and SIGKILL) under running containers.
func TestDaemonRestart(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			e := newEnv(t)
			e.importBusybox("busybox")
			e.must("run", "-d", "--name", "survivor", "busybox", "sh", "-c",
				"i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done")
			pid, _ := strconv.Atoi(e.inspect("survivor", "{{.State.Pid}}"))
			e.stopDaemon(sig)
			if err := syscall.Kill(pid, 0); err != nil {
				t.Fatalf("container died with the daemon: %v", err)
			}
			e.startDaemon()
			if s := e.inspect("survivor", "{{.State.Status}} {{.State.Pid}}"); s != "running "+strconv.Itoa(pid) {
				t.Fatalf("after restart: %s", s)
			}
			if out := e.must("exec", "survivor", "echo", "still here"); out != "still here\n" {
				t.Fatalf("exec after restart: %q", out)
			}
			before := strings.Count(e.must("logs", "survivor"), "\n")
			e.eventually(10*time.Second, "logs to keep flowing", func() bool {
				return strings.Count(e.must("logs", "survivor"), "\n") > before+3
			})
			e.must("stop", "-t", "0", "survivor")
			if s := e.inspect("survivor", "{{.State.Status}}"); s != "exited" {
				t.Fatalf("stop after restart: %s", s)
			}
		})
	}
}

// TestExitWhileDaemonDown checks that a container that ends while no daemon runs shows
// its real exit code afterwards.
func TestExitWhileDaemonDown(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	e.must("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 42")
	e.stopDaemon(syscall.SIGKILL)
	time.Sleep(2 * time.Second) // let the container finish while no daemon runs
	e.startDaemon()
	e.eventually(10*time.Second, "exit to be recorded", func() bool {
		return e.inspect("short", "{{.State.Status}} {{.State.ExitCode}}") == "exited 42"
	})
}

// TestLogsFollow checks that logs -f streams new lines and ends when the container exits.
func TestLogsFollow(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	e.must("run", "-d", "--name", "counter", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo n$i; sleep 0.2; done")
	out := e.must("logs", "-f", "counter")
	if out != "n1\nn2\nn3\nn4\nn5\n" {
		t.Fatalf("logs -f = %q", out)
	}
	// Rotation keeps the newest lines within the limit.
	e.must("run", "--name", "spammer", "--log-opt", "max-size=10k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
		"i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done")
	out = e.must("logs", "spammer")
	if !strings.Contains(out, "line-1999") || strings.Contains(out, "line-0\n") {
		t.Fatalf("rotation: last line missing or first kept (%d bytes)", len(out))
	}
	logPath := e.inspect("spammer", "{{.LogPath}}")
	matches, _ := filepath.Glob(logPath + "*")
	if len(matches) > 2 {
		t.Fatalf("max-file=2 kept %d files", len(matches))
	}
}

// TestExecDetached starts a background process with exec -d that keeps running.
func TestExecDetached(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	e.must("run", "-d", "--name", "host", "busybox", "sleep", "300")
	if out := e.must("exec", "-d", "host", "sh", "-c", "sleep 0.3; echo background > /tmp/done; yes > /dev/null"); out != "" {
		t.Fatalf("exec -d printed %q", out)
	}
	e.eventually(10*time.Second, "the detached process to write its file", func() bool {
		out, _, code := e.drover("exec", "host", "cat", "/tmp/done")
		return code == 0 && out == "background\n"
	})
	if out := e.must("top", "host"); !strings.Contains(out, "yes") {
		t.Fatalf("detached process not running:\n%s", out)
	}
}

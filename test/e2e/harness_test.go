// Package e2e drives the built drover binary against a real daemon, real containers and
// real kernel state. Every test runs as root (CI does) and leaves nothing behind.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/drover/drover/internal/testutil"
	"github.com/drover/drover/network"
)

// droverBin is the drover binary under test: DROVER_BIN (make test passes the one it built),
// else one built once per test binary.
func droverBin(t *testing.T) string {
	t.Helper()
	return testutil.DroverBinary(t)
}

// runtimeBin is the binary to run as drover-runtime: make's bin/drover-runtime beside
// DROVER_BIN (the per-container part of drover, which podman users get), else the drover
// binary itself, which is the same runtime when called by that name.
func runtimeBin(t *testing.T) string {
	bin := droverBin(t)
	lean := filepath.Join(filepath.Dir(bin), "drover-runtime")
	if _, err := os.Stat(lean); err == nil {
		return lean
	}
	return bin
}

// env is one daemon with its own state directories and cgroup parent.
type env struct {
	t      *testing.T
	bin    string
	dir    string
	root   string
	exec   string
	sock   string
	cgroup string
	// netPrefix names this daemon's bridges, veths and nftables table.
	netPrefix string
	daemon    *exec.Cmd
	logBuf    *bytes.Buffer
	done      chan error
}

// newEnv starts a daemon for t and registers its teardown, which also checks that no
// mount, cgroup, shim process or state file is left.
func newEnv(t *testing.T, daemonArgs ...string) *env {
	t.Helper()
	testutil.RequiresRoot(t)
	bin := droverBin(t)
	// Short paths: unix socket names are limited to 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "dv")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, bin: bin, dir: dir, root: filepath.Join(dir, "lib"), exec: filepath.Join(dir, "run"),
		cgroup: "drover-e2e-" + filepath.Base(dir), netPrefix: netPrefixFor(t, dir)}
	e.sock = filepath.Join(e.exec, "drover.sock")
	t.Cleanup(func() { e.teardown() })
	e.startDaemon(daemonArgs...)
	return e
}

func (e *env) startDaemon(args ...string) {
	e.t.Helper()
	// Names the embedded DNS cannot answer go to loopback, never to the network outside.
	resolv := filepath.Join(e.dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	// Sandboxes get drover's own network unless a test names a CNI configuration: the
	// host's /etc/cni/net.d may hold one (podman's).
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--cni-conf-dir") }) {
		args = append(args, "--cni-conf-dir=")
	}
	all := append([]string{"daemon", "--root", e.root, "--exec-root", e.exec, "--cgroup-parent", e.cgroup, "--network-prefix", e.netPrefix, "--resolv-conf", resolv}, args...)
	cmd := exec.Command(e.bin, all...)
	e.logBuf = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = e.logBuf, e.logBuf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.daemon = cmd
	e.done = make(chan error, 1)
	go func() { e.done <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, code := e.drover("info"); code == 0 {
			return
		}
		select {
		case err := <-e.done:
			e.daemon = nil // its exit is taken: teardown must not wait for it again
			e.t.Fatalf("daemon exited: %v\n%s", err, e.logBuf)
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.t.Fatalf("daemon did not become ready\n%s", e.logBuf)
}

// stopDaemon stops the daemon with sig (SIGTERM or SIGKILL) and waits for it.
func (e *env) stopDaemon(sig syscall.Signal) {
	e.t.Helper()
	if e.daemon == nil {
		return
	}
	_ = e.daemon.Process.Signal(sig)
	select {
	case <-e.done:
	case <-time.After(20 * time.Second):
		_ = e.daemon.Process.Kill()
		<-e.done
	}
	e.daemon = nil
}

func (e *env) teardown() {
	if e.daemon != nil {
		// Remove every pod and container through the API so the leak check sees a clean host.
		pods, _, _ := e.drover("pod", "ls", "-q")
		for _, id := range strings.Fields(pods) {
			e.drover("pod", "rm", "-f", id)
		}
		out, _, _ := e.drover("ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			// A --rm container may go between ps and rm.
			if _, errOut, code := e.drover("rm", "-f", id); code != 0 && !strings.Contains(strings.ToLower(errOut), "no such container") {
				e.t.Errorf("teardown: rm -f %s: exit %d: %s", id, code, errOut)
			}
		}
		e.stopDaemon(syscall.SIGTERM)
	}
	e.checkNetworkLeaks()
	e.checkLeaks()
	if e.t.Failed() && e.logBuf != nil {
		e.t.Logf("daemon log:\n%s", e.logBuf)
	}
	_ = os.RemoveAll(e.dir)
}

// checkLeaks fails the test if the daemon's containers left host state behind.
func (e *env) checkLeaks() {
	var leaks []string
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && strings.HasPrefix(f[4], e.dir) {
				leaks = append(leaks, "mount "+f[4])
			}
		}
	}
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/" + e.cgroup + "/*")
	for _, p := range cg {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			leaks = append(leaks, "cgroup "+p)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err == nil && bytes.Contains(data, []byte(e.exec)) {
			leaks = append(leaks, "process "+p+": "+strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
	// Every container is removed by now: no bundle, root filesystem or log directory may stay.
	for kind, dir := range map[string]string{
		"bundle":          filepath.Join(e.exec, "containers"),
		"root filesystem": filepath.Join(e.root, "image", "snapshot", "containers"),
		"log directory":   filepath.Join(e.root, "containers"),
	} {
		entries, _ := os.ReadDir(dir)
		for _, b := range entries {
			leaks = append(leaks, kind+" "+b.Name())
			if kind != "bundle" {
				continue
			}
			if log, err := os.ReadFile(filepath.Join(dir, b.Name(), "shim.log")); err == nil && len(log) > 0 {
				leaks = append(leaks, "  its shim.log: "+strings.ReplaceAll(strings.TrimSpace(string(log)), "\n", "\n    "))
			}
		}
	}
	// Remove the (empty) cgroup parents drover made, then report.
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + e.cgroup)
	for _, p := range parents {
		_ = os.Remove(p)
	}
	if len(leaks) > 0 {
		e.t.Errorf("host state left behind:\n  %s", strings.Join(leaks, "\n  "))
		// Clean up anyway so one failure does not poison the machine.
		for _, l := range leaks {
			if strings.HasPrefix(l, "mount ") {
				_ = syscall.Unmount(strings.TrimPrefix(l, "mount "), syscall.MNT_DETACH)
			}
		}
	}
}

// netPrefixFor derives a network prefix (4-12 lowercase letters and digits) whose first
// three characters, which start the names of the daemon's veths, no other env on the
// host uses, even in another test binary running at the same time: the leak check then
// only ever sees its own env's links. The three characters are claimed with a lock file
// held until the test ends.
func netPrefixFor(t *testing.T, dir string) string {
	return testutil.ClaimNetPrefix(t, dir, "d")
}

// checkNetworkLeaks fails the test if containers left veths, addresses or published
// ports behind, then removes the daemon's own networks (bridges, nftables table), which
// a daemon keeps by design as Docker does.
func (e *env) checkNetworkLeaks() {
	m, err := network.New(network.Config{StateFile: filepath.Join(e.root, "network.db"), NetnsDir: filepath.Join(e.exec, "netns"), Prefix: e.netPrefix})
	if err != nil {
		e.t.Errorf("open network state: %v", err)
		return
	}
	if entries, _ := os.ReadDir(filepath.Join(e.exec, "netns")); len(entries) > 0 {
		for _, ent := range entries {
			e.t.Errorf("network namespace file %s left behind", ent.Name())
		}
	}
	// No published port may outlive its container: no DNAT rule is left in the table.
	if out, err := exec.Command("nft", "list", "table", "inet", e.netPrefix).CombinedOutput(); err == nil && strings.Contains(string(out), "dnat to") {
		e.t.Errorf("published-port rules left behind:\n%s", out)
	}
	nets, _ := m.List()
	for _, n := range nets {
		for _, ep := range n.Endpoints {
			e.t.Errorf("network %s: endpoint of container %s left behind (%s)", n.Name, ep.ContainerID, ep.IP)
		}
	}
	if err := m.Destroy(); err != nil {
		e.t.Errorf("remove networks: %v", err)
	}
	// Containers' veths go with their namespaces, in the kernel's background.
	var left []netlink.Link
	var listErr error
	testutil.Poll(10*time.Second, func() bool {
		left = left[:0]
		var links []netlink.Link
		if links, listErr = netlink.LinkList(); listErr != nil {
			return false // interrupted by links changing meanwhile: look again
		}
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, e.netPrefix[:3]) {
				left = append(left, l)
			}
		}
		return len(left) == 0
	})
	if listErr != nil {
		e.t.Errorf("list network interfaces: %v", listErr)
	}
	for _, l := range left {
		e.t.Errorf("network interface %s left behind", l.Attrs().Name)
		_ = netlink.LinkDel(l)
	}
}

// drover runs the CLI against this env's daemon.
func (e *env) drover(args ...string) (stdout, stderr string, code int) {
	return e.droverIn(nil, args...)
}

func (e *env) droverIn(stdin []byte, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(os.Environ(), "DROVER_HOST="+e.sock)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &er
	err := cmd.Run()
	code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		er.WriteString(err.Error())
	}
	return o.String(), er.String(), code
}

// must runs the CLI and fails the test unless it exits 0.
func (e *env) must(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.drover(args...)
	if code != 0 {
		e.t.Fatalf("drover %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// importBusybox imports the locally built busybox rootfs as NAME.
func (e *env) importBusybox(name string) {
	e.t.Helper()
	e.must("import", testutil.BusyboxTar(e.t), name)
}

// importTestprog imports busybox plus /testprog as NAME.
func (e *env) importTestprog(name string) {
	e.t.Helper()
	e.must("import", testutil.TestProgramTar(e.t), name)
}

// eventually polls fn until it holds or the timeout passes (waiting, not timing).
func (e *env) eventually(timeout time.Duration, what string, fn func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if fn() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.t.Fatalf("timed out waiting for %s", what)
}

func (e *env) inspect(name, format string) string {
	e.t.Helper()
	return strings.TrimSpace(e.must("inspect", "-f", format, name))
}

// with returns a view of e that reports to t (a subtest), so failures stop that subtest.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func busyboxTar(t *testing.T) string { return testutil.BusyboxTar(t) }

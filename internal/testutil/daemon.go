package testutil

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

var droverBuild once

// DroverBinary builds cmd/drover (static, as make does: pods run it as their infra
// process) once per test binary and returns its path; DROVER_BIN names a built one.
func DroverBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("DROVER_BIN"); p != "" {
		return p
	}
	return droverBuild.get(t, func() (string, error) {
		dir, err := cache()
		if err != nil {
			return "", err
		}
		goBin, err := findGo()
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, "drover")
		cmd := exec.Command(goBin, "build", "-tags", "seccomp,osusergo,netgo,grpcnotrace", "-ldflags", "-s -w -extldflags -static",
			"-o", bin, "github.com/drover/drover/cmd/drover")
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build drover: %v\n%s", err, out)
		}
		return bin, nil
	})
}

// Daemon is a real `drover daemon` with state directories, a socket, a cgroup parent
// and a network prefix of its own, for tests that drive the engine through client/.
type Daemon struct {
	t         testing.TB
	Bin       string
	Dir       string
	Root      string
	ExecRoot  string
	Socket    string
	Cgroup    string
	NetPrefix string

	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan error
}

// StartDaemon starts a daemon for t; the test's cleanup removes its containers and
// pods, stops it and removes everything it made on the host (mounts, cgroups, links,
// nftables table, files).
func StartDaemon(t testing.TB) *Daemon {
	t.Helper()
	RequiresRoot(t)
	bin := DroverBinary(t)
	sweepOnce.Do(sweepStaleDaemons)
	// Short paths: unix socket names are limited to 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "dd")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{t: t, Bin: bin, Dir: dir, Root: filepath.Join(dir, "lib"), ExecRoot: filepath.Join(dir, "run"),
		Cgroup: "drover-test-" + filepath.Base(dir)}
	d.Socket = filepath.Join(d.ExecRoot, "drover.sock")
	d.NetPrefix = netPrefix(t, dir) // its lock's cleanup must run after the teardown
	t.Cleanup(d.teardown)
	if err := writeOwner(d); err != nil {
		t.Fatal(err)
	}
	d.Start()
	return d
}

// Start starts the daemon (again, after Stop) and waits until it answers.
func (d *Daemon) Start() {
	d.t.Helper()
	// Names the embedded DNS cannot answer go to loopback, never to the network outside.
	resolv := filepath.Join(d.Dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		d.t.Fatal(err)
	}
	cmd := exec.Command(d.Bin, "daemon", "--root", d.Root, "--exec-root", d.ExecRoot, "--cgroup-parent", d.Cgroup,
		"--network-prefix", d.NetPrefix, "--resolv-conf", resolv, "--cni-conf-dir=")
	d.log = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = d.log, d.log
	// A test binary that panics or is killed runs no cleanup: the daemon then stops with it
	// rather than running on (the signal follows the thread that started it, which Go's
	// runtime keeps unless a goroutine locked to it exits).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.cmd = cmd
	d.done = make(chan error, 1)
	go func() { d.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := d.CLI("info"); err == nil {
			return
		}
		select {
		case err := <-d.done:
			d.cmd = nil
			d.t.Fatalf("drover daemon exited: %v\n%s", err, d.log)
		case <-time.After(20 * time.Millisecond):
		}
	}
	d.t.Fatalf("drover daemon did not become ready\n%s", d.log)
}

// Stop stops the daemon with SIGTERM and waits for it.
func (d *Daemon) Stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
}

// CLI runs the drover CLI against this daemon and returns its standard output.
func (d *Daemon) CLI(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Bin, args...)
	cmd.Env = append(os.Environ(), "DROVER_HOST="+d.Socket)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("drover %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// ImportBusybox imports the locally built busybox root filesystem as the image ref.
func (d *Daemon) ImportBusybox(ref string) {
	d.t.Helper()
	if _, err := d.CLI("import", BusyboxTar(d.t), ref); err != nil {
		d.t.Fatal(err)
	}
}

// Log is what the daemon printed so far.
func (d *Daemon) Log() string { return d.log.String() }

func (d *Daemon) teardown() {
	if d.cmd != nil {
		pods, _ := d.CLI("pod", "ls", "-q")
		for _, id := range strings.Fields(pods) {
			_, _ = d.CLI("pod", "rm", "-f", id)
		}
		ids, _ := d.CLI("ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(ids) {
			_, _ = d.CLI("rm", "-f", id)
		}
		d.Stop()
	}
	if d.t.Failed() && d.log != nil {
		d.t.Logf("drover daemon log:\n%s", d.log)
	}
	var left []string
	// Mounts under the directory (namespace files, overlays, tmpfs volumes).
	for _, m := range UnmountAll(d.Dir) {
		// The namespace directory's own mount stays by design, as the bridges do.
		if m != filepath.Join(d.ExecRoot, "netns") {
			left = append(left, "mount "+m)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte(d.ExecRoot)) {
			left = append(left, "process "+strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
	// The daemon's bridges and its nftables table stay by design (as Docker's): remove them.
	if links, err := netlink.LinkList(); err == nil {
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, d.NetPrefix[:3]) {
				_ = netlink.LinkDel(l)
			}
		}
	}
	_ = exec.Command("nft", "delete", "table", "inet", d.NetPrefix).Run()
	cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/" + d.Cgroup)
	cgroups2, _ := filepath.Glob("/sys/fs/cgroup/" + d.Cgroup)
	for _, p := range append(cgroups, cgroups2...) {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			left = append(left, "cgroup "+p)
		}
	}
	_ = os.RemoveAll(d.Dir)
	if len(left) > 0 {
		d.t.Errorf("drover daemon left host state behind:\n  %s", strings.Join(left, "\n  "))
	}
}

// netPrefix picks a network prefix for a daemon of this package's tests ("a...").
func netPrefix(t testing.TB, dir string) string { return ClaimNetPrefix(t, dir, "a") }

// ClaimNetPrefix picks a network prefix: lead, two characters no other test daemon on
// the host holds, then the digits of dir's name. Its first three characters start the
// names of the daemon's links, so a leak check sees only its own daemon's, even with
// other test binaries running at the same time. The claim is a lock file held until the
// test ends (its cleanup runs after the daemon's teardown, registered later).
func ClaimNetPrefix(t testing.TB, dir, lead string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, filepath.Base(dir))
	if len(digits) > 6 {
		digits = digits[len(digits)-6:]
	}
	if digits == "" {
		digits = "0"
	}
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	const codes = len(alphabet) * len(alphabet)
	if err := os.MkdirAll("/run/drover-e2e", 0o700); err != nil {
		t.Fatal(err)
	}
	start := rand.IntN(codes)
	for i := range codes {
		n := (start + i) % codes
		code := lead + string(alphabet[n/len(alphabet)]) + string(alphabet[n%len(alphabet)])
		f, err := os.OpenFile(filepath.Join("/run/drover-e2e", "prefix-"+code+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { f.Close() })
		return code + digits
	}
	t.Fatal("every test network prefix is taken by tests running now")
	return ""
}

// FreeSubnet picks a 10.x.y.0/24 (x from 200) that overlaps no route of the host, for a
// test's network.
func FreeSubnet(t testing.TB) netip.Prefix {
	t.Helper()
	p, err := freeSubnet(rand.IntN(56 * 256))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

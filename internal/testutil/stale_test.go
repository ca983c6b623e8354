package testutil

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
	"github.com/vishvananda/netlink"
)

// TestSweepStaleDaemon leaves what a killed test's daemon leaves (a container process in
// the daemon's cgroup, a mount under its directory, a link and an nftables table named
// from its prefix) with an owner that has exited, and checks that the sweep removes it.
func TestSweepStaleDaemon(t *testing.T) {
	RequiresRoot(t)
	dir, err := os.MkdirTemp("/tmp", "dd")
	if err != nil {
		t.Fatal(err)
	}
	cgroup := "drover-test-" + filepath.Base(dir)
	prefix := fmt.Sprintf("yq%c%06d", 'a'+rand.IntN(26), rand.IntN(1e6))
	t.Cleanup(func() { removeStaleDaemon(dir, prefix, cgroup) }) // when the sweep fails

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%d %s %s\n", dead.Process.Pid, prefix, cgroup), 0o600); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "run", "rootfs")
	os.MkdirAll(mnt, 0o755)
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	ctr := filepath.Join("/sys/fs/cgroup/pids", cgroup, "c1")
	if err := os.MkdirAll(ctr, 0o755); err != nil {
		t.Skipf("no cgroup v1 pids hierarchy: %v", err)
	}
	sleeper := exec.Command("sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { sleeper.Wait(); close(reaped) }()
	if err := os.WriteFile(filepath.Join(ctr, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: prefix + "0"}}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "add", "table", "inet", prefix).CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}

	sweepStaleDaemons()

	<-reaped // killed
	if m, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(dir)); len(m) > 0 {
		t.Errorf("mounts left: %v", m[0].Mountpoint)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory left: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(ctr)); !os.IsNotExist(err) {
		t.Errorf("cgroup left: %v", err)
	}
	if _, err := netlink.LinkByName(prefix + "0"); err == nil {
		t.Errorf("link %s0 left", prefix)
	}
	if exec.Command("nft", "list", "table", "inet", prefix).Run() == nil {
		t.Errorf("nftables table %s left", prefix)
	}
}

package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
)

// recorder is a testing.TB that records errors instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) reported(t *testing.T, want ...string) {
	t.Helper()
	all := strings.Join(r.errs, "\n")
	if len(want) == 0 && all != "" {
		t.Fatalf("unexpected leak report:\n%s", all)
	}
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Fatalf("leak report lacks %q:\n%s", w, all)
		}
	}
}

func TestLeakFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old"), nil, 0o600)
	scope := LeakScope{Dirs: []string{dir}, Settle: time.Millisecond}
	leak := WatchLeaks(t, scope)
	os.WriteFile(filepath.Join(dir, "new"), nil, 0o600)
	os.Mkdir(filepath.Join(dir, "newdir"), 0o700)
	r := &recorder{TB: t}
	leak.Check(r)
	r.reported(t, filepath.Join(dir, "new"), filepath.Join(dir, "newdir")+"/")
	if strings.Contains(strings.Join(r.errs, ""), filepath.Join(dir, "old")) {
		t.Fatalf("a file that was there before is reported: %v", r.errs)
	}
	// Once cleaned up, no report.
	os.Remove(filepath.Join(dir, "new"))
	os.Remove(filepath.Join(dir, "newdir"))
	r = &recorder{TB: t}
	leak.Check(r)
	r.reported(t)
}

func TestLeakMounts(t *testing.T) {
	RequiresRoot(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	leak := WatchLeaks(t, LeakScope{MountPrefixes: []string{dir}, Dirs: []string{dir}, Settle: time.Millisecond})
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	// A file inside the mount is not listed: the mount is the leak.
	os.WriteFile(filepath.Join(mnt, "inside"), nil, 0o600)
	r := &recorder{TB: t}
	leak.Check(r)
	r.reported(t, mnt+" (tmpfs)")
	if strings.Contains(strings.Join(r.errs, ""), "inside") {
		t.Fatalf("walked into the mount: %v", r.errs)
	}
	if err := syscall.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}
	r = &recorder{TB: t}
	leak.Check(r)
	r.reported(t)
}

func TestLeakCgroups(t *testing.T) {
	RequiresRoot(t)
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (bool, bool) {
		return m.FSType != "cgroup" && m.FSType != "cgroup2", false
	})
	if err != nil || len(mounts) == 0 {
		t.Skipf("no cgroup file system mounted (%v)", err)
	}
	parent := fmt.Sprintf("drover-testutil-%d", os.Getpid())
	leak := WatchLeaks(t, LeakScope{CgroupParent: parent, Settle: time.Millisecond})
	var made []string
	for _, m := range mounts {
		child := filepath.Join(m.Mountpoint, parent, "child")
		if err := os.MkdirAll(child, 0o755); err != nil {
			continue // a read-only or delegated hierarchy
		}
		made = append(made, child, filepath.Dir(child))
	}
	t.Cleanup(func() {
		for _, d := range made {
			os.Remove(d) // child first, then its parent
		}
	})
	if len(made) == 0 {
		t.Skip("cannot create cgroups here")
	}
	r := &recorder{TB: t}
	leak.Check(r)
	r.reported(t, made...)
	for _, d := range made {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
	made = nil
	r = &recorder{TB: t}
	leak.Check(r)
	r.reported(t)
}

func TestLeakProcesses(t *testing.T) {
	marker := fmt.Sprintf("drover-leak-marker-%d", os.Getpid())
	leak := WatchLeaks(t, LeakScope{ProcessMarker: marker, Settle: time.Millisecond})
	// The shell waits in its read builtin: no child process that could outlive it.
	cmd := exec.Command("/bin/sh", "-c", "read x", marker)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	r := &recorder{TB: t}
	leak.Check(r)
	r.reported(t, fmt.Sprintf("pid %d: /bin/sh -c read x %s", cmd.Process.Pid, marker))
	stdin.Close()
	cmd.Wait()
	leak.scope.Settle = time.Minute // only waited for if something is left
	r = &recorder{TB: t}
	leak.Check(r)
	r.reported(t)
}

func TestLeakCheckWaitsForCleanup(t *testing.T) {
	dir := t.TempDir()
	leak := WatchLeaks(t, LeakScope{Dirs: []string{dir}, Settle: time.Minute})
	f := filepath.Join(dir, "going")
	os.WriteFile(f, nil, 0o600)
	// Removed in the background, as a shim cleans up after the test returns.
	go func() {
		time.Sleep(20 * time.Millisecond)
		os.Remove(f)
	}()
	r := &recorder{TB: t}
	leak.Check(r)
	r.reported(t)
}

func TestHostStateLeaks(t *testing.T) {
	before := HostState{Mounts: []string{"/a (tmpfs)"}, Files: []string{"/d/x", "/d/y"}}
	after := HostState{Mounts: []string{"/a (tmpfs)", "/a (tmpfs)"}, Files: []string{"/d/y", "/d/z"}, Processes: []string{"pid 5: x"}}
	got := after.Leaks(before)
	want := HostState{Mounts: []string{"/a (tmpfs)"}, Files: []string{"/d/z"}, Processes: []string{"pid 5: x"}}
	if got.String() != want.String() {
		t.Fatalf("leaks:\n%s\nwant:\n%s", got, want)
	}
	if !before.Leaks(after).Leaks(HostState{Files: []string{"/d/x"}}).Empty() {
		t.Fatal("only /d/x is gone")
	}
	r := &recorder{TB: t}
	AssertNoLeaks(r, before, after)
	r.reported(t, "mounts:\n  /a (tmpfs)", "files:\n  /d/z", "processes:\n  pid 5: x")
}

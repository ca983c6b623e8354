package testutil

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

func TestBusyboxRootfsLayout(t *testing.T) {
	root := BusyboxRootfs(t)
	checks := []struct {
		path string
		mode fs.FileMode // type and permission bits to expect; 0 to skip
		link string      // symlink target
	}{
		{path: ".", mode: fs.ModeDir | 0o755},
		{path: "bin/busybox", mode: 0o755},
		{path: "bin/sh", link: "busybox"},
		{path: "bin/[", link: "busybox"},
		{path: "usr/bin/env", link: "/bin/busybox"},
		{path: "tmp", mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{path: "var/tmp", mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{path: "root", mode: fs.ModeDir | 0o700},
		{path: "home/drover", mode: fs.ModeDir | 0o755},
		{path: "proc", mode: fs.ModeDir | 0o555},
		{path: "etc/passwd", mode: 0o644},
		{path: "etc/hostname", mode: 0o644},
		{path: "etc/resolv.conf", mode: 0o644},
	}
	for _, c := range checks {
		fi, err := os.Lstat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if c.link != "" {
			if target, err := os.Readlink(filepath.Join(root, c.path)); err != nil || target != c.link {
				t.Errorf("%s -> %q (%v), want -> %q", c.path, target, err, c.link)
			}
			continue
		}
		if got := fi.Mode() & (fs.ModeType | fs.ModeSticky | fs.ModePerm); got != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, got, c.mode)
		}
	}
	for _, a := range requiredApplets {
		if _, err := os.Lstat(filepath.Join(root, "bin", a)); err != nil {
			t.Errorf("applet %s: %v", a, err)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	for _, want := range []string{"root:x:0:0:", "nobody:x:65534:", "drover:x:1000:1000:"} {
		if !bytes.Contains(passwd, []byte(want)) {
			t.Errorf("/etc/passwd lacks %q", want)
		}
	}
	if err := checkStatic(filepath.Join(root, "bin/busybox")); err != nil {
		t.Errorf("busybox in the rootfs: %v", err)
	}
}

func TestBusyboxRootfsShared(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := 0; i < 8; i++ {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			root := BusyboxRootfs(t)
			mu.Lock()
			seen[root] = true
			mu.Unlock()
		})
	}
	t.Cleanup(func() {
		if len(seen) != 1 {
			t.Errorf("parallel tests got %d different rootfs trees", len(seen))
		}
	})
}

// chroot runs a command inside root as uid/gid and returns its output and exit status.
func chroot(t *testing.T, root string, uid, gid uint32, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin:/usr/bin", "HOME=/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return string(out), 0
}

func TestBusyboxRootfsRuns(t *testing.T) {
	RequiresRoot(t)
	root := BusyboxRootfs(t)
	tests := []struct {
		name     string
		uid      uint32
		args     []string
		want     string
		wantCode int
	}{
		{name: "true", args: []string{"/bin/busybox", "true"}},
		{name: "false", args: []string{"/bin/false"}, wantCode: 1},
		{name: "shell", args: []string{"/bin/sh", "-c", "echo hello; exit 3"}, want: "hello\n", wantCode: 3},
		{name: "root user", args: []string{"/bin/id", "-un"}, want: "root\n"},
		{name: "drover user", uid: DroverUID, args: []string{"/bin/whoami"}, want: "drover\n"},
		{name: "drover can write tmp", uid: DroverUID, args: []string{"/bin/sh", "-c", "touch /tmp/x-$$ && rm /tmp/x-$$ && echo ok"}, want: "ok\n"},
		{name: "env shebang path", args: []string{"/usr/bin/env", "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := chroot(t, root, tt.uid, tt.uid, tt.args...)
			if code != tt.wantCode || (tt.want != "" && out != tt.want) {
				t.Fatalf("%v: exit %d, output %q; want exit %d, output %q", tt.args, code, out, tt.wantCode, tt.want)
			}
		})
	}
}

func TestBusyboxTar(t *testing.T) {
	path := BusyboxTar(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[hdr.Name] = hdr
	}
	want := []struct {
		name     string
		typ      byte
		mode     int64
		uid      int
		linkname string
	}{
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755},
		{name: "bin/sh", typ: tar.TypeSymlink, linkname: "busybox", mode: 0o777},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "root/", typ: tar.TypeDir, mode: 0o700},
		{name: "home/drover/", typ: tar.TypeDir, mode: 0o755, uid: DroverUID},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644},
	}
	for _, w := range want {
		h := entries[w.name]
		if h == nil {
			t.Errorf("no %s in the tarball", w.name)
			continue
		}
		if h.Typeflag != w.typ || h.Mode != w.mode || h.Uid != w.uid || h.Linkname != w.linkname || !h.ModTime.Equal(tarEpoch) {
			t.Errorf("%s: type %c mode %o uid %d link %q time %v", w.name, h.Typeflag, h.Mode, h.Uid, h.Linkname, h.ModTime)
		}
	}
	// The same tree always makes the same bytes.
	var a, b bytes.Buffer
	root := BusyboxRootfs(t)
	if err := writeTar(&a, root); err != nil {
		t.Fatal(err)
	}
	if err := writeTar(&b, root); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two tarballs of the same tree differ")
	}
}

func TestRemoveStaleCaches(t *testing.T) {
	// A cache directory of a process that no longer exists goes; ours and a live one stay.
	mine, err := cache()
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("no true command")
	}
	stale := filepath.Join(os.TempDir(), cachePrefix+strconv.Itoa(dead.Process.Pid)+"-test")
	live := filepath.Join(os.TempDir(), cachePrefix+"1-test") // pid 1 is always alive
	for _, d := range []string{stale, live} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	if processExists(dead.Process.Pid) {
		t.Skip("pid reused already")
	}
	removeStaleCaches()
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale cache dir kept: %v", err)
	}
	for _, d := range []string{mine, live} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
}

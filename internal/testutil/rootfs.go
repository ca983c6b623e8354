package testutil

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// HostBusybox is where the host's busybox-static is expected (Debian's busybox-static).
const HostBusybox = "/bin/busybox"

// Applets that tests rely on; every applet the host's busybox has is linked as well.
var requiredApplets = []string{
	"sh", "ls", "cat", "echo", "sleep", "true", "false", "id", "env", "ps", "top", "mount", "umount",
	"hostname", "wget", "nc", "printf", "grep", "head", "tail", "touch", "mkdir", "rm", "kill", "yes",
	"dd", "stat", "seq", "readlink", "whoami", "test", "[", "uname", "df", "wc", "sort", "tty", "stty",
	"pwd", "chmod", "chown", "cp", "mv", "ln", "find", "xargs", "awk", "sed", "tr", "cut", "date",
	"unshare", "mkfifo", "nproc", "free", "ip", "nslookup", "ping", "tee", "timeout", "pidof", "sync",
}

// Files of the test rootfs's /etc.
var etcFiles = map[string]string{
	"passwd": "root:x:0:0:root:/root:/bin/sh\n" +
		"drover:x:1000:1000:drover test user:/home/drover:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
	"group": "root:x:0:\n" +
		"drover:x:1000:\n" +
		"nogroup:x:65534:\n",
	"hostname": "busybox\n",
	"hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	// Present so that a runtime bind-mounting over it need not create it in a shared tree.
	"resolv.conf": "",
}

// DroverUID and DroverGID are the ids of the test rootfs's unprivileged user "drover".
const (
	DroverUID = 1000
	DroverGID = 1000
)

// errSkip marks a missing prerequisite of the host: the test is skipped, not failed.
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

// once builds something once per test binary and remembers the outcome, so that every
// test (parallel ones too) shares one result.
type once struct {
	once sync.Once
	path string
	err  error
}

func (o *once) get(t testing.TB, build func() (string, error)) string {
	t.Helper()
	o.once.Do(func() { o.path, o.err = build() })
	var skip errSkip
	if errors.As(o.err, &skip) {
		t.Skip(skip.reason)
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	return o.path
}

var busyboxRootfs, testprogRootfs once

// BusyboxRootfs returns a minimal root file system built from the host's busybox-static:
// /bin/busybox with a symlink for every applet, /etc/passwd and /etc/group with root,
// nobody and a user drover (uid 1000, home /home/drover), /tmp (1777), /root, mount points
// for /proc, /sys, /dev and /run. It is built once per test binary and shared: treat it as
// read-only. The test is skipped if busybox-static is not installed.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	return busyboxRootfs.get(t, func() (string, error) { return buildRootfs("busybox-rootfs", nil) })
}

// TestProgramRootfs returns BusyboxRootfs plus the test program as /testprog (a separate
// tree, also shared and read-only).
func TestProgramRootfs(t testing.TB) string {
	t.Helper()
	prog := TestProgram(t)
	return testprogRootfs.get(t, func() (string, error) {
		return buildRootfs("testprog-rootfs", map[string]string{"testprog": prog})
	})
}

// buildRootfs builds a rootfs named name in the cache, with extra files (path in the
// rootfs -> host file) added as executables.
func buildRootfs(name string, extra map[string]string) (string, error) {
	if err := checkStatic(HostBusybox); err != nil {
		return "", err
	}
	dir, err := cache()
	if err != nil {
		return "", err
	}
	root := filepath.Join(dir, name)
	tmp := root + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := populateRootfs(tmp, extra); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("build test rootfs %s: %w", name, err)
	}
	if err := os.Rename(tmp, root); err != nil {
		return "", fmt.Errorf("build test rootfs %s: %w", name, err)
	}
	return root, nil
}

func populateRootfs(root string, extra map[string]string) error {
	dirs := []struct {
		path string
		mode fs.FileMode
	}{
		{".", 0o755}, {"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
		{"etc", 0o755}, {"root", 0o700}, {"home/drover", 0o755}, {"tmp", fs.ModeSticky | 0o777}, {"var/tmp", fs.ModeSticky | 0o777},
		{"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"run", 0o755}, {"mnt", 0o755},
	}
	for _, d := range dirs {
		p := filepath.Join(root, d.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil { // MkdirAll is subject to the umask
			return err
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(root, "home/drover"), DroverUID, DroverGID); err != nil {
			return err
		}
	}
	if err := copyFile(HostBusybox, filepath.Join(root, "bin/busybox"), 0o755); err != nil {
		return err
	}
	applets, err := busyboxApplets()
	if err != nil {
		return err
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			return err
		}
	}
	// For scripts starting with #!/usr/bin/env.
	if err := os.Symlink("/bin/busybox", filepath.Join(root, "usr/bin/env")); err != nil {
		return err
	}
	for name, content := range etcFiles {
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for name, src := range extra {
		if err := copyFile(src, filepath.Join(root, name), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// busyboxApplets lists the applets of the host's busybox plus the ones tests rely on, as
// `busybox --install -s` would link them, but all in /bin.
func busyboxApplets() ([]string, error) {
	out, err := exec.Command(HostBusybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets: %w", err)
	}
	seen := map[string]bool{"busybox": true}
	var applets []string
	for _, a := range append(strings.Fields(string(out)), requiredApplets...) {
		if !seen[a] && !strings.Contains(a, "/") {
			seen[a] = true
			applets = append(applets, a)
		}
	}
	return applets, nil
}

// checkStatic makes sure path is a statically linked executable, which runs in a rootfs
// without a C library.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return errSkip{fmt.Sprintf("%s not found: install busybox-static (apt-get install busybox-static) to run this test", path)}
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errSkip{fmt.Sprintf("%s is dynamically linked: install busybox-static (apt-get install busybox-static) to run this test", path)}
		}
	}
	return nil
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

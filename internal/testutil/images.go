package testutil

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// busyboxApplets are linked into the test rootfs.
var busyboxApplets = []string{"sh", "ls", "cat", "echo", "sleep", "true", "false", "id", "env", "ps", "top",
	"mount", "umount", "hostname", "wget", "nc", "printf", "grep", "head", "tail", "touch", "mkdir", "rm", "kill",
	"yes", "dd", "stat", "seq", "readlink", "whoami", "test", "[", "uname", "df", "wc", "sort", "tty", "stty",
	"pwd", "chmod", "chown", "cp", "mv", "ln", "find", "xargs", "awk", "sed", "tr", "cut", "date", "unshare", "mkfifo"}

var (
	rootfsOnce sync.Once
	rootfsDir  string
	rootfsErr  error
)

// BusyboxRootfs returns a minimal rootfs directory built from the host's busybox-static,
// shared by all tests of the binary (treat it as read-only).
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	rootfsOnce.Do(func() {
		rootfsDir, rootfsErr = buildBusyboxRootfs()
	})
	if rootfsErr != nil {
		t.Skip(rootfsErr.Error())
	}
	return rootfsDir
}

func buildBusyboxRootfs() (string, error) {
	src, err := exec.LookPath("busybox")
	if err != nil {
		src = "/bin/busybox"
	}
	if out, err := exec.Command("file", "-L", src).Output(); err == nil && !containsStatic(string(out)) {
		return "", fmt.Errorf("busybox at %s is not static: install busybox-static", src)
	}
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("busybox-static not installed (apt-get install busybox-static)")
	}
	dir, err := os.MkdirTemp("", "drover-test-rootfs-")
	if err != nil {
		return "", err
	}
	for _, d := range []string{"bin", "etc", "tmp", "root", "home/drover", "proc", "sys", "dev", "var/tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	if err := copyFile(src, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		return "", err
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return "", err
		}
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\ndrover:x:1000:1000:drover:/home/drover:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\ndrover:x:1000:\nnogroup:x:65534:\n",
		"etc/hostname": "busybox\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	os.Chown(filepath.Join(dir, "home/drover"), 1000, 1000)
	return dir, nil
}

func containsStatic(fileOutput string) bool {
	return strings.Contains(fileOutput, "statically linked") || strings.Contains(fileOutput, "static-pie")
}

func copyFile(src, dst string, mode os.FileMode) error {
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
		return err
	}
	return out.Close()
}

var (
	tarOnce  sync.Once
	tarPath  string
	tarErr   error
	progOnce sync.Once
	progPath string
	progErr  error
	ptarOnce sync.Once
	ptarPath string
	ptarErr  error
)

// BusyboxTar returns a tarball of BusyboxRootfs, for "drover import".
func BusyboxTar(t testing.TB) string {
	t.Helper()
	root := BusyboxRootfs(t)
	tarOnce.Do(func() {
		tarPath, tarErr = tarDir(root, nil)
	})
	if tarErr != nil {
		t.Fatal(tarErr)
	}
	return tarPath
}

// TestProgram builds internal/testutil/testprog as a static binary and returns its path.
func TestProgram(t testing.TB) string {
	t.Helper()
	progOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drover-testprog-")
		if err != nil {
			progErr = err
			return
		}
		progPath = filepath.Join(dir, "testprog")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", progPath, ".")
		cmd.Dir = filepath.Join(filepath.Dir(file), "testprog")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			progErr = fmt.Errorf("build testprog: %v\n%s", err, out)
		}
	})
	if progErr != nil {
		t.Fatal(progErr)
	}
	return progPath
}

// TestProgramTar returns a tarball of the busybox rootfs plus /testprog.
func TestProgramTar(t testing.TB) string {
	t.Helper()
	root := BusyboxRootfs(t)
	prog := TestProgram(t)
	ptarOnce.Do(func() {
		ptarPath, ptarErr = tarDir(root, map[string]string{"testprog": prog})
	})
	if ptarErr != nil {
		t.Fatal(ptarErr)
	}
	return ptarPath
}

// tarDir writes dir (plus extra files name -> host path) to a temp tarball.
func tarDir(dir string, extra map[string]string) (string, error) {
	f, err := os.CreateTemp("", "drover-test-*.tar")
	if err != nil {
		return "", err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		return addFile(tw, p, rel)
	})
	if err != nil {
		return "", err
	}
	for name, src := range extra {
		if err := addFile(tw, src, name); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

func addFile(tw *tar.Writer, path, name string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	}
	return nil
}

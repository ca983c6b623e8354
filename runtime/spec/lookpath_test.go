package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drover/drover/internal/errdefs"
)

// lookRootfs builds a rootfs with the shapes LookPath meets in images: a busybox with
// absolute and relative symlinks to it, a non-executable file, a directory named like a
// command, and a symlink that tries to leave the rootfs.
func lookRootfs(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin", "usr/bin", "usr/local/bin", "opt/app"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(root, p), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	write("bin/busybox", 0o755)
	link("/bin/busybox", "bin/sh")           // absolute, as in Alpine
	link("../../bin/busybox", "usr/bin/env") // relative
	write("usr/bin/data", 0o644)
	write("usr/local/bin/data", 0o644) // only non-executable matches in PATH
	if err := os.MkdirAll(filepath.Join(root, "usr/bin/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("usr/local/bin/tool", 0o700)
	write("opt/app/run", 0o755)
	// /usr/bin/true on the host is executable; the rootfs must not reach it.
	link("/../../../../usr/bin/true", "bin/escape")
	link("../../../../../../../../usr/bin/true", "bin/escape2")
	link("loop", "bin/loop")
	return root
}

func TestLookPath(t *testing.T) {
	root := lookRootfs(t)
	tests := []struct {
		file    string
		env     []string
		want    string
		wantErr string
		class   error
	}{
		{"sh", nil, "/bin/sh", "", nil},
		{"env", nil, "/usr/bin/env", "", nil},
		{"tool", nil, "/usr/local/bin/tool", "", nil},
		{"busybox", []string{"PATH=/usr/bin:/bin"}, "/bin/busybox", "", nil},
		{"run", []string{"PATH=/opt/app"}, "/opt/app/run", "", nil},
		{"run", []string{"PATH=/opt/app", "PATH=/bin"}, "", `exec: "run": executable file not found in $PATH`, errdefs.ErrNotFound},
		{"run", []string{"PATH=opt/app::."}, "", "executable file not found", errdefs.ErrNotFound},
		{"/opt/app/run", nil, "/opt/app/run", "", nil},
		{"opt/app/run", nil, "opt/app/run", "", nil},
		{"foo", nil, "", `exec: "foo": executable file not found in $PATH`, errdefs.ErrNotFound},
		{"", nil, "", "executable file not found", errdefs.ErrNotFound},
		{"data", nil, "", "executable file not found", errdefs.ErrNotFound},
		{"dir", nil, "", "executable file not found", errdefs.ErrNotFound},
		{"escape", nil, "", "executable file not found", errdefs.ErrNotFound},
		{"escape2", nil, "", "executable file not found", errdefs.ErrNotFound},
		{"loop", nil, "", "executable file not found", errdefs.ErrNotFound},
		{"/usr/bin/data", nil, "", `exec: "/usr/bin/data": permission denied`, errdefs.ErrInvalidArgument},
		{"/usr/bin/dir", nil, "", `exec: "/usr/bin/dir": is a directory`, errdefs.ErrInvalidArgument},
		{"/usr/bin/nope", nil, "", `exec: "/usr/bin/nope": stat /usr/bin/nope: no such file or directory`, errdefs.ErrNotFound},
		{"/bin/sh/x", nil, "", "not a directory", errdefs.ErrNotFound},
		{"/bin/escape", nil, "", "no such file or directory", errdefs.ErrNotFound},
		{"/../../usr/bin/true", nil, "", "no such file or directory", errdefs.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.file+strings.Join(tt.env, ","), func(t *testing.T) {
			got, err := LookPath(root, tt.file, tt.env)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("LookPath = %q, %v, want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("LookPath = %q, want error %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if !errors.Is(err, tt.class) {
				t.Errorf("error %q is not %v", err, tt.class)
			}
			var ee *ExecError
			if !errors.As(err, &ee) || ee.Name != tt.file {
				t.Errorf("error %T is not an ExecError for %q", err, tt.file)
			}
		})
	}
}

func FuzzLookPath(f *testing.F) {
	root := lookRootfs(f)
	for _, s := range []string{"sh", "/bin/sh", "../../etc/passwd", "/bin/escape", "a/b/../../bin/sh", "\x00"} {
		f.Add(s, "/bin:/usr/bin")
	}
	f.Fuzz(func(t *testing.T, file, pathEnv string) {
		got, err := LookPath(root, file, []string{"PATH=" + pathEnv})
		if err != nil {
			var ee *ExecError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T %q is not an ExecError", err, err)
			}
			return
		}
		// Whatever is found must be an executable file inside the rootfs.
		p := got
		if !filepath.IsAbs(p) {
			p = "/" + p
		}
		if err := checkExecutable(root, filepath.Clean(p)); err != nil {
			t.Fatalf("LookPath(%q) = %q, which is not executable: %v", file, got, err)
		}
	})
}

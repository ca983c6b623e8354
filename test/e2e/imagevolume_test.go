package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageVolume mounts one image's files read-only into a container of another, whole
// or a directory of it (--mount type=image, the CRI's image volumes), and refuses what
// cannot work with nothing left behind.
func TestImageVolume(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN mkdir -p /data/sub && echo hello > /data/sub/hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.must("build", "-q", "-t", "content", dir)

	if out := e.must("run", "--rm", "--mount", "type=image,source=content,target=/mnt", "busybox", "cat", "/mnt/data/sub/hello"); out != "hello\n" {
		t.Fatalf("whole image: %q", out)
	}
	if out := e.must("run", "--rm", "--mount", "type=image,source=content,target=/mnt,subpath=data/sub", "busybox", "ls", "/mnt"); out != "hello\n" {
		t.Fatalf("subpath: %q", out)
	}
	out, errOut, code := e.drover("run", "--rm", "--mount", "type=image,source=content,target=/mnt", "busybox", "sh", "-c", "touch /mnt/x")
	if code == 0 || !strings.Contains(out+errOut, "Read-only") {
		t.Fatalf("an image volume must be read-only: %d %q %q", code, out, errOut)
	}

	// In use: the image cannot be removed while a container mounts it.
	e.must("create", "--name", "user", "--mount", "type=image,source=content,target=/mnt", "busybox", "true")
	if _, errOut, code := e.drover("rmi", "content"); code == 0 || !strings.Contains(errOut, "is used by a container") {
		t.Fatalf("rmi of an image an image volume uses: %d %q", code, errOut)
	}
	e.must("rm", "user")

	for _, tt := range []struct{ mount, want string }{
		{"type=image,source=content,target=/mnt,subpath=nosuch", "subpath nosuch"},
		{"type=image,source=content,target=/mnt,subpath=../..", "without '..'"},
		{"type=image,source=nosuchimage,target=/mnt", "nosuchimage"},
	} {
		before := e.must("ps", "-aq")
		if _, errOut, code := e.drover("create", "--mount", tt.mount, "busybox", "true"); code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("--mount %s: exit %d %q, want an error naming %q", tt.mount, code, errOut, tt.want)
		}
		if after := e.must("ps", "-aq"); after != before {
			t.Errorf("--mount %s left a container: %q", tt.mount, after)
		}
	}
	e.must("rmi", "content")
}

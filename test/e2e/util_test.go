package e2e

import (
	"archive/tar"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"testing"
)

func lookPath(name string) (string, error) { return exec.LookPath(name) }

// makeBigTar writes a rootfs tarball holding one file of size random bytes (which no
// compression shrinks), for tests that need a pull to take a while.
func makeBigTar(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

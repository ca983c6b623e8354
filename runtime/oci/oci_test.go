package oci

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/drover/drover/runtime/runtimetest"
)

func TestSuiteRunc(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc not installed")
	}
	rt, err := New("runc", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	runtimetest.Suite(t, rt)
}

// TestSuiteDroverRuntime runs the suite against drover's own runc-compatible command line
// (the binary make test builds, called as drover-runtime).
func TestSuiteDroverRuntime(t *testing.T) {
	bin := os.Getenv("DROVER_BIN")
	if bin == "" {
		t.Skip("DROVER_BIN not set (make test sets it)")
	}
	link := filepath.Join(t.TempDir(), "drover-runtime")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	rt, err := New(link, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	runtimetest.Suite(t, rt)
}

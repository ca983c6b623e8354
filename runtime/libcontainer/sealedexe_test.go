package libcontainer

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestSealCopyRunsSealed(t *testing.T) {
	const bin = "/bin/busybox"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("needs busybox-static:", err)
	}
	e, err := SealCopy(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !IsSealed(e.f) {
		t.Fatal("libcontainer does not take the copy for a sealed clone: it would seal the binary again for every container")
	}
	// A child runs the copy by its path, whatever descriptors os/exec gives it.
	cmd := exec.Command(e.Path(), "echo", "sealed")
	cmd.Args[0] = "busybox" // its applet comes from argv[0]
	cmd.ExtraFiles = []*os.File{os.Stdin, os.Stdin, os.Stdin}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "sealed" {
		t.Fatalf("run the copy: %v: %q", err, out)
	}
	// Nobody can change it, not even its owner.
	f, err := os.OpenFile(e.Path(), os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Write([]byte("#!/bin/sh\n"))
		f.Close()
	}
	if err == nil {
		t.Fatal("wrote to the sealed copy")
	}
}

func TestSealCopyMissing(t *testing.T) {
	if _, err := SealCopy("/nonexistent/drover", t.TempDir()); err == nil || !strings.Contains(err.Error(), "/nonexistent/drover") {
		t.Fatalf("err = %v, want one naming the path", err)
	}
}

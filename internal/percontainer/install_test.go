package percontainer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	bin := []byte("#!/bin/sh\nexit 0\n")
	path, err := Install(dir, bin, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, bin) {
		t.Fatalf("installed %q, %v; want %q", got, err, bin)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v, want 0755", fi.Mode().Perm())
	}
	if err := exec.Command(path).Run(); err != nil {
		t.Fatalf("run installed binary: %v", err)
	}
	// A crash's leftover temporary file goes; the same build installs to the same path.
	leftover := filepath.Join(filepath.Dir(path), RuntimeName+".tmp123")
	os.WriteFile(leftover, []byte("half"), 0o600)
	again, err := Install(dir, bin, "")
	if err != nil || again != path {
		t.Fatalf("second install: %q, %v; want %q", again, err, path)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}

	// An earlier build stays while a process runs it, and goes once none does.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	sleepBin, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	old, err := Install(dir, sleepBin, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("unused earlier build %s kept: %v", path, err)
	}
	cmd := exec.Command(old, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := Install(dir, bin, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("earlier build removed while running: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := Install(dir, bin, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(old)); !os.IsNotExist(err) {
		t.Fatalf("earlier build kept after its process exited: %v", err)
	}
}

func TestRunDispatch(t *testing.T) {
	for _, args := range [][]string{{"drover"}, {"drover", "ps"}, {"/usr/bin/drover", "daemon"}} {
		if _, ok := Run(args); ok {
			t.Errorf("Run(%q) took the command; it belongs to the CLI", args)
		}
	}
	// The daemon runs its drover-runtime as "drover-runtime runtime ...", and the runtime
	// command line under either name knows --version.
	for _, args := range [][]string{{"/x/drover-runtime", "runtime", "--version"}, {"/x/drover", "runtime", "--version"}, {"/x/drover-runtime", "--version"}} {
		if code, ok := Run(args); !ok || code != 0 {
			t.Errorf("Run(%q) = %d, %v; want the runtime's version", args, code, ok)
		}
	}
	if code, ok := Run([]string{"/x/drover-runtime", "nosuchcommand"}); !ok || code == 0 {
		t.Errorf("drover-runtime nosuchcommand = %d, %v; want a usage error", code, ok)
	}
}

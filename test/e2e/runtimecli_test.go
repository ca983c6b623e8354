package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDroverRuntimeCLI uses the binary as a runc-compatible runtime ("drover-runtime"):
// from drover's own daemon (--runtime PATH) and, when installed, from podman.
func TestDroverRuntimeCLI(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	link := filepath.Join(e.dir, "drover-runtime")
	if err := os.Symlink(e.bin, link); err != nil {
		t.Fatal(err)
	}
	out, _, code := e.drover("run", "--rm", "--runtime", link, "busybox", "sh", "-c", "echo via drover-runtime; exit 4")
	if code != 4 || out != "via drover-runtime\n" {
		t.Fatalf("daemon with --runtime drover-runtime: %q exit %d", out, code)
	}

	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed")
	}
	img := "localhost/drover-e2e-rt-" + filepath.Base(e.dir)
	if o, err := exec.Command("podman", "import", "-q", busyboxTar(t), img).CombinedOutput(); err != nil {
		t.Fatalf("podman import: %v\n%s", err, o)
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", img).Run() })
	cmd := exec.Command("podman", "--runtime", link, "run", "--rm", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", img, "sh", "-c", "echo from podman; exit 3")
	o, err := cmd.Output()
	var ee *exec.ExitError
	if !asExit(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(o), "from podman") {
		t.Fatalf("podman --runtime drover-runtime: %v %q", err, o)
	}
}

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageConfig checks that an image's Entrypoint, Cmd, Env, WorkingDir, User and
// StopSignal apply to its containers, and that run options override them.
func TestImageConfig(t *testing.T) {
	e := newEnv(t)
	tar := filepathOfBusybox(e)
	e.must("import", "-c", `ENTRYPOINT ["/bin/sh", "-c"]`, "-c", `CMD ["echo $GREETING from $(pwd) as $(id -u)"]`,
		"-c", "ENV GREETING=hello", "-c", "WORKDIR /tmp", "-c", "USER 1000", "-c", "STOPSIGNAL SIGUSR1", tar, "configured:v1")
	if out := e.must("run", "--rm", "configured:v1"); out != "hello from /tmp as 1000\n" {
		t.Fatalf("image config not applied: %q", out)
	}
	if out := e.must("run", "--rm", "-e", "GREETING=bye", "-u", "0", "-w", "/", "configured:v1"); out != "bye from / as 0\n" {
		t.Fatalf("overrides: %q", out)
	}
	if out := e.must("run", "--rm", "configured:v1", "echo custom cmd"); out != "custom cmd\n" {
		t.Fatalf("cmd override: %q", out)
	}
	e.must("create", "--name", "sig", "configured:v1")
	if s := e.inspect("sig", "{{.Config.StopSignal}}"); s != "SIGUSR1" {
		t.Fatalf("stop signal: %q", s)
	}
	if out := e.must("images"); !strings.Contains(out, "configured") || !strings.Contains(out, "v1") {
		t.Fatalf("images:\n%s", out)
	}
	// tag, rmi of a used image, rmi.
	e.must("tag", "configured:v1", "other/name:v2")
	if out := e.must("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "other/name:v2") {
		t.Fatalf("tag: %q", out)
	}
	if out := e.must("rmi", "other/name:v2"); !strings.Contains(out, "Untagged: other/name:v2") {
		t.Fatalf("rmi of one tag: %q", out)
	}
	if _, errOut, code := e.drover("rmi", "configured:v1"); code == 0 || !strings.Contains(errOut, "container") {
		t.Fatalf("rmi of an image in use: exit %d %q", code, errOut)
	}
	e.must("rm", "sig")
	if out := e.must("rmi", "configured:v1"); !strings.Contains(out, "Deleted: sha256:") {
		t.Fatalf("rmi: %q", out)
	}
	if _, _, code := e.drover("image", "inspect", "configured:v1"); code == 0 {
		t.Fatal("image still there after rmi")
	}
}

func filepathOfBusybox(e *env) string {
	e.t.Helper()
	return busyboxTar(e.t)
}

// TestSaveLoad round-trips images through drover save/load, and through podman when
// installed (both directions).
func TestSaveLoad(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox:saved")
	archive := filepath.Join(t.TempDir(), "images.tar")
	e.must("save", "-o", archive, "busybox:saved")
	e.must("rmi", "busybox:saved")
	if out := e.must("load", "-i", archive); !strings.Contains(out, "Loaded image: busybox:saved") {
		t.Fatalf("load: %q", out)
	}
	if out := e.must("run", "--rm", "busybox:saved", "echo", "loaded"); out != "loaded\n" {
		t.Fatalf("run loaded image: %q", out)
	}
	if _, errOut, code := e.droverIn([]byte("not a tar"), "load"); code == 0 || errOut == "" {
		t.Fatalf("load of garbage: exit %d %q", code, errOut)
	}

	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed: skipping interoperability")
	}
	podmanImg := "localhost/drover-e2e-" + filepath.Base(e.dir) + ":latest"
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", podmanImg).Run() })
	if out, err := exec.Command("podman", "load", "-i", archive).CombinedOutput(); err != nil {
		t.Fatalf("podman load of drover's archive: %v\n%s", err, out)
	}
	if out, err := exec.Command("podman", "tag", "docker.io/library/busybox:saved", podmanImg).CombinedOutput(); err != nil {
		t.Fatalf("podman tag: %v\n%s", err, out)
	}
	exec.Command("podman", "rmi", "docker.io/library/busybox:saved").Run()
	for _, format := range []string{"docker-archive", "oci-archive"} {
		out := filepath.Join(t.TempDir(), format+".tar")
		if o, err := exec.Command("podman", "save", "--format", format, "-o", out, podmanImg).CombinedOutput(); err != nil {
			t.Fatalf("podman save %s: %v\n%s", format, err, o)
		}
		if o := e.must("load", "-i", out); !strings.Contains(o, "Loaded image") {
			t.Fatalf("load of podman's %s: %q", format, o)
		}
	}
	if out := e.must("run", "--rm", podmanImg, "echo", "from podman"); out != "from podman\n" {
		t.Fatalf("run image saved by podman: %q", out)
	}
	_ = os.Remove(archive)
}

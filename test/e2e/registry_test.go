package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover/drover/internal/testutil"
)

// TestPushPullRun: an image pushed to a real registry is pulled by another daemon and
// runs; run pulls a missing image itself; login stores credentials in a Docker config.
func TestPushPullRun(t *testing.T) {
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{Username: "bob", Password: "pw123"})
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	src := newEnv(t)
	src.importBusybox("busybox")
	ref := reg.Addr + "/e2e/busybox:1"
	src.must("tag", "busybox", ref)
	if _, errOut, code := src.drover("push", ref); code == 0 || !strings.Contains(errOut, "drover login") {
		t.Fatalf("push without login: code %d: %s", code, errOut)
	}
	if _, errOut, code := src.droverIn([]byte("wrong\n"), "login", "-u", "bob", "--password-stdin", reg.Addr); code == 0 {
		t.Fatalf("login with a wrong password worked: %s", errOut)
	}
	if out, _, _ := src.droverIn([]byte("pw123\n"), "login", "-u", "bob", "--password-stdin", reg.Addr); !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: %q", out)
	}
	data, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	if err != nil || !strings.Contains(string(data), reg.Addr) {
		t.Fatalf("credentials not stored: %v %s", err, data)
	}
	out := src.must("push", ref)
	if !strings.Contains(out, "digest: sha256:") {
		t.Fatalf("push output: %q", out)
	}

	dst := newEnv(t)
	if got := dst.must("run", "--rm", ref, "echo", "pulled"); !strings.Contains(got, "pulled") {
		t.Fatalf("run of a missing image: %q", got)
	}
	imgs := dst.must("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")
	if !strings.Contains(imgs, reg.Addr+"/e2e/busybox 1 sha256:") {
		t.Fatalf("images --digests: %q", imgs)
	}
	if out := dst.must("pull", "-q", ref); strings.TrimSpace(out) != ref {
		t.Fatalf("pull -q: %q", out)
	}
	if _, errOut, code := dst.drover("pull", reg.Addr+"/e2e/nothing:1"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("pull of a missing image: %d %s", code, errOut)
	}
	if _, _, code := dst.drover("run", "--pull", "never", "--rm", reg.Addr+"/e2e/other:1", "true"); code != 125 {
		t.Fatalf("--pull never ran or pulled: code %d", code)
	}
	dst.must("logout", reg.Addr)
	if data, _ := os.ReadFile(filepath.Join(cfgDir, "config.json")); strings.Contains(string(data), "\"auth\"") {
		t.Fatalf("logout left credentials: %s", data)
	}
	df := dst.must("system", "df")
	if !strings.Contains(df, "Images") || !strings.Contains(df, "RECLAIMABLE") {
		t.Fatalf("system df: %q", df)
	}
	dst.must("rmi", ref)
	if out := dst.must("image", "prune", "-a"); !strings.Contains(out, "Total reclaimed space") {
		t.Fatalf("prune: %q", out)
	}
	if out := dst.must("system", "check"); !strings.Contains(out, "No problems") {
		t.Fatalf("check: %q", out)
	}
}

// TestPullCrash kills the daemon with SIGKILL at many points of a pull, and of a push, an
// rmi and a prune after it: every restart finds a consistent store (system check), lists no
// image it cannot run, and the pull completes afterwards.
func TestPullCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	src := newEnv(t)
	src.importBusybox("busybox")
	big := filepath.Join(t.TempDir(), "big.tar")
	makeBigTar(t, big, 48<<20)
	src.must("import", big, "bigdata")
	for _, name := range []string{"busybox", "bigdata"} {
		src.must("tag", name, reg.Addr+"/crash/"+name)
		src.must("push", "-q", reg.Addr+"/crash/"+name)
	}
	e := newEnv(t)
	for i, delay := range []time.Duration{5, 20, 50, 100, 200, 400, 700, 1000} {
		for _, verb := range [][]string{
			{"pull", "-q", reg.Addr + "/crash/bigdata"},
			{"pull", "-q", reg.Addr + "/crash/busybox"},
			{"push", "-q", reg.Addr + "/crash/copy"},
			{"rmi", reg.Addr + "/crash/bigdata"},
			{"image", "prune", "-a"},
		} {
			if verb[0] == "push" { // push what the last pull left, if it got that far
				e.drover("tag", reg.Addr+"/crash/bigdata", reg.Addr+"/crash/copy")
			}
			cmd := exec.Command(e.bin, verb...)
			cmd.Env = append(os.Environ(), "DROVER_HOST="+e.sock)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay * time.Millisecond)
			e.stopDaemon(syscall.SIGKILL)
			_ = cmd.Wait()
			e.startDaemon()
			if out, errOut, code := e.drover("system", "check"); code != 0 {
				t.Fatalf("round %d, %v: check after crash: %s%s", i, verb, out, errOut)
			}
			// Every listed image runs.
			for _, id := range strings.Fields(e.must("images", "-q", "--no-trunc")) {
				if _, errOut, code := e.drover("run", "--rm", "--entrypoint", "/bin/true", id); code != 0 && !strings.Contains(errOut, "no such file") && !strings.Contains(errOut, "not found") {
					t.Fatalf("round %d, %v: image %s listed but cannot run: %s", i, verb, id, errOut)
				}
			}
		}
	}
	e.must("pull", "-q", reg.Addr+"/crash/bigdata")
	e.must("pull", "-q", reg.Addr+"/crash/busybox")
	if got := e.must("run", "--rm", reg.Addr+"/crash/busybox", "echo", "ok"); got != "ok\n" {
		t.Fatalf("run after crashes: %q", got)
	}
	if out := e.must("system", "check"); !strings.Contains(out, "No problems") {
		t.Fatalf("check: %q", out)
	}
}

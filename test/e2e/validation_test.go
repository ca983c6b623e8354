package e2e

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/drover/drover/internal/testutil"
)

// TestRuntimeToolsValidation runs the OCI runtime-tools validation suite against Debian's
// runc and against drover-runtime on the same machine: every test point runc passes must
// pass with drover too. .ci/run installs the suite (from the Go module proxy) into
// $DROVER_RUNTIME_TOOLS: its validation programs, runtimetest and the rootfs tarball.
func TestRuntimeToolsValidation(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := os.Getenv("DROVER_RUNTIME_TOOLS")
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DROVER_RUNTIME_TOOLS is not set: .ci/run installs the validation suite and sets it")
		}
		t.Skip("DROVER_RUNTIME_TOOLS not set (see .ci/run for how to install the validation suite)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatal("runc is needed as the reference runtime: apt-get install runc")
	}
	progs, _ := filepath.Glob(filepath.Join(dir, "*"))
	work := t.TempDir()
	for _, f := range []string{"runtimetest", "rootfs-amd64.tar.gz"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("validation suite incomplete: %v", err)
		}
		if err := os.WriteFile(filepath.Join(work, f), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(t.TempDir(), "drover-runtime")
	if err := os.Symlink(runtimeBin(t), link); err != nil {
		t.Fatal(err)
	}
	var missing []string
	tests, passedRunc, passedDrover := 0, 0, 0
	for _, p := range progs {
		name := filepath.Base(p)
		if name == "runtimetest" || strings.Contains(name, ".") {
			continue
		}
		tests++
		ref := validationPoints(t, p, work, "runc")
		got := validationPoints(t, p, work, link)
		// Some points race with the container (kill after a `true` that may have exited,
		// polls a second apart): a point drover misses gets two more tries.
		for try := 0; try < 2 && !covers(got, ref); try++ {
			t.Logf("%s: trying again", name)
			for point := range validationPoints(t, p, work, link) {
				got[point] = true
			}
		}
		passedRunc += len(ref)
		passedDrover += len(got)
		for point := range ref {
			if !got[point] {
				missing = append(missing, name+": "+point)
			}
		}
	}
	if tests == 0 {
		t.Fatalf("no validation programs in %s", dir)
	}
	t.Logf("%d validation programs: runc passes %d test points, drover-runtime %d", tests, passedRunc, passedDrover)
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("%d test points pass with runc but not with drover-runtime:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

func covers(got, ref map[string]bool) bool {
	for point := range ref {
		if !got[point] {
			return false
		}
	}
	return true
}

var tapOK = regexp.MustCompile(`^ok \d+ - (.*)$`)

// validationPoints runs one validation program with RUNTIME=runtime and returns the
// descriptions of the TAP points that passed (skips are "ok ... # SKIP" and count as
// passed on both sides alike).
func validationPoints(t *testing.T, prog, work, runtime string) map[string]bool {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// The programs make their bundles in TMPDIR and do not always unmount what their
	// containers mounted there (a shared rootfs propagates the container's /proc, /dev
	// and /sys back to the host): each run gets a directory of its own, emptied after.
	tmp, err := os.MkdirTemp(work, "tmp")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if left := testutil.UnmountAll(tmp); len(left) > 0 {
			t.Logf("%s with %s left %d mounts (removed): %s", filepath.Base(prog), filepath.Base(runtime), len(left), strings.Join(left, " "))
		}
		os.RemoveAll(tmp)
	}()
	cmd := exec.CommandContext(ctx, prog)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "RUNTIME="+runtime, "TMPDIR="+tmp)
	out, _ := cmd.CombinedOutput() // a non-zero exit just means some point failed
	points := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := tapOK.FindStringSubmatch(sc.Text()); m != nil {
			points[m[1]] = true
		}
	}
	if ctx.Err() != nil {
		t.Logf("%s with %s timed out", filepath.Base(prog), runtime)
	}
	return points
}

package e2e

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/drover/drover/internal/testutil"
)

// criTool returns the path of a cri-tools program (crictl, critest). .ci/run installs
// them from the Go module proxy into $DROVER_CRI_TOOLS.
func criTool(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("DROVER_CRI_TOOLS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "drover-ci", "cri-tools-v1.37.0")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found in %s: .ci/run installs cri-tools there", name, dir)
		}
		t.Skipf("%s not found in %s (DROVER_CRI_TOOLS; see .ci/run for how to install cri-tools)", name, dir)
	}
	return p
}

// critestSkips are the critest specs drover does not run, each with the reason. Every
// other spec critest runs must pass.
var critestSkips = []struct{ pattern, why string }{
	{`public image with digest should be pulled`, "the image is pinned to the digest of upstream's manifest, which no locally made image can have (the tests have no internet)"},
	{`should support MaskedPaths`, "the spec masks /bin/ls and expects the shell to fail running ls, but Debian's busybox shell runs applets in-process (FEATURE_SH_STANDALONE) without exec; TestCRIMaskedPaths checks masking instead"},
}

// critestBases are built first, locally, as the bases of critestImages: busybox as its
// image is, with applets as hard links (a masked path then masks the applet, not
// busybox) and sh as the command; and the same with the test program.
// Debian's busybox has no ipcs or pgrep applets, which the specs run: two small scripts
// stand in (ipcs -m lists the shared memory segments, pgrep NAME the matching PIDs).
var critestBases = []struct{ name, dockerfile string }{
	{"critest-busybox", "FROM busybox\n" + critestBusybox},
	{"critest-testprog", "FROM testprog\n" + critestBusybox},
}

const critestBusybox = `RUN for f in /bin/*; do if [ -L "$f" ]; then ln -f /bin/busybox "$f"; fi; done
RUN printf '#!/bin/sh\ncat /proc/sysvipc/shm\n' > /bin/ipcs && chmod 755 /bin/ipcs
RUN printf '#!/bin/sh\nfound=1\nfor d in /proc/[0-9]*; do\n  case "$(cat $d/comm 2>/dev/null)" in *"$1"*) echo ${d#/proc/}; found=0;; esac\ndone\nexit $found\n' > /bin/pgrep && chmod 755 /bin/pgrep
CMD ["sh"]
`

// critestImages are the images critest pulls, made here from critestBases and served by
// a local registry that the daemon uses as the mirror of registry.k8s.io, k8s.gcr.io and
// gcr.io. Each is a Dockerfile built by drover.
var critestImages = map[string]string{
	// The default test container: busybox.
	"e2e-test-images/busybox:1.29-2": "FROM critest-busybox\n",
	// Web servers: HTTP as a process named nginx that writes its PID to
	// /var/run/nginx.pid, as the tests look for both; httpd also says its name in its log.
	"e2e-test-images/nginx:1.14-2": "FROM critest-testprog\nRUN mkdir -p /var/run /usr/sbin && cp /testprog /usr/sbin/nginx\n" +
		`CMD ["sh", "-c", "echo $$ > /var/run/nginx.pid && exec -a 'nginx: master process' /usr/sbin/nginx http :80"]` + "\n",
	"k8s-staging-cri-tools/hostnet-nginx-amd64:latest": "FROM critest-testprog\nRUN mkdir -p /var/run /usr/sbin && cp /testprog /usr/sbin/nginx\n" +
		`CMD ["sh", "-c", "echo $$ > /var/run/nginx.pid && exec -a 'nginx: master process' /usr/sbin/nginx http :12003"]` + "\n",
	"e2e-test-images/httpd:2.4.39-4": "FROM critest-testprog\n" + `CMD ["sh", "-c", "echo httpd: serving on port 80 && exec /testprog http :80"]` + "\n",
	// A setuid-root program that prints its effective uid: no_new_privs keeps it the user's.
	"e2e-test-images/nonewprivs:1.3": "FROM critest-testprog\nRUN cp /testprog /nnp && chmod 4755 /nnp\n" + `CMD ["/nnp", "euid"]` + "\n",
	"pause:3.9":                      "FROM critest-busybox\nCMD [\"sleep\", \"infinity\"]\n",
	// Images that differ in one file each; tags that share one image.
	"k8s-staging-cri-tools/test-image-1:latest":      "FROM critest-busybox\nRUN touch /test-image-1\n",
	"k8s-staging-cri-tools/test-image-2:latest":      "FROM critest-busybox\nRUN touch /test-image-2\n",
	"k8s-staging-cri-tools/test-image-3:latest":      "FROM critest-busybox\nRUN touch /test-image-3\n",
	"k8s-staging-cri-tools/test-image-latest:latest": "FROM critest-busybox\nRUN touch /test-image-latest\n",
	"k8s-staging-cri-tools/test-image-tags:1":        "FROM critest-busybox\nRUN touch /same-image\n",
	"k8s-staging-cri-tools/test-image-tags:2":        "FROM critest-busybox\nRUN touch /same-image\n",
	"k8s-staging-cri-tools/test-image-tags:3":        "FROM critest-busybox\nRUN touch /same-image\n",
	"k8s-staging-cri-tools/test-image-tag:test":      "FROM critest-busybox\nRUN touch /test\n",
	"k8s-staging-cri-tools/test-image-tag:all":       "FROM critest-busybox\nRUN touch /all\n",
	// Images whose config names a user.
	"k8s-staging-cri-tools/test-image-user-uid:latest":            "FROM critest-busybox\nUSER 1002\n",
	"k8s-staging-cri-tools/test-image-user-username:latest":       "FROM critest-busybox\nRUN echo 'www-data:x:33:33:www-data:/var/www:/bin/sh' >> /etc/passwd\nUSER www-data\n",
	"k8s-staging-cri-tools/test-image-user-uid-group:latest":      "FROM critest-busybox\nUSER 1003:1004\n",
	"k8s-staging-cri-tools/test-image-user-username-group:latest": "FROM critest-busybox\nRUN echo 'www-data:x:33:33:www-data:/var/www:/bin/sh' >> /etc/passwd\nUSER www-data:1004\n",
	"k8s-staging-cri-tools/test-image-predefined-group:latest": "FROM critest-busybox\n" +
		// The local busybox has a user 1000 of its own ("drover"); upstream's has none.
		"RUN sed -i '/^drover:/d' /etc/passwd /etc/group && echo 'default-user:x:1000:1000::/home/default-user:/bin/sh' >> /etc/passwd && " +
		"echo 'group-defined-in-image:x:50000:default-user' >> /etc/group\nUSER 1000\n",
}

// TestCritest runs cri-tools' conformance suite, critest, against a drover daemon: every
// spec it runs must pass; the ones drover skips are listed in critestSkips with why.
func TestCritest(t *testing.T) {
	critest := criTool(t, "critest")
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	e := newEnv(t, "--registry-mirror", "registry.k8s.io="+reg.Addr, "--registry-mirror", "k8s.gcr.io="+reg.Addr,
		"--registry-mirror", "gcr.io="+reg.Addr)
	e.importBusybox("busybox")
	e.importTestprog("testprog")
	build := func(ref, dockerfile string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			t.Fatal(err)
		}
		e.must("build", "-q", "-t", ref, dir)
	}
	for _, b := range critestBases {
		build(b.name, b.dockerfile)
	}
	for path, dockerfile := range critestImages {
		ref := reg.Addr + "/" + path
		build(ref, dockerfile)
		e.must("push", ref)
		e.must("rmi", ref)
	}
	e.must("rmi", "busybox", "testprog", "critest-busybox", "critest-testprog")

	var skip []string
	for _, s := range critestSkips {
		skip = append(skip, s.pattern)
	}
	reports := t.TempDir()
	sock := "unix://" + filepath.Join(e.exec, "cri.sock")
	cmd := exec.Command(critest, "--runtime-endpoint", sock, "--image-endpoint", sock,
		"--ginkgo.junit-report", filepath.Join(reports, "junit.xml"), "--ginkgo.no-color", "--ginkgo.skip", strings.Join(skip, "|"))
	if focus := os.Getenv("DROVER_CRITEST_FOCUS"); focus != "" {
		cmd.Args = append(cmd.Args, "--ginkgo.focus", focus) // to iterate on some specs
	}
	cmd.Dir = t.TempDir()
	// critest makes its host paths (pod log directories, mount propagation sources) in
	// TMPDIR and leaves a propagated mount behind now and then: a directory of the
	// test's own, emptied after.
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.CombinedOutput()
	if left := testutil.UnmountAll(tmp); len(left) > 0 {
		t.Logf("critest left %d mounts (removed): %s", len(left), strings.Join(left, " "))
	}
	passed, skipped, failed := critestReport(t, reports)
	t.Logf("critest: %d passed, %d skipped, %d failed", len(passed), len(skipped), len(failed))
	for _, s := range skipped {
		t.Logf("skipped: %s", s)
	}
	if err != nil || len(failed) > 0 {
		t.Errorf("critest failed (%v):\n%s", err, tail(string(out), 200))
		for _, f := range failed {
			t.Errorf("failed: %s", f)
		}
	}
}

// critestReport reads critest's JUnit report: the specs that passed, were skipped (with
// the reason) and failed.
func critestReport(t *testing.T, dir string) (passed, skipped, failed []string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) == 0 {
		t.Errorf("critest wrote no report in %s", dir)
		return
	}
	type testcase struct {
		Name    string `xml:"name,attr"`
		Status  string `xml:"status,attr"`
		Skipped *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
		Failure *struct {
			Message string `xml:"message,attr"`
			Text    string `xml:",chardata"`
		} `xml:"failure"`
		Error *struct {
			Message string `xml:"message,attr"`
		} `xml:"error"`
	}
	var suites struct {
		Suites []struct {
			Cases []testcase `xml:"testcase"`
		} `xml:"testsuite"`
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("critest report %s: %v", files[0], err)
	}
	space := regexp.MustCompile(`\s+`)
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			name := space.ReplaceAllString(c.Name, " ")
			switch {
			case c.Failure != nil:
				failed = append(failed, fmt.Sprintf("%s: %s\n%s", name, c.Failure.Message, tail(c.Failure.Text, 30)))
			case c.Error != nil:
				failed = append(failed, fmt.Sprintf("%s: %s", name, c.Error.Message))
			case c.Skipped != nil:
				skipped = append(skipped, fmt.Sprintf("%s (%s)", name, c.Skipped.Message))
			default:
				passed = append(passed, name)
			}
		}
	}
	return passed, skipped, failed
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

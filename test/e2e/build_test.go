package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover/drover/internal/testutil"
)

// writeContext makes a build context directory from name -> content ("" content with a
// trailing slash in the name makes a directory).
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stepLines are the progress lines of the steps of a build output: "STEP ..." lines
// followed by their DONE or CACHED line.
var resultRE = regexp.MustCompile(`(?m)^\[[^\]]+\] (DONE|CACHED) `)

func countResults(out string) (done, cached int) {
	for _, m := range resultRE.FindAllStringSubmatch(out, -1) {
		if m[1] == "CACHED" {
			cached++
		} else {
			done++
		}
	}
	return done, cached
}

func imageID(e *env, ref string) string {
	e.t.Helper()
	return e.inspect(ref, "{{.Id}}")
}

// TestBuildMultiStage builds a multi-stage image that copies a static Go program out of a
// build stage, runs it, and compares its filesystem and config with podman build's.
func TestBuildMultiStage(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	prog, err := os.ReadFile(testutil.TestProgram(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeContext(t, map[string]string{
		"Dockerfile":       multiStageDockerfile,
		"app/config.txt":   "key=value\n",
		"app/sub/data.txt": "data\n",
		"app/empty/":       "",
		".dockerignore":    "*.log\n",
		"debug.log":        "not sent\n",
	})
	if err := os.WriteFile(filepath.Join(dir, "testprog"), prog, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTarGz(t, filepath.Join(dir, "app.tar.gz"), map[string]string{"unpacked/one.txt": "one\n", "unpacked/two.txt": "two\n"})

	out := e.must("build", "-t", "multi:1", "--build-arg", "VERSION=2.5", "--label", "extra=yes", dir)
	if !strings.Contains(out, "Tagged multi:1") {
		t.Fatalf("build output does not name the tag:\n%s", out)
	}
	if got := e.must("run", "--rm", "multi:1"); strings.TrimSpace(got) != "hello" {
		t.Fatalf("run multi:1: %q, want hello", got)
	}
	if got := e.must("run", "--rm", "--user", "0", "--entrypoint", "cat", "multi:1", "/srv/app/version.txt", "/srv/app/data/config.txt", "/etc/app.conf", "/srv/unpacked/unpacked/two.txt"); got != "version 2.5\nkey=value\nkey=value\ntwo\n" {
		t.Fatalf("files in multi:1: %q", got)
	}
	if _, _, code := e.drover("run", "--rm", "--entrypoint", "ls", "multi:1", "/srv/app/debug.log"); code == 0 {
		t.Fatal("debug.log is excluded by .dockerignore but reached the image")
	}
	if got := e.inspect("multi:1", "{{.Config.User}} {{.Config.WorkingDir}} {{index .Config.Labels \"extra\"}}"); got != "1000:1000 /srv/app yes" {
		t.Fatalf("config: %q", got)
	}

	archive := filepath.Join(t.TempDir(), "multi.tar")
	e.must("build", "-q", "-t", "multi:1", "--build-arg", "VERSION=2.5", "--label", "extra=yes", "-o", "type=oci,dest="+archive, dir)
	mine := readImageArchive(t, archive)

	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed: no comparison with podman build")
	}
	base := fmt.Sprintf("localhost/drover-e2e-base-%d", os.Getpid())
	tag := fmt.Sprintf("localhost/drover-e2e-build-%d", os.Getpid())
	podman(t, "import", "-q", testutil.BusyboxTar(t), base)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag, base).Run() })
	podman(t, "build", "--layers=false", "--runtime", "runc", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--build-arg", "BASE="+base, "--build-arg", "VERSION=2.5", "--label", "extra=yes", "-t", tag, dir)
	theirs := filepath.Join(t.TempDir(), "podman.tar")
	podman(t, "save", "--format", "oci-archive", "-o", theirs, tag)
	compareImages(t, mine, readImageArchive(t, theirs))
}

const multiStageDockerfile = `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS build
WORKDIR /src
COPY testprog ./
RUN mkdir -p /out && cp /src/testprog /out/prog && chmod 0755 /out/prog \
    && echo built > /out/stamp

FROM $BASE AS unused
RUN exit 1

FROM $BASE
ARG VERSION=1.0
ENV APP_HOME=/srv/app VERSION=$VERSION
WORKDIR $APP_HOME
COPY --from=build /out/prog ./bin/prog
COPY --from=build /out/stamp ./
COPY --chown=1000:1000 app/ ./data/
COPY --chmod=0600 app/config.txt /etc/app.conf
ADD app.tar.gz /srv/unpacked/
RUN echo "version $VERSION" > version.txt && ln -s version.txt v && rm /bin/vi && mkdir -p /var/empty
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME /data
LABEL org.example.name=demo
ENTRYPOINT ["/srv/app/bin/prog"]
CMD ["echo", "hello"]
`

func podman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeTarGz(t *testing.T, p string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[n]))
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fsEntry is what the comparison looks at for one path of an image's filesystem.
type fsEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Link     string
	Sum      string
}

type imageFacts struct {
	files     map[string]fsEntry
	config    imageConfigFacts
	rawConfig []byte
}

// imageConfigFacts are the config fields compared with podman's.
type imageConfigFacts struct {
	Env          []string
	Cmd          []string
	Entrypoint   []string
	WorkingDir   string
	User         string
	ExposedPorts map[string]struct{}
	Labels       map[string]string
	Volumes      map[string]struct{}
}

// readImageArchive reads an OCI layout archive (drover save, podman save --format
// oci-archive) and flattens its first image's layers.
func readImageArchive(t *testing.T, p string) imageFacts {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blobs := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		blobs[strings.TrimPrefix(path.Clean(hdr.Name), "./")] = data
	}
	blob := func(d string) []byte {
		b, ok := blobs["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")]
		if !ok {
			t.Fatalf("%s: blob %s missing", p, d)
		}
		return b
	}
	var idx struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(blobs["index.json"], &idx); err != nil || len(idx.Manifests) == 0 {
		t.Fatalf("%s: index.json: %v", p, err)
	}
	var m struct {
		Config struct{ Digest string }   `json:"config"`
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal(blob(idx.Manifests[0].Digest), &m); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Config imageConfigFacts `json:"config"`
	}
	rawConfig := blob(m.Config.Digest)
	if err := json.Unmarshal(rawConfig, &cfg); err != nil {
		t.Fatal(err)
	}
	files := map[string]fsEntry{}
	for _, l := range m.Layers {
		applyLayer(t, files, blob(l.Digest))
	}
	return imageFacts{files: files, config: cfg.Config, rawConfig: rawConfig}
}

func applyLayer(t *testing.T, files map[string]fsEntry, data []byte) {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	removeUnder := func(p string) {
		for k := range files {
			if k == p || strings.HasPrefix(k, p+"/") {
				delete(files, k)
			}
		}
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + hdr.Name)
		dir, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			for k := range files {
				if strings.HasPrefix(k, dir) && k != path.Clean(dir) {
					delete(files, k)
				}
			}
			continue
		case strings.HasPrefix(base, ".wh."):
			removeUnder(path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			continue
		}
		e := fsEntry{Type: hdr.Typeflag, Mode: hdr.Mode & 0o7777, UID: hdr.Uid, GID: hdr.Gid, Link: hdr.Linkname}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			e.Type = tar.TypeReg
			h := sha256.New()
			io.Copy(h, tr)
			e.Sum = hex.EncodeToString(h.Sum(nil))
		case tar.TypeLink:
			target := files[path.Clean("/"+hdr.Linkname)]
			e = target
		}
		if hdr.Typeflag != tar.TypeDir {
			removeUnder(name)
		}
		files[name] = e
	}
}

func compareImages(t *testing.T, mine, theirs imageFacts) {
	t.Helper()
	var diffs []string
	for p, a := range mine.files {
		b, ok := theirs.files[p]
		switch {
		case !ok:
			diffs = append(diffs, "only in drover's image: "+p)
		case a != b:
			diffs = append(diffs, fmt.Sprintf("%s: drover %+v, podman %+v", p, a, b))
		}
	}
	for p := range theirs.files {
		if _, ok := mine.files[p]; !ok {
			diffs = append(diffs, "only in podman's image: "+p)
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		t.Error(d)
	}
	delete(theirs.config.Labels, "io.buildah.version")
	// buildah keeps an EXPOSE range as one key; Docker lists each port, as drover does.
	for p := range theirs.config.ExposedPorts {
		var lo, hi int
		var proto string
		if n, _ := fmt.Sscanf(strings.Replace(p, "/", " ", 1), "%d-%d %s", &lo, &hi, &proto); n == 3 {
			delete(theirs.config.ExposedPorts, p)
			for port := lo; port <= hi; port++ {
				theirs.config.ExposedPorts[fmt.Sprintf("%d/%s", port, proto)] = struct{}{}
			}
		}
	}
	if a, b := normalConfig(mine.config), normalConfig(theirs.config); !reflect.DeepEqual(a, b) {
		t.Errorf("configs differ:\ndrover %+v\npodman %+v", mine.config, theirs.config)
	}
}

// TestBuildCache checks that a rebuild takes every step from the cache, that a changed
// source file rebuilds from its COPY on, that the cache survives a daemon restart, and
// that --no-cache runs everything again.
func TestBuildCache(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo first > /first\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCOPY b.txt /b.txt\nCMD [\"cat\", \"/copy\"]\n",
		"a.txt":      "one\n",
		"b.txt":      "b\n",
	})
	out := e.must("build", "-t", "cached", dir)
	if done, cached := countResults(out); cached != 0 || done != 6 {
		t.Fatalf("first build: %d done, %d cached, want 6 and 0:\n%s", done, cached, out)
	}
	id := imageID(e, "cached")
	out = e.must("build", "-t", "cached", dir)
	if _, cached := countResults(out); cached != 5 {
		t.Fatalf("rebuild: %d steps cached, want 5 (all but FROM):\n%s", cached, out)
	}
	if got := imageID(e, "cached"); got != id {
		t.Fatalf("an unchanged rebuild made another image: %s, then %s", id, got)
	}

	// Only a.txt's content changes: RUN echo stays cached, COPY a.txt and later rebuild.
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = e.must("build", "-t", "cached", dir)
	if _, cached := countResults(out); cached != 1 {
		t.Fatalf("rebuild after a change: %d cached, want 1 (RUN echo):\n%s", cached, out)
	}
	if got := e.must("run", "--rm", "cached"); got != "two\n" {
		t.Fatalf("rebuilt image prints %q", got)
	}
	// A touched but unchanged file keeps the cache.
	now := filepath.Join(dir, "b.txt")
	if err := os.Chtimes(now, fileTime(t, now).AddDate(0, 0, 1), fileTime(t, now).AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	id = imageID(e, "cached")
	e.stopDaemon(syscall.SIGTERM)
	e.startDaemon()
	out = e.must("build", "-t", "cached", dir)
	if _, cached := countResults(out); cached != 5 {
		t.Fatalf("rebuild after a daemon restart: %d cached, want 5:\n%s", cached, out)
	}
	if got := imageID(e, "cached"); got != id {
		t.Fatalf("rebuild after restart made another image")
	}
	out = e.must("build", "--no-cache", "-t", "cached", dir)
	if _, cached := countResults(out); cached != 0 {
		t.Fatalf("--no-cache: %d steps cached:\n%s", cached, out)
	}
	// The cache's layers survive removing every image that used them.
	e.must("rmi", "cached")
	out = e.must("build", "-t", "cached", dir)
	if _, cached := countResults(out); cached != 5 {
		t.Fatalf("rebuild after rmi: %d cached, want 5:\n%s", cached, out)
	}
	e.must("run", "--rm", "cached")
	if out := e.must("builder", "prune"); !strings.Contains(out, "Deleted build cache steps") {
		t.Fatalf("builder prune: %q", out)
	}
}

// TestBuildContext covers .dockerignore exclusions and exceptions, a Dockerfile and a
// tarball on stdin, --target (the stages it does not need are not built), and the OCI
// output.
func TestBuildContext(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	dir := writeContext(t, map[string]string{
		"Dockerfile":        "FROM busybox\nCOPY . /ctx/\nRUN find /ctx | sort > /list\nRUN <<EOF\necho heredoc > /heredoc\nEOF\nCMD [\"cat\", \"/list\", \"/heredoc\"]\n",
		".dockerignore":     "# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\n",
		"a.log":             "x",
		"keep.log":          "x",
		"secret/key":        "x",
		"src/main.go":       "x",
		"src/deep/file.tmp": "x",
	})
	e.must("build", "-q", "-t", "ctx", dir)
	got := e.must("run", "--rm", "ctx")
	want := "/ctx\n/ctx/.dockerignore\n/ctx/Dockerfile\n/ctx/keep.log\n/ctx/src\n/ctx/src/deep\n/ctx/src/main.go\nheredoc\n"
	if got != want {
		t.Fatalf("files sent in the context:\n%s\nwant:\n%s", got, want)
	}

	// A Dockerfile on stdin: no context.
	out, errOut, code := e.droverIn([]byte("FROM busybox\nRUN echo stdin > /f\nCMD [\"cat\", \"/f\"]\n"), "build", "-t", "fromstdin", "-")
	if code != 0 {
		t.Fatalf("build -: %d\n%s%s", code, out, errOut)
	}
	if got := e.must("run", "--rm", "fromstdin"); got != "stdin\n" {
		t.Fatalf("fromstdin prints %q", got)
	}
	// A tarball on stdin is the context.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range map[string]string{"Dockerfile": "FROM busybox\nCOPY hello /hello\n", "hello": "from tar\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))})
		tw.Write([]byte(content))
	}
	tw.Close()
	if out, errOut, code := e.droverIn(buf.Bytes(), "build", "-t", "fromtar", "-"); code != 0 {
		t.Fatalf("build - (tar): %d\n%s%s", code, out, errOut)
	}
	if got := e.must("run", "--rm", "fromtar", "cat", "/hello"); got != "from tar\n" {
		t.Fatalf("fromtar: %q", got)
	}

	// --target builds only the stages the target needs: the failing stage is skipped.
	tdir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox AS broken\nRUN exit 7\nFROM busybox AS one\nRUN echo one > /one\nFROM one AS two\nCOPY --from=broken /bin/sh /sh\n",
	})
	out = e.must("build", "--target", "one", "-t", "target", tdir)
	if strings.Contains(out, "exit 7") {
		t.Fatalf("--target one ran the broken stage:\n%s", out)
	}
	if got := e.must("run", "--rm", "target", "cat", "/one"); got != "one\n" {
		t.Fatalf("target: %q", got)
	}
	archive := filepath.Join(t.TempDir(), "out.tar")
	e.must("build", "-q", "--target", "one", "-o", "type=oci,dest="+archive, tdir)
	facts := readImageArchive(t, archive)
	if facts.files["/one"].Sum == "" {
		t.Fatalf("-o type=oci: /one is not in the archive's image")
	}
}

// TestBuildBadInput checks that broken Dockerfiles and failing steps give a clear error
// with the line, exit non-zero, and tag nothing.
func TestBuildBadInput(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	for _, tc := range []struct {
		name, dockerfile string
		want             []string
	}{
		{"unknown instruction", "FROM busybox\nFOO bar\n", []string{"Dockerfile:2", "unknown instruction FOO"}},
		{"syntax", "FROM busybox\nENV A=\"unterminated\n", []string{"Dockerfile:2", "double-quote"}},
		{"no from", "RUN true\n", []string{"Dockerfile:1"}},
		{"failing run", "FROM busybox\nRUN echo one\nRUN echo out1; echo out2; exit 3\n", []string{"Dockerfile:3", "exit code 3", "out1\n  out2"}},
		{"copy outside", "FROM busybox\nCOPY ../../etc/passwd /x\n", []string{"Dockerfile:2", "outside the build context"}},
		{"copy missing", "FROM busybox\nCOPY missing.txt /x\n", []string{"Dockerfile:2", "not found in the build context"}},
		{"cycle", "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /x /y\n", []string{"cycle"}},
		{"bad target", "FROM busybox AS a\n", nil},
		{"many sources", "FROM busybox\nCOPY Dockerfile Dockerfile /x\n", []string{"Dockerfile:2", "ending in /"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			dir := writeContext(t, map[string]string{"Dockerfile": tc.dockerfile})
			args := []string{"build", "-t", "bad:" + strings.ReplaceAll(tc.name, " ", "-"), dir}
			if tc.name == "bad target" {
				args = append([]string{"build", "--target", "nope"}, args[1:]...)
				tc.want = []string{"target stage \"nope\""}
			}
			out, errOut, code := e.drover(args...)
			if code == 0 {
				t.Fatalf("build succeeded:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error %q does not contain %q", errOut, w)
				}
			}
			if _, _, code := e.drover("inspect", args[len(args)-2]); code == 0 {
				t.Errorf("a failed build tagged %s", args[len(args)-2])
			}
		})
	}
}

func fileTime(t *testing.T, p string) time.Time {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// TestBuildInstructions covers the instructions the comparison with podman leaves out:
// ONBUILD triggers, SHELL, HEALTHCHECK, STOPSIGNAL, COPY of a heredoc, ARG scopes,
// stages by index, scratch, and independent stages feeding one final stage.
func TestBuildInstructions(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	base := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /trig\nSHELL [\"/bin/sh\", \"-ec\"]\nHEALTHCHECK --interval=5s --retries=2 CMD [\"true\"]\nSTOPSIGNAL SIGINT\n",
	})
	e.must("build", "-q", "-t", "onbuild-base", base)
	if got := e.inspect("onbuild-base", "{{.Config.StopSignal}} {{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}"); got != "SIGINT [CMD true] 2" {
		t.Fatalf("config of onbuild-base: %q", got)
	}
	dir := writeContext(t, map[string]string{"Dockerfile": `ARG GLOBAL=g1
FROM onbuild-base AS child
RUN cat /trig > /seen

FROM busybox AS one
ARG GLOBAL
ARG LOCAL=l1
RUN echo "$GLOBAL $LOCAL" > /args

FROM scratch AS two
COPY <<EOF /inline.txt
inline $GLOBAL
EOF

FROM busybox
COPY --from=child /seen /seen
COPY --from=1 /args /args
COPY --from=two /inline.txt /inline.txt
CMD ["cat", "/seen", "/args", "/inline.txt"]
`})
	e.must("build", "-q", "-t", "instr", "--build-arg", "LOCAL=l2", dir)
	if got := e.must("run", "--rm", "instr"); got != "triggered\ng1 l2\ninline $GLOBAL\n" {
		t.Fatalf("instr prints %q", got)
	}
	out := e.must("build", "--target", "child", "-t", "instr-child", dir)
	if !strings.Contains(out, "ONBUILD") {
		t.Fatalf("the ONBUILD trigger is not shown:\n%s", out)
	}
	archive := filepath.Join(t.TempDir(), "child.tar")
	e.must("save", "-o", archive, "instr-child")
	if raw := readImageArchive(t, archive).rawConfig; bytes.Contains(raw, []byte("OnBuild")) || !bytes.Contains(raw, []byte(`"Shell":["/bin/sh","-ec"]`)) {
		t.Fatalf("the child's config keeps the triggers or lost SHELL: %s", raw)
	}
}

// TestBuildPush builds and pushes to a registry on loopback, then pulls the image back
// into a fresh store and runs it.
func TestBuildPush(t *testing.T) {
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	e := newEnv(t)
	e.importBusybox("busybox")
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo pushed > /msg\nCMD [\"cat\", \"/msg\"]\n",
	})
	ref := reg.Addr + "/built/app:1"
	e.must("build", "-t", ref, "--push", dir)
	id := imageID(e, ref)
	e.must("rmi", ref)
	e.must("pull", ref)
	if got := imageID(e, ref); got != id {
		t.Fatalf("pulled %s, built %s", got, id)
	}
	if got := e.must("run", "--rm", ref); got != "pushed\n" {
		t.Fatalf("pulled image prints %q", got)
	}
}

// TestBuildDaemonKilled kills the daemon in the middle of a RUN step: after a restart the
// step's container, mounts and cgroups are gone (the teardown checks), nothing is tagged,
// and the next build works.
func TestBuildDaemonKilled(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo started; sleep 120\n"})
	cmd := exec.Command(e.bin, "build", "-t", "killed", dir)
	cmd.Env = append(os.Environ(), "DROVER_HOST="+e.sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan bool, 1)
	go func() {
		buf := make([]byte, 4096)
		var seen strings.Builder
		for {
			n, err := out.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "started") {
				started <- true
				io.Copy(io.Discard, out)
				return
			}
			if err != nil {
				started <- false
				return
			}
		}
	}()
	if !<-started {
		cmd.Wait()
		t.Fatal("the RUN step did not start")
	}
	e.stopDaemon(syscall.SIGKILL)
	if err := cmd.Wait(); err == nil {
		t.Fatal("the build succeeded without its daemon")
	}
	e.startDaemon()
	e.eventually(20*time.Second, "the step's processes to end", func() bool {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte(filepath.Join(e.exec, "build"))) {
				return false
			}
		}
		return true
	})
	if _, _, code := e.drover("inspect", "killed"); code == 0 {
		t.Fatal("the interrupted build tagged its image")
	}
	dir2 := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo again > /f\n"})
	e.must("build", "-q", "-t", "after", dir2)
}

// TestBuildRunMounts covers RUN --mount: a cache directory kept across builds, a read-only
// bind of a context file (its content is in the step's cache key), a tmpfs; none of their
// mountpoints ends up in the image.
func TestBuildRunMounts(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	dir := writeContext(t, map[string]string{
		"data.txt": "bound\n",
		"Dockerfile": `FROM busybox
RUN --mount=type=cache,target=/cache/sub sh -c 'echo x >> /cache/sub/log; wc -l < /cache/sub/log > /count'
RUN --mount=type=bind,source=data.txt,target=/mnt/in/data.txt cat /mnt/in/data.txt > /copied
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo t > /scratch/t && ls /scratch > /tmplist'
CMD ["cat", "/count", "/copied", "/tmplist"]
`})
	e.must("build", "-q", "-t", "mounts", dir)
	if got := e.must("run", "--rm", "mounts"); got != "1\nbound\nt\n" {
		t.Fatalf("first build: %q", got)
	}
	e.must("build", "-q", "--no-cache", "-t", "mounts", dir)
	if got := e.must("run", "--rm", "mounts"); got != "2\nbound\nt\n" {
		t.Fatalf("the cache mount did not keep its files: %q", got)
	}
	for _, p := range []string{"/cache", "/mnt/in", "/scratch"} {
		if _, _, code := e.drover("run", "--rm", "mounts", "ls", "-d", p); code == 0 {
			t.Errorf("mountpoint %s is in the image", p)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.must("build", "-t", "mounts", dir)
	if _, cached := countResults(out); cached != 1 {
		t.Fatalf("after the bound file changed: %d cached, want 1 (the cache-mount step):\n%s", cached, out)
	}
	if got := e.must("run", "--rm", "mounts", "cat", "/copied"); got != "changed\n" {
		t.Fatalf("bound file: %q", got)
	}
	_, errOut, code := e.drover("build", "-t", "bad", writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=x true\n"}))
	if code == 0 || !strings.Contains(errOut, "Dockerfile:2") || !strings.Contains(errOut, "secret") {
		t.Fatalf("RUN --mount=type=secret: %d %s", code, errOut)
	}
}

// buildBoth builds dir with drover (saving the image) and, when podman is installed, with
// podman build from the same busybox tarball (passed as the BASE build arg), and compares
// the two images' file systems and configs.
func buildBoth(t *testing.T, e *env, dir string, args ...string) {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "drover.tar")
	e.must(append(append([]string{"build", "-q", "-o", "type=oci,dest=" + archive}, args...), dir)...)
	mine := readImageArchive(t, archive)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman not installed: no comparison with podman build")
	}
	base := fmt.Sprintf("localhost/drover-e2e-base2-%d", os.Getpid())
	tag := fmt.Sprintf("localhost/drover-e2e-build2-%d", os.Getpid())
	podman(t, "import", "-q", testutil.BusyboxTar(t), base)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag, base).Run() })
	podman(t, append(append([]string{"build", "--layers=false", "--runtime", "runc", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--build-arg", "BASE=" + base, "-t", tag}, args...), dir)...)
	theirs := filepath.Join(t.TempDir(), "podman.tar")
	podman(t, "save", "--format", "oci-archive", "-o", theirs, tag)
	compareImages(t, mine, readImageArchive(t, theirs))
}

// TestBuildCompareEdgeCases compares with podman build what is easy to get wrong: COPY
// through a symlinked directory, --chown by name, a directory replaced (opaque), a
// hardlink, ENV with quotes, ENTRYPOINT in shell form, port ranges, VOLUME in JSON form,
// WORKDIR created after USER.
func TestBuildCompareEdgeCases(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	dir := writeContext(t, map[string]string{
		"tree/a.txt":     "a\n",
		"tree/sub/b.txt": "b\n",
		"Dockerfile": `ARG BASE=busybox
FROM $BASE
RUN mkdir -p /usr/local/real /data/old/sub && ln -s real /usr/local/link && echo old > /data/old/sub/f && echo keep > /data/keep
COPY tree/ /usr/local/link/
COPY --chown=drover:drover tree/a.txt /home/drover/
RUN rm -rf /data/old && mkdir /data/old && echo new > /data/old/g && ln /data/keep /data/hard
ENV A="with space" B=plain
ENTRYPOINT echo "entry"
EXPOSE 9000-9002/udp
VOLUME ["/vol/a", "/vol/b"]
USER drover
WORKDIR /home/drover/work
`})
	if err := os.Symlink("a.txt", filepath.Join(dir, "tree/ln")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tree/run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	buildBoth(t, e, dir)
}

// normalConfig makes empty lists and maps nil: JSON's [] and a missing field mean the same.
func normalConfig(c imageConfigFacts) imageConfigFacts {
	if len(c.Env) == 0 {
		c.Env = nil
	}
	if len(c.Cmd) == 0 {
		c.Cmd = nil
	}
	if len(c.Entrypoint) == 0 {
		c.Entrypoint = nil
	}
	if len(c.ExposedPorts) == 0 {
		c.ExposedPorts = nil
	}
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	if len(c.Volumes) == 0 {
		c.Volumes = nil
	}
	return c
}

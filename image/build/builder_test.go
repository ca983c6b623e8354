package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/drover/drover/image"
	"github.com/drover/drover/internal/testutil"
)

// noRunner fails RUN steps: these tests build without containers (e2e runs them).
type noRunner struct{}

func (noRunner) Run(context.Context, RunRequest) (int, error) {
	return 0, errors.New("RUN is not available in this test")
}

// newTestBuilder opens a store with a small base image "base" and a builder on it.
func newTestBuilder(t *testing.T) (*Builder, *image.Store) {
	t.Helper()
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	store, err := image.Open(filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len("root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"))},
		{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"},
	} {
		tw.WriteHeader(h)
		if h.Name == "etc/passwd" {
			io.WriteString(tw, "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n")
		}
	}
	tw.Close()
	if _, err := store.Import(context.Background(), &buf, "base", image.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	cache, err := OpenCache(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	b, err := New(store, noRunner{}, cache, filepath.Join(dir, "work"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, store
}

// layerFiles lists the entries of an image's layers, top layer last.
func layerFiles(t *testing.T, store *image.Store, img *image.Image) []string {
	t.Helper()
	var out []string
	for _, l := range img.Layers[1:] {
		rc, err := store.Content().Open(l.Digest)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzipReader(rc)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, hdr.Name)
		}
		rc.Close()
	}
	return out
}

func TestBuildCacheKeys(t *testing.T) {
	b, store := newTestBuilder(t)
	ctxDir := t.TempDir()
	os.MkdirAll(filepath.Join(ctxDir, "src"), 0o755)
	os.WriteFile(filepath.Join(ctxDir, "src/a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "tool"), []byte("#!/bin/sh\n"), 0o755)
	dockerfile := []byte(`FROM base
ARG MODE=dev
ENV MODE=$MODE
WORKDIR /app
COPY src/ ./src/
COPY --chown=app tool /bin/
LABEL mode=${MODE}
`)
	build := func(opts Options) *Result {
		t.Helper()
		opts.Dockerfile, opts.Context, opts.Tags = dockerfile, ctxDir, []string{"out"}
		var log bytes.Buffer
		opts.Out = &log
		res, err := b.Build(context.Background(), opts)
		if err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		return res
	}
	first := build(Options{})
	if first.Cached != 0 || first.Steps != 6 {
		t.Fatalf("first build: %d steps, %d cached", first.Steps, first.Cached)
	}
	cfg := first.Image.Config.Config
	if cfg.WorkingDir != "/app" || cfg.Labels["mode"] != "dev" || !contains(cfg.Env, "MODE=dev") || !contains(cfg.Env, "PATH="+defaultPath) {
		t.Fatalf("config: %+v", cfg)
	}
	files := strings.Join(layerFiles(t, store, first.Image), " ")
	// The tool went through the /bin symlink to /usr/bin, which stays a directory.
	for _, want := range []string{"app/", "app/src/a.txt", "usr/bin/tool"} {
		if !strings.Contains(files, want) {
			t.Errorf("layers lack %s: %s", want, files)
		}
	}
	if strings.Contains(files, " bin/") {
		t.Errorf("the /bin symlink was replaced: %s", files)
	}

	again := build(Options{})
	if again.Cached != 5 || again.Image.ID != first.Image.ID {
		t.Fatalf("rebuild: %d cached (want 5), image %s then %s", again.Cached, first.Image.ID, again.Image.ID)
	}
	// A build arg changes ENV and every step after it.
	prod := build(Options{BuildArgs: map[string]string{"MODE": "prod"}})
	if prod.Cached != 0 || prod.Image.Config.Config.Labels["mode"] != "prod" {
		t.Fatalf("MODE=prod: %d cached, labels %v", prod.Cached, prod.Image.Config.Config.Labels)
	}
	// A new mode on the tool reruns the second COPY and the LABEL after it.
	os.Chmod(filepath.Join(ctxDir, "tool"), 0o700)
	chmod := build(Options{})
	if chmod.Cached != 3 {
		t.Fatalf("after chmod: %d cached, want 3", chmod.Cached)
	}
	nocache := build(Options{NoCache: true})
	if nocache.Cached != 0 {
		t.Fatalf("--no-cache: %d cached", nocache.Cached)
	}
	// The cache's layers survive a GC that no image asks for.
	if _, _, err := store.Remove("out", true, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GC(); err != nil {
		t.Fatal(err)
	}
	if res := build(Options{}); res.Cached != 5 {
		t.Fatalf("after GC: %d cached, want 5", res.Cached)
	}
}

func TestBuildRefusesRunWithoutRunner(t *testing.T) {
	b, store := newTestBuilder(t)
	_, err := b.Build(context.Background(), Options{Dockerfile: []byte("FROM base\nRUN true\n"), Tags: []string{"never"}})
	var de *Error
	if !errors.As(err, &de) || de.Line != 2 {
		t.Fatalf("error %v, want one at line 2", err)
	}
	if _, err := store.Get("never"); err == nil {
		t.Fatal("a failed build tagged its image")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func gzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

// TestBuildStages: a global ARG names the stage COPY --from reads, stages the target
// does not need are not built, and a stage can be named by index.
func TestBuildStages(t *testing.T) {
	b, store := newTestBuilder(t)
	ctxDir := t.TempDir()
	os.WriteFile(filepath.Join(ctxDir, "a.txt"), []byte("a"), 0o644)
	df := []byte(`ARG SRC=one
FROM base AS one
COPY a.txt /from-one
FROM base AS broken
RUN exit 1
FROM base AS final
COPY --from=${SRC} /from-one /copied
COPY --from=0 /from-one /by-index
`)
	var log bytes.Buffer
	res, err := b.Build(context.Background(), Options{Dockerfile: df, Context: ctxDir, Target: "final", Out: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), "[broken]") {
		t.Fatalf("the unneeded stage was built:\n%s", log.String())
	}
	files := strings.Join(layerFiles(t, store, res.Image), " ")
	if !strings.Contains(files, "copied") || !strings.Contains(files, "by-index") {
		t.Fatalf("layers: %s", files)
	}
	if _, err := b.Build(context.Background(), Options{Dockerfile: df, Context: ctxDir, Target: "nope"}); err == nil {
		t.Fatal("an unknown target was accepted")
	}
}

// TestBuildAddURL downloads ADD sources from a server on loopback: named after the URL,
// mode 0600, --checksum checked, not unpacked, and the key follows the content.
func TestBuildAddURL(t *testing.T) {
	b, store := newTestBuilder(t)
	body := "remote content\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	df := []byte("FROM base\nADD " + srv.URL + "/files/data.txt /dl/\nADD --checksum=sha256:2c2d0ab8b8d0a6f1d3b2ed4a3e20b9e3a2cc1c6b0b5a4d2a1e7a3c3e6f0e1e0a " + srv.URL + "/x /x\n")
	_, err := b.Build(context.Background(), Options{Dockerfile: df})
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a wrong --checksum: %v", err)
	}
	df = []byte("FROM base\nADD " + srv.URL + "/files/data.txt /dl/\n")
	res, err := b.Build(context.Background(), Options{Dockerfile: df})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, l := range res.Image.Layers[1:] {
		rc, _ := store.Content().Open(l.Digest)
		zr, _ := gzipReader(rc)
		tr := tar.NewReader(zr)
		for {
			hdr, err := tr.Next()
			if err != nil {
				break
			}
			if hdr.Name == "dl/data.txt" {
				found = true
				if hdr.Mode&0o777 != 0o600 || hdr.ModTime.Year() != 2015 {
					t.Errorf("dl/data.txt: mode %o, time %v", hdr.Mode, hdr.ModTime)
				}
			}
		}
		rc.Close()
	}
	if !found {
		t.Fatal("the download is not in the layer")
	}
	if again, _ := b.Build(context.Background(), Options{Dockerfile: df}); again == nil || again.Cached != 1 {
		t.Fatalf("same content: %+v", again)
	}
	body = "changed\n"
	if changed, _ := b.Build(context.Background(), Options{Dockerfile: df}); changed == nil || changed.Cached != 0 {
		t.Fatalf("changed content: %+v", changed)
	}
}

package remote

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/testutil"
)

// testLayer is a layer built in the test: its tar, gzipped.
type testLayer struct {
	gz     []byte
	diffID digest.Digest
}

func makeLayer(t *testing.T, files map[string][]byte) testLayer {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return testLayer{gz: gz.Bytes(), diffID: digest.FromBytes(raw.Bytes())}
}

// rawImage is an image as a registry holds it.
type rawImage struct {
	layers   []testLayer
	config   []byte
	manifest []byte
	desc     ocispec.Descriptor
}

func makeImage(t *testing.T, arch string, layers ...testLayer) rawImage {
	t.Helper()
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: arch}, RootFS: ocispec.RootFS{Type: "layers"}}
	cfg.Config.Cmd = []string{"/bin/sh"}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest}
	m.SchemaVersion = 2
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(l.gz), Size: int64(len(l.gz))})
	}
	rawCfg, _ := json.Marshal(cfg)
	m.Config = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(rawCfg), Size: int64(len(rawCfg))}
	rawM, _ := json.Marshal(m)
	return rawImage{layers: layers, config: rawCfg, manifest: rawM,
		desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(rawM), Size: int64(len(rawM)),
			Platform: &ocispec.Platform{OS: "linux", Architecture: arch}}}
}

// upload puts blobs and a manifest into the registry with plain HTTP, as any client would.
func upload(t *testing.T, reg *testutil.Registry, repo, tag string, img rawImage) {
	t.Helper()
	putBlob(t, reg, repo, img.config)
	for _, l := range img.layers {
		putBlob(t, reg, repo, l.gz)
	}
	putManifest(t, reg, repo, tag, ocispec.MediaTypeImageManifest, img.manifest)
}

func putBlob(t *testing.T, reg *testutil.Registry, repo string, data []byte) {
	t.Helper()
	resp, err := http.Post(reg.URL()+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %s", resp.Status)
	}
	loc, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	q.Set("digest", digest.FromBytes(data).String())
	loc.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodPut, loc.String(), bytes.NewReader(data))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload blob: %s", resp.Status)
	}
}

func putManifest(t *testing.T, reg *testutil.Registry, repo, tag, mt string, data []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, reg.URL()+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(data))
	req.Header.Set("Content-Type", mt)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("put manifest: %s: %s", resp.Status, body)
	}
}

func newStore(t *testing.T) *image.Store {
	t.Helper()
	s, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recorder keeps progress lines.
type recorder struct {
	mu    sync.Mutex
	lines []api.Progress
}

func (r *recorder) add(p api.Progress) {
	r.mu.Lock()
	r.lines = append(r.lines, p)
	r.mu.Unlock()
}

func (r *recorder) statuses(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.lines {
		if p.ID == id && (len(out) == 0 || out[len(out)-1] != p.Status) {
			out = append(out, p.Status)
		}
	}
	return out
}

func (r *recorder) has(status string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.lines {
		if strings.Contains(p.Status, status) {
			return true
		}
	}
	return false
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestPullSharesLayersAndIsUpToDate(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	base := makeLayer(t, map[string][]byte{"etc/base": []byte("base")})
	mid := makeLayer(t, map[string][]byte{"etc/mid": randomBytes(1 << 20)})
	top := makeLayer(t, map[string][]byte{"app/top": []byte("top")})
	upload(t, reg, "test/one", "v1", makeImage(t, "amd64", base, mid))
	upload(t, reg, "test/two", "v1", makeImage(t, "amd64", base, mid, top))

	s := newStore(t)
	c := New(s, Options{})
	ctx := context.Background()
	var first recorder
	img, err := c.Pull(ctx, reg.Addr+"/test/one:v1", PullOptions{Progress: first.add})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.DiffIDs) != 2 || !s.Snapshots().Exists(img.ChainID) {
		t.Fatalf("image not unpacked: %+v", img)
	}
	if got := first.statuses(shortID(digest.FromBytes(mid.gz))); got[len(got)-1] != "Pull complete" {
		t.Fatalf("progress of a layer: %v", got)
	}
	if len(img.RepoDigests) != 1 || !strings.HasPrefix(img.RepoDigests[0], reg.Addr+"/test/one@sha256:") {
		t.Fatalf("repo digests: %v", img.RepoDigests)
	}

	var second recorder
	img2, err := c.Pull(ctx, reg.Addr+"/test/two:v1", PullOptions{Progress: second.add})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []testLayer{base, mid} {
		if got := second.statuses(shortID(digest.FromBytes(l.gz))); got[0] != "Already exists" {
			t.Fatalf("shared layer fetched again: %v", got)
		}
	}
	if got := second.statuses(shortID(digest.FromBytes(top.gz))); got[0] != "Pulling fs layer" {
		t.Fatalf("new layer: %v", got)
	}
	if len(img2.DiffIDs) != 3 {
		t.Fatalf("layers: %v", img2.DiffIDs)
	}

	var again recorder
	if _, err := c.Pull(ctx, reg.Addr+"/test/one:v1", PullOptions{Progress: again.add}); err != nil {
		t.Fatal(err)
	}
	if !again.has("Image is up to date") {
		t.Fatalf("second pull: %+v", again.lines)
	}

	// By digest, and pushing to another repository gives the same manifest digest.
	if _, err := c.Pull(ctx, img.RepoDigests[0], PullOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(img2.ID.String(), reg.Addr+"/copy/two:v2"); err != nil {
		t.Fatal(err)
	}
	d, err := c.Push(ctx, reg.Addr+"/copy/two:v2", PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d != img2.Manifest {
		t.Fatalf("pushed manifest %s, stored %s", d, img2.Manifest)
	}
	other := newStore(t)
	img3, err := New(other, Options{}).Pull(ctx, reg.Addr+"/copy/two:v2", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img3.ID != img2.ID {
		t.Fatalf("round trip changed the image: %s != %s", img3.ID, img2.ID)
	}
}

func TestPullIndexPicksPlatform(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	amd := makeImage(t, "amd64", makeLayer(t, map[string][]byte{"arch": []byte("amd64")}))
	arm := makeImage(t, "arm64", makeLayer(t, map[string][]byte{"arch": []byte("arm64")}))
	arm.desc.Platform.Variant = "v8"
	upload(t, reg, "multi/app", amd.desc.Digest.String(), amd)
	upload(t, reg, "multi/app", arm.desc.Digest.String(), arm)
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{arm.desc, amd.desc}}
	idx.SchemaVersion = 2
	rawIdx, _ := json.Marshal(idx)
	putManifest(t, reg, "multi/app", "latest", ocispec.MediaTypeImageIndex, rawIdx)

	s := newStore(t)
	c := New(s, Options{})
	img, err := c.Pull(context.Background(), reg.Addr+"/multi/app", PullOptions{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Architecture != "arm64" || img.Manifest != arm.desc.Digest {
		t.Fatalf("got %s (%s)", img.Config.Architecture, img.Manifest)
	}
	if want := reg.Addr + "/multi/app@" + digest.FromBytes(rawIdx).String(); len(img.RepoDigests) == 0 || img.RepoDigests[0] != want {
		t.Fatalf("repo digest %v, want the index's %s", img.RepoDigests, want)
	}
	if _, err := c.Pull(context.Background(), reg.Addr+"/multi/app", PullOptions{Platform: "linux/s390x"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing platform: %v", err)
	}
}

// storeState is what must not change when a hostile pull is refused.
func storeState(t *testing.T, s *image.Store) string {
	t.Helper()
	imgs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	chains, _ := s.Snapshots().Chains()
	var blobs []string
	entries, _ := os.ReadDir(filepath.Join(s.Content().Root(), "blobs", "sha256"))
	for _, e := range entries {
		blobs = append(blobs, e.Name())
	}
	return fmt.Sprintf("images=%d chains=%v blobs=%v", len(imgs), chains, blobs)
}

func TestPullRefusesHostileImages(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	good := makeLayer(t, map[string][]byte{"ok": []byte("ok")})

	// The config lies about the uncompressed layer.
	lying := makeImage(t, "amd64", good)
	var cfg map[string]any
	_ = json.Unmarshal(lying.config, &cfg)
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": []string{digest.FromString("other").String()}}
	lying.config, _ = json.Marshal(cfg)
	var m ocispec.Manifest
	_ = json.Unmarshal(lying.manifest, &m)
	m.Config.Digest, m.Config.Size = digest.FromBytes(lying.config), int64(len(lying.config))
	lying.manifest, _ = json.Marshal(m)
	upload(t, reg, "bad/diffid", "latest", lying)

	// A layer that climbs out of the rootfs.
	upload(t, reg, "bad/escape", "latest", makeImage(t, "amd64", makeLayer(t, map[string][]byte{"../../escaped": []byte("x")})))

	// A manifest whose layer size is a lie.
	sized := makeImage(t, "amd64", good)
	_ = json.Unmarshal(sized.manifest, &m)
	m.Layers[0].Size = 3
	sized.manifest, _ = json.Marshal(m)
	upload(t, reg, "bad/size", "latest", sized)

	s := newStore(t)
	c := New(s, Options{})
	before := storeState(t, s)
	for _, repo := range []string{"bad/diffid", "bad/escape", "bad/size"} {
		_, err := c.Pull(context.Background(), reg.Addr+"/"+repo, PullOptions{})
		if err == nil {
			t.Fatalf("%s: pulled", repo)
		}
		if !strings.Contains(err.Error(), repo) {
			t.Fatalf("%s: error does not name the image: %v", repo, err)
		}
		if _, err := s.GC(); err != nil {
			t.Fatal(err)
		}
		if after := storeState(t, s); after != before {
			t.Fatalf("%s: store changed:\n%s\n%s", repo, before, after)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(s.Snapshots().Root())), "escaped")); err == nil {
		t.Fatal("a layer wrote outside the store")
	}
}

func TestPullResumesInterruptedDownload(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	big := makeLayer(t, map[string][]byte{"big": randomBytes(24 << 20)})
	upload(t, reg, "big/one", "latest", makeImage(t, "amd64", big))
	s := newStore(t)
	c := New(s, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	id := shortID(digest.FromBytes(big.gz))
	_, err := c.Pull(ctx, reg.Addr+"/big/one", PullOptions{Progress: func(p api.Progress) {
		if p.ID == id && p.Current > 4<<20 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the cancelled pull succeeded")
	}
	var partial int64
	ingests, _ := filepath.Glob(filepath.Join(s.Content().Root(), "ingest", "*", "data"))
	for _, p := range ingests {
		if fi, err := os.Stat(p); err == nil {
			partial += fi.Size()
		}
	}
	if partial < 4<<20 {
		t.Fatalf("the interrupted pull kept %d bytes", partial)
	}
	var firstSeen int64 = -1
	if _, err := c.Pull(context.Background(), reg.Addr+"/big/one", PullOptions{Progress: func(p api.Progress) {
		if p.ID == id && p.Status == "Downloading" && firstSeen < 0 {
			firstSeen = p.Current
		}
	}}); err != nil {
		t.Fatal(err)
	}
	if firstSeen >= 0 && firstSeen < partial { // -1: all of it had arrived, only the commit was left
		t.Fatalf("the second pull started at byte %d of the %d kept: it did not resume", firstSeen, partial)
	}
	if problems, err := s.Check(context.Background(), false); err != nil || len(problems) > 0 {
		t.Fatalf("check: %v %v", problems, err)
	}
}

func TestAuthAndTLS(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{Username: "alice", Password: "s3cret", TLS: true})
	certs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(certs, reg.Addr), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(reg.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, reg.Addr, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	src := newStore(t)
	c := New(src, Options{CertsDir: certs})
	ctx := context.Background()
	if _, err := src.Import(ctx, bytes.NewReader(tarOf(t, map[string][]byte{"f": []byte("x")})), reg.Addr+"/private/app:1", image.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	good := api.AuthConfig{Username: "alice", Password: "s3cret"}
	if err := c.Login(ctx, reg.Addr, api.AuthConfig{Username: "alice", Password: "wrong"}); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("bad password: %v", err)
	}
	if err := c.Login(ctx, reg.Addr, good); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(ctx, reg.Addr+"/private/app:1", PushOptions{}); !errors.Is(err, errdefs.ErrUnauthorized) || !strings.Contains(err.Error(), "drover login") {
		t.Fatalf("anonymous push: %v", err)
	}
	if _, err := c.Push(ctx, reg.Addr+"/private/app:1", PushOptions{Auth: good}); err != nil {
		t.Fatal(err)
	}
	dst := newStore(t)
	if _, err := New(dst, Options{CertsDir: certs}).Pull(ctx, reg.Addr+"/private/app:1", PullOptions{}); !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("anonymous pull: %v", err)
	}
	if _, err := New(dst, Options{CertsDir: certs}).Pull(ctx, reg.Addr+"/private/app:1", PullOptions{Auth: good}); err != nil {
		t.Fatal(err)
	}
	// A CA that did not sign the registry's certificate is refused, loopback or not.
	wrong := t.TempDir()
	_ = os.MkdirAll(filepath.Join(wrong, reg.Addr), 0o755)
	other := testutil.StartRegistry(t, testutil.RegistryOptions{TLS: true})
	otherCA, _ := os.ReadFile(other.CAFile)
	_ = os.WriteFile(filepath.Join(wrong, reg.Addr, "ca.crt"), otherCA, 0o644)
	if _, err := New(newStore(t), Options{CertsDir: wrong}).Pull(ctx, reg.Addr+"/private/app:1", PullOptions{Auth: good}); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("wrong CA: %v", err)
	}
}

func tarOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(data)
	}
	tw.Close()
	return buf.Bytes()
}

func TestInsecure(t *testing.T) {
	c := New(nil, Options{Insecure: []string{"reg.example:5000", "10.0.0.0/8"}})
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:5000": true, "[::1]:5000": true, "reg.example:5000": true,
		"10.1.2.3:5000": true, "reg.example": false, "docker.io": false, "192.168.1.1:5000": false,
	} {
		if got := c.insecure(host); got != want {
			t.Errorf("insecure(%s) = %v, want %v", host, got, want)
		}
	}
}

// TestPullThroughMirror pulls an image named for one registry from the mirror configured
// for it; the image keeps its own name. A registry with no mirror is asked directly.
func TestPullThroughMirror(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	img := makeImage(t, runtime.GOARCH, makeLayer(t, map[string][]byte{"hello": []byte("mirrored")}))
	upload(t, reg, "team/app", "1", img)

	s := newStore(t)
	c := New(s, Options{Mirrors: []string{"mirror.invalid:1", "registry.example=" + reg.Addr}})
	got, err := c.Pull(context.Background(), "registry.example/team/app:1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Manifest != img.desc.Digest {
		t.Fatalf("pulled %s, want %s", got.Manifest, img.desc.Digest)
	}
	if _, err := s.Get("registry.example/team/app:1"); err != nil {
		t.Fatalf("the image lost its name: %v", err)
	}
	if m := c.mirrors("docker.io"); len(m) != 1 || m[0] != "mirror.invalid:1" {
		t.Fatalf("docker.io mirrors: %v", m)
	}
	if m := c.mirrors("quay.io"); len(m) != 0 {
		t.Fatalf("quay.io has no mirror: %v", m)
	}
}

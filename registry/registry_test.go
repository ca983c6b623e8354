package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/crypto/bcrypt"

	"github.com/drover/drover/image/content"
)

type testServer struct {
	t    *testing.T
	reg  *Registry
	srv  *httptest.Server
	root string
	user string
	pass string
}

func newTestServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	root := t.TempDir()
	reg, err := Open(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	return &testServer{t: t, reg: reg, srv: srv, root: root}
}

func (s *testServer) do(method, path string, body []byte, hdr ...string) *http.Response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp
}

// expect checks the status and, for errors, the spec's error code; it returns the body.
func (s *testServer) expect(resp *http.Response, status int, code string) []byte {
	s.t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		s.t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
	if code != "" {
		var e struct{ Errors []apiError }
		if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 || e.Errors[0].Code != code {
			s.t.Fatalf("%s %s: body %s, want error code %s", resp.Request.Method, resp.Request.URL.Path, body, code)
		}
	}
	if got := resp.Header.Get("Docker-Distribution-API-Version"); got != "registry/2.0" {
		s.t.Fatalf("Docker-Distribution-API-Version %q", got)
	}
	return body
}

func (s *testServer) pushBlob(name string, data []byte) digest.Digest {
	s.t.Helper()
	d := digest.FromBytes(data)
	s.expect(s.do("POST", "/v2/"+name+"/blobs/uploads/?digest="+d.String(), data), http.StatusCreated, "")
	return d
}

func (s *testServer) pushImage(name, tag string, layer []byte) (digest.Digest, []byte) {
	s.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: s.pushBlob(name, cfg), Size: int64(len(cfg))},
		Layers:    []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: s.pushBlob(name, layer), Size: int64(len(layer))}},
	}
	m.SchemaVersion = 2
	body, _ := json.Marshal(m)
	resp := s.do("PUT", "/v2/"+name+"/manifests/"+tag, body, "Content-Type", ocispec.MediaTypeImageManifest)
	d := digest.FromBytes(body)
	if got := resp.Header.Get("Docker-Content-Digest"); got != d.String() {
		s.t.Fatalf("manifest digest header %q, want %s", got, d)
	}
	s.expect(resp, http.StatusCreated, "")
	return d, body
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "library/busybox": true, "a.b/c_d/e__f/g-h/i---j": true, "0/1": true,
		"": false, "A": false, "a/": false, "/a": false, "a//b": false, "a/../b": false, "..": false,
		"a/./b": false, ".a": false, "a.": false, "a..b": false, "a___b": false, "a_-b": false,
		strings.Repeat("a", 256): false, "a b": false, "a\x00b": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
	for tag, want := range map[string]bool{
		"latest": true, "v1.2.3-rc_1": true, "_x": true, strings.Repeat("a", 128): true,
		"": false, ".x": false, "-x": false, "a/b": false, "a:b": false, strings.Repeat("a", 129): false,
	} {
		if got := validTag(tag); got != want {
			t.Errorf("validTag(%q) = %v, want %v", tag, got, want)
		}
	}
}

func TestParseRoute(t *testing.T) {
	for _, c := range []struct {
		path string
		want route
		ok   bool
	}{
		{"/v2/", route{kind: routeBase}, true},
		{"/v2/_catalog", route{kind: routeCatalog}, true},
		{"/v2/a/b/tags/list", route{kind: routeTags, name: "a/b"}, true},
		{"/v2/a/manifests/latest", route{kind: routeManifest, name: "a", ref: "latest"}, true},
		{"/v2/blobs/manifests/blobs/x", route{kind: routeBlob, name: "blobs/manifests", ref: "x"}, true},
		{"/v2/a/blobs/uploads/", route{kind: routeUploadStart, name: "a"}, true},
		{"/v2/a/blobs/uploads/abc", route{kind: routeUpload, name: "a", ref: "abc"}, true},
		{"/v2/a/referrers/sha256:x", route{kind: routeReferrers, name: "a", ref: "sha256:x"}, true},
		{"/v2/../etc/manifests/x", route{kind: routeManifest, name: "../etc"}, false},
		{"/v2/a%2F..%2Fb/manifests/x", route{}, false},
		{"/v2/a/other/x", route{}, false},
		{"/v3/a/manifests/x", route{}, false},
	} {
		got, ok := parseRoute(c.path)
		if ok != c.ok || got != c.want {
			t.Errorf("parseRoute(%q) = %+v %v, want %+v %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

func TestPushPull(t *testing.T) {
	s := newTestServer(t, Options{})
	s.expect(s.do("GET", "/v2/", nil), http.StatusOK, "")
	layer := bytes.Repeat([]byte("layer"), 1000)
	md, mbody := s.pushImage("team/app", "v1", layer)

	resp := s.do("GET", "/v2/team/app/manifests/v1", nil, "Accept", ocispec.MediaTypeImageManifest)
	if ct := resp.Header.Get("Content-Type"); ct != ocispec.MediaTypeImageManifest {
		t.Fatalf("manifest Content-Type %q", ct)
	}
	if got := s.expect(resp, http.StatusOK, ""); !bytes.Equal(got, mbody) {
		t.Fatalf("manifest by tag differs")
	}
	s.expect(s.do("HEAD", "/v2/team/app/manifests/"+md.String(), nil), http.StatusOK, "")
	ld := digest.FromBytes(layer)
	resp = s.do("GET", "/v2/team/app/blobs/"+ld.String(), nil, "Range", "bytes=5-9")
	if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 5-9/%d", len(layer)) {
		t.Fatalf("Content-Range %q", cr)
	}
	if got := s.expect(resp, http.StatusPartialContent, ""); string(got) != "layer" {
		t.Fatalf("range body %q", got)
	}
	// Another repository does not see the blob until it is mounted.
	s.expect(s.do("HEAD", "/v2/other/blobs/"+ld.String(), nil), http.StatusNotFound, "")
	resp = s.do("POST", "/v2/other/blobs/uploads/?mount="+ld.String()+"&from=team/app", nil)
	if loc := resp.Header.Get("Location"); loc != "/v2/other/blobs/"+ld.String() {
		t.Fatalf("mount Location %q", loc)
	}
	s.expect(resp, http.StatusCreated, "")
	s.expect(s.do("HEAD", "/v2/other/blobs/"+ld.String(), nil), http.StatusOK, "")

	s.expect(s.do("GET", "/v2/team/app/manifests/nope", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	s.expect(s.do("GET", "/v2/team/app/blobs/sha256:123", nil), http.StatusBadRequest, "DIGEST_INVALID")
	s.expect(s.do("GET", "/v2/Team/manifests/v1", nil), http.StatusBadRequest, "NAME_INVALID")
	s.expect(s.do("GET", "/v2/nothing/tags/list", nil), http.StatusNotFound, "NAME_UNKNOWN")

	// Deleting the manifest drops its tag; deleting the blob unlinks it.
	s.expect(s.do("DELETE", "/v2/team/app/manifests/"+md.String(), nil), http.StatusAccepted, "")
	s.expect(s.do("GET", "/v2/team/app/manifests/v1", nil), http.StatusNotFound, "MANIFEST_UNKNOWN")
	s.expect(s.do("DELETE", "/v2/team/app/blobs/"+ld.String(), nil), http.StatusAccepted, "")
	s.expect(s.do("GET", "/v2/team/app/blobs/"+ld.String(), nil), http.StatusNotFound, "BLOB_UNKNOWN")
}

func TestChunkedUpload(t *testing.T) {
	s := newTestServer(t, Options{})
	data := []byte("0123456789abcdefghij")
	resp := s.do("POST", "/v2/r/blobs/uploads/", nil)
	loc := resp.Header.Get("Location")
	s.expect(resp, http.StatusAccepted, "")
	s.expect(s.do("PATCH", loc, data[:10], "Content-Range", "0-9"), http.StatusAccepted, "")
	// Out of order: refused, the upload keeps its 10 bytes.
	resp = s.do("PATCH", loc, data[15:], "Content-Range", "15-19")
	if rg := resp.Header.Get("Range"); rg != "0-9" {
		t.Fatalf("Range after an out-of-order chunk: %q", rg)
	}
	s.expect(resp, http.StatusRequestedRangeNotSatisfiable, "")
	resp = s.do("GET", loc, nil)
	if rg := resp.Header.Get("Range"); rg != "0-9" {
		t.Fatalf("upload status Range %q", rg)
	}
	s.expect(resp, http.StatusNoContent, "")
	// A wrong digest at the end: 400 and nothing stored.
	wrong := digest.FromString("other")
	s.expect(s.do("PUT", loc+"?digest="+wrong.String(), data[10:], "Content-Range", "10-19"), http.StatusBadRequest, "DIGEST_INVALID")
	s.expect(s.do("GET", loc, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	if s.reg.store.Has(wrong) || s.reg.store.Has(digest.FromBytes(data)) {
		t.Fatal("a failed upload left a blob")
	}
	// Streamed PATCH, then PUT.
	resp = s.do("POST", "/v2/r/blobs/uploads/", nil)
	loc = resp.Header.Get("Location")
	s.expect(resp, http.StatusAccepted, "")
	s.expect(s.do("PATCH", loc, data), http.StatusAccepted, "")
	d := digest.FromBytes(data)
	s.expect(s.do("PUT", loc+"?digest="+d.String(), nil), http.StatusCreated, "")
	if got := s.expect(s.do("GET", "/v2/r/blobs/"+d.String(), nil), http.StatusOK, ""); !bytes.Equal(got, data) {
		t.Fatalf("blob %q", got)
	}
	// Cancel.
	resp = s.do("POST", "/v2/r/blobs/uploads/", nil)
	loc = resp.Header.Get("Location")
	s.expect(resp, http.StatusAccepted, "")
	s.expect(s.do("DELETE", loc, nil), http.StatusNoContent, "")
	s.expect(s.do("PATCH", loc, data), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	// An upload of one repository is not reachable through another's name.
	resp = s.do("POST", "/v2/r/blobs/uploads/", nil)
	loc = resp.Header.Get("Location")
	s.expect(resp, http.StatusAccepted, "")
	s.expect(s.do("PATCH", strings.Replace(loc, "/v2/r/", "/v2/x/", 1), data), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
}

func TestManifestChecks(t *testing.T) {
	s := newTestServer(t, Options{})
	missing := digest.FromString("missing")
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":7},"layers":[]}`,
		ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig, missing)
	s.expect(s.do("PUT", "/v2/r/manifests/t", []byte(m), "Content-Type", ocispec.MediaTypeImageManifest), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	s.expect(s.do("PUT", "/v2/r/manifests/t", []byte("{not json"), "Content-Type", ocispec.MediaTypeImageManifest), http.StatusBadRequest, "MANIFEST_INVALID")
	s.expect(s.do("PUT", "/v2/r/manifests/"+missing.String(), []byte(m), "Content-Type", ocispec.MediaTypeImageManifest), http.StatusBadRequest, "DIGEST_INVALID")
	s.expect(s.do("PUT", "/v2/r/manifests/bad:tag:x", []byte(m)), http.StatusBadRequest, "DIGEST_INVALID")
	huge := bytes.Repeat([]byte(" "), MaxManifestSize+1)
	s.expect(s.do("PUT", "/v2/r/manifests/t", huge, "Content-Type", ocispec.MediaTypeImageManifest), http.StatusRequestEntityTooLarge, "SIZE_INVALID")
	s.expect(s.do("PUT", "/v2/r/manifests/t", []byte(`{"schemaVersion":2,"config":{}}`), "Content-Type", "text/plain"), http.StatusBadRequest, "MANIFEST_INVALID")
	if _, _, ok := s.reg.meta.tags("r", "", -1); ok {
		t.Fatal("refused manifests created the repository")
	}
}

func TestTagsCatalogReferrers(t *testing.T) {
	s := newTestServer(t, Options{})
	var subject digest.Digest
	for _, tag := range []string{"c", "a", "b"} {
		subject, _ = s.pushImage("r", tag, []byte("layer"))
	}
	s.pushImage("q", "x", []byte("layer"))
	resp := s.do("GET", "/v2/r/tags/list?n=2", nil)
	if link := resp.Header.Get("Link"); !strings.Contains(link, "last=b") || !strings.Contains(link, `rel="next"`) {
		t.Fatalf("Link %q", link)
	}
	if body := s.expect(resp, http.StatusOK, ""); string(body) != `{"name":"r","tags":["a","b"]}` {
		t.Fatalf("tags page 1: %s", body)
	}
	if body := s.expect(s.do("GET", "/v2/r/tags/list?n=2&last=b", nil), http.StatusOK, ""); string(body) != `{"name":"r","tags":["c"]}` {
		t.Fatalf("tags page 2: %s", body)
	}
	if body := s.expect(s.do("GET", "/v2/_catalog?n=1", nil), http.StatusOK, ""); string(body) != `{"repositories":["q"]}` {
		t.Fatalf("catalog: %s", body)
	}
	// A signature-like artifact whose subject is the image.
	cfg := []byte("{}")
	art := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/example.sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":1}}`,
		ocispec.MediaTypeImageManifest, s.pushBlob("r", cfg), ocispec.MediaTypeImageManifest, subject)
	resp = s.do("PUT", "/v2/r/manifests/sig", []byte(art), "Content-Type", ocispec.MediaTypeImageManifest)
	if got := resp.Header.Get("OCI-Subject"); got != subject.String() {
		t.Fatalf("OCI-Subject %q", got)
	}
	s.expect(resp, http.StatusCreated, "")
	var idx ocispec.Index
	body := s.expect(s.do("GET", "/v2/r/referrers/"+subject.String(), nil), http.StatusOK, "")
	if json.Unmarshal(body, &idx) != nil || len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != "application/example.sig" {
		t.Fatalf("referrers: %s", body)
	}
	resp = s.do("GET", "/v2/r/referrers/"+subject.String()+"?artifactType=application/other", nil)
	if resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatal("OCI-Filters-Applied missing")
	}
	if body := s.expect(resp, http.StatusOK, ""); !strings.Contains(string(body), `"manifests":[]`) {
		t.Fatalf("filtered referrers: %s", body)
	}
}

func writeHtpasswd(t *testing.T, users ...string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(users); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(users[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", users[i], h)
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuth(t *testing.T) {
	a, err := LoadHtpasswd(writeHtpasswd(t, "alice", "pw-a", "bob", "pw-b"))
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "access")
	os.WriteFile(rules, []byte("alice * push\nbob public/* pull\nanonymous public/* pull\n"), 0o600)
	if err := a.LoadRules(rules); err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, Options{Auth: a})
	s.user, s.pass = "alice", "pw-a"
	s.pushImage("private/app", "v1", []byte("secret"))
	s.pushImage("public/app", "v1", []byte("open"))

	// Anonymous: the same 401 and challenge for a private repository that exists and one
	// that does not.
	s.user = ""
	for _, path := range []string{"/v2/private/app/manifests/v1", "/v2/private/none/manifests/v1", "/v2/"} {
		resp := s.do("GET", path, nil)
		if ch := resp.Header.Get("WWW-Authenticate"); ch != `Basic realm="drover"` {
			t.Fatalf("%s: challenge %q", path, ch)
		}
		s.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")
	}
	s.expect(s.do("GET", "/v2/public/app/manifests/v1", nil), http.StatusOK, "")
	s.expect(s.do("POST", "/v2/public/app/blobs/uploads/", nil), http.StatusUnauthorized, "UNAUTHORIZED")
	// Bob reads public only, writes nothing; private answers the same whether it exists.
	s.user, s.pass = "bob", "pw-b"
	s.expect(s.do("GET", "/v2/public/app/manifests/v1", nil), http.StatusOK, "")
	s.expect(s.do("GET", "/v2/private/app/manifests/v1", nil), http.StatusForbidden, "DENIED")
	s.expect(s.do("GET", "/v2/private/none/manifests/v1", nil), http.StatusForbidden, "DENIED")
	s.expect(s.do("POST", "/v2/public/app/blobs/uploads/", nil), http.StatusForbidden, "DENIED")
	if body := s.expect(s.do("GET", "/v2/_catalog", nil), http.StatusOK, ""); string(body) != `{"repositories":["public/app"]}` {
		t.Fatalf("bob's catalog: %s", body)
	}
	// A mount from a repository bob cannot read becomes an ordinary upload.
	s.user, s.pass = "bob", "wrong"
	s.expect(s.do("GET", "/v2/public/app/manifests/v1", nil), http.StatusUnauthorized, "UNAUTHORIZED")
}

func TestGC(t *testing.T) {
	s := newTestServer(t, Options{})
	md, _ := s.pushImage("r", "v1", []byte("kept"))
	orphan := s.pushBlob("r", []byte("orphan"))
	// Young blobs stay: their manifest may still come.
	if res, err := s.reg.GC(time.Hour); err != nil || res.Blobs != 0 {
		t.Fatalf("gc with grace: %+v %v", res, err)
	}
	res, err := s.reg.GC(-time.Second)
	if err != nil || res.Blobs != 1 {
		t.Fatalf("gc: %+v %v", res, err)
	}
	if s.reg.store.Has(orphan) || s.reg.meta.blobLinked("r", orphan) {
		t.Fatal("the orphan blob survived")
	}
	s.expect(s.do("GET", "/v2/r/manifests/v1", nil), http.StatusOK, "")
	s.expect(s.do("GET", "/v2/r/blobs/"+digest.FromBytes([]byte("kept")).String(), nil), http.StatusOK, "")
	// Without its manifest, the image's blobs go too.
	s.expect(s.do("DELETE", "/v2/r/manifests/"+md.String(), nil), http.StatusAccepted, "")
	if res, err := s.reg.GC(-time.Second); err != nil || res.Blobs != 3 {
		t.Fatalf("gc after delete: %+v %v", res, err)
	}
}

// TestRestartDropsUploads: uploads of a previous run are discarded at start, and nothing
// of them is ever visible.
func TestRestartDropsUploads(t *testing.T) {
	root := t.TempDir()
	reg, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	s := &testServer{t: t, reg: reg, srv: srv, root: root}
	resp := s.do("POST", "/v2/r/blobs/uploads/", nil)
	loc := resp.Header.Get("Location")
	s.expect(resp, http.StatusAccepted, "")
	s.expect(s.do("PATCH", loc, []byte("partial")), http.StatusAccepted, "")
	srv.Close()
	reg.meta.close() // as a crash would: the upload is not aborted
	reg2, err := Open(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg2.Close()
	s2 := &testServer{t: t, reg: reg2, srv: httptest.NewServer(reg2), root: root}
	defer s2.srv.Close()
	s2.expect(s2.do("PATCH", loc, []byte("more")), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	if entries, _ := os.ReadDir(filepath.Join(root, "content", "ingest")); len(entries) != 0 {
		t.Fatalf("stale ingests: %d", len(entries))
	}
}

func TestMaxBlobSize(t *testing.T) {
	s := newTestServer(t, Options{MaxBlobSize: 10})
	data := []byte("more than ten bytes")
	s.expect(s.do("POST", "/v2/r/blobs/uploads/?digest="+digest.FromBytes(data).String(), data), http.StatusRequestEntityTooLarge, "SIZE_INVALID")
	resp := s.do("POST", "/v2/r/blobs/uploads/", nil)
	loc := resp.Header.Get("Location")
	s.expect(resp, http.StatusAccepted, "")
	s.expect(s.do("PATCH", loc, data), http.StatusRequestEntityTooLarge, "SIZE_INVALID")
	if s.reg.store.Has(digest.FromBytes(data)) {
		t.Fatal("an oversized blob was stored")
	}
}

// TestSource: images of another store (the daemon's) are served read-only beside pushed
// ones: manifests by tag and digest, their blobs in their repository only, merged tags
// and catalog.
func TestSource(t *testing.T) {
	store, err := content.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) digest.Digest {
		desc, err := store.WriteBlob(bytes.NewReader(b), "", -1)
		if err != nil {
			t.Fatal(err)
		}
		return desc.Digest
	}
	cfg, layer := []byte(`{"os":"linux"}`), []byte("daemon layer")
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig, put(cfg), len(cfg), ocispec.MediaTypeImageLayer, put(layer), len(layer))
	md := put([]byte(m))
	src := &Source{Tags: func() (map[string]map[string]digest.Digest, error) {
		return map[string]map[string]digest.Digest{"library/busybox": {"latest": md}}, nil
	}, Blobs: store}
	s := newTestServer(t, Options{Source: src})
	s.pushImage("library/busybox", "pushed", []byte("pushed layer"))
	if body := s.expect(s.do("GET", "/v2/library/busybox/manifests/latest", nil), http.StatusOK, ""); string(body) != m {
		t.Fatalf("source manifest: %s", body)
	}
	s.expect(s.do("HEAD", "/v2/library/busybox/manifests/"+md.String(), nil), http.StatusOK, "")
	if body := s.expect(s.do("GET", "/v2/library/busybox/blobs/"+digest.FromBytes(layer).String(), nil), http.StatusOK, ""); string(body) != string(layer) {
		t.Fatalf("source blob: %q", body)
	}
	s.expect(s.do("GET", "/v2/other/blobs/"+digest.FromBytes(layer).String(), nil), http.StatusNotFound, "BLOB_UNKNOWN")
	if body := s.expect(s.do("GET", "/v2/library/busybox/tags/list", nil), http.StatusOK, ""); string(body) != `{"name":"library/busybox","tags":["latest","pushed"]}` {
		t.Fatalf("merged tags: %s", body)
	}
	if body := s.expect(s.do("GET", "/v2/library/busybox/tags/list?n=1", nil), http.StatusOK, ""); string(body) != `{"name":"library/busybox","tags":["latest"]}` {
		t.Fatalf("merged tags page: %s", body)
	}
	if body := s.expect(s.do("GET", "/v2/_catalog", nil), http.StatusOK, ""); string(body) != `{"repositories":["library/busybox"]}` {
		t.Fatalf("catalog: %s", body)
	}
}

// TestTokenFlow: the Docker token flow: a Bearer challenge with the scope, a token from
// /token for what the user may do, and requests with it.
func TestTokenFlow(t *testing.T) {
	a, err := LoadHtpasswd(writeHtpasswd(t, "alice", "pw-a", "bob", "pw-b"))
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "access")
	os.WriteFile(rules, []byte("alice * push\nbob team/* pull\n"), 0o600)
	if err := a.LoadRules(rules); err != nil {
		t.Fatal(err)
	}
	a.EnableTokens()
	s := newTestServer(t, Options{Auth: a})
	token := func(user, pass, scope string) string {
		t.Helper()
		s.user, s.pass = user, pass
		body := s.expect(s.do("GET", "/token?service="+tokenService+"&scope="+scope, nil), http.StatusOK, "")
		s.user = ""
		var tr struct{ Token string }
		if json.Unmarshal(body, &tr) != nil || tr.Token == "" {
			t.Fatalf("token answer: %s", body)
		}
		return tr.Token
	}
	resp := s.do("GET", "/v2/team/app/manifests/v1", nil)
	want := fmt.Sprintf(`Bearer realm="%s/token",service="%s",scope="repository:team/app:pull",error="insufficient_scope"`, s.srv.URL, tokenService)
	if ch := resp.Header.Get("WWW-Authenticate"); ch != want {
		t.Fatalf("challenge %q, want %q", ch, want)
	}
	s.expect(resp, http.StatusUnauthorized, "UNAUTHORIZED")

	push := token("alice", "pw-a", "repository:team/app:pull,push")
	s.expect(s.do("POST", "/v2/team/app/blobs/uploads/", nil, "Authorization", "Bearer "+push), http.StatusAccepted, "")
	pull := token("bob", "pw-b", "repository:team/app:pull,push")
	s.expect(s.do("GET", "/v2/team/app/tags/list", nil, "Authorization", "Bearer "+pull), http.StatusNotFound, "NAME_UNKNOWN")
	s.expect(s.do("POST", "/v2/team/app/blobs/uploads/", nil, "Authorization", "Bearer "+pull), http.StatusUnauthorized, "UNAUTHORIZED")
	s.expect(s.do("GET", "/v2/other/tags/list", nil, "Authorization", "Bearer "+pull), http.StatusUnauthorized, "UNAUTHORIZED")
	s.expect(s.do("GET", "/v2/team/app/tags/list", nil, "Authorization", "Bearer "+pull+"x"), http.StatusUnauthorized, "UNAUTHORIZED")
	s.user, s.pass = "bob", "wrong"
	s.expect(s.do("GET", "/token?scope=repository:team/app:pull", nil), http.StatusUnauthorized, "UNAUTHORIZED")
}

// TestGCDuringPushes runs GC without a grace period in a loop while images are pushed:
// a push may fail (its blobs collected before its manifest came), but no manifest is
// ever recorded whose blobs are gone.
func TestGCDuringPushes(t *testing.T) {
	s := newTestServer(t, Options{})
	stop := make(chan struct{})
	gcDone := make(chan error)
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			if _, err := s.reg.GC(0); err != nil {
				gcDone <- err
				return
			}
		}
	}()
	for i := 0; i < 40; i++ {
		cfg, layer := []byte(fmt.Sprintf(`{"n":%d}`, i)), []byte(fmt.Sprintf("layer %d", i))
		var ds []digest.Digest
		for _, b := range [][]byte{cfg, layer} {
			d := digest.FromBytes(b)
			resp := s.do("POST", "/v2/r/blobs/uploads/?digest="+d.String(), b)
			resp.Body.Close()
			ds = append(ds, d)
		}
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
			ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageConfig, ds[0], len(cfg), ocispec.MediaTypeImageLayer, ds[1], len(layer))
		resp := s.do("PUT", fmt.Sprintf("/v2/r/manifests/t%d", i), []byte(m), "Content-Type", ocispec.MediaTypeImageManifest)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("manifest push: %d", resp.StatusCode)
		}
	}
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatal(err)
	}
	live, err := s.reg.meta.live(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for d := range live {
		if !s.reg.store.Has(d) {
			t.Fatalf("a recorded manifest needs %s, which GC removed", d)
		}
	}
}

// TestMaxUploads: uploads in progress are bounded (each holds a file open).
func TestMaxUploads(t *testing.T) {
	s := newTestServer(t, Options{MaxUploads: 2})
	var locs []string
	for i := 0; i < 2; i++ {
		resp := s.do("POST", "/v2/r/blobs/uploads/", nil)
		locs = append(locs, resp.Header.Get("Location"))
		s.expect(resp, http.StatusAccepted, "")
	}
	s.expect(s.do("POST", "/v2/r/blobs/uploads/", nil), http.StatusTooManyRequests, "TOOMANYREQUESTS")
	s.expect(s.do("DELETE", locs[0], nil), http.StatusNoContent, "")
	s.expect(s.do("POST", "/v2/r/blobs/uploads/", nil), http.StatusAccepted, "")
}

package registry

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseRoute: any path parses without panic, and a route it accepts names a valid
// repository.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/a/b/manifests/latest", "/v2/a/blobs/uploads/x", "/v2/../x/tags/list", "/v2/a/referrers/sha256:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r, ok := parseRoute(path)
		if ok && r.kind != routeBase && r.kind != routeCatalog && !validName(r.name) {
			t.Fatalf("accepted %q with name %q", path, r.name)
		}
		if ok && strings.Contains(r.name, "..") {
			t.Fatalf("name %q walks out", r.name)
		}
	})
}

// FuzzHandler sends arbitrary requests: the server never panics, never answers 500, and
// writes nothing outside its root.
func FuzzHandler(f *testing.F) {
	f.Add("PUT", "/v2/a/manifests/t", "application/vnd.oci.image.manifest.v1+json", "", []byte(`{"schemaVersion":2,"config":{"digest":"sha256:x"}}`))
	f.Add("PATCH", "/v2/a/blobs/uploads/x", "", "0-3", []byte("abcd"))
	f.Add("POST", "/v2/a/blobs/uploads/?digest=sha256:0", "", "", []byte("x"))
	f.Add("GET", "/v2/a/tags/list?n=-1&last=%00", "", "", []byte(nil))
	f.Add("PUT", "/v2/a/manifests/t", "application/vnd.oci.image.index.v1+json", "", []byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:../../x"}],"subject":{"digest":"x"}}`))
	root := f.TempDir()
	reg, err := Open(filepath.Join(root, "reg"), Options{MaxBlobSize: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { reg.Close() })
	f.Fuzz(func(t *testing.T, method, target, contentType, contentRange string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
		req.Method, req.URL, req.RequestURI = method, u, target
		req.ContentLength = int64(len(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if contentRange != "" {
			req.Header.Set("Content-Range", contentRange)
		}
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
		entries, _ := os.ReadDir(root)
		if len(entries) != 1 {
			t.Fatalf("files outside the registry root: %v", entries)
		}
	})
}

// FuzzParseToken: a bearer token is untrusted input: parsing never panics, and nothing
// but a token the registry signed is accepted.
func FuzzParseToken(f *testing.F) {
	a := &Auth{}
	a.EnableTokens()
	good := a.sign(tokenClaims{Audience: tokenService, ExpiresAt: 1 << 40})
	f.Add(good[:len(good)-2])
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJhdWQiOiJkcm92ZXItcmVnaXN0cnkifQ.")
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == good {
			return
		}
		if _, err := a.parseToken(tok); err == nil {
			t.Fatalf("accepted a token the registry did not sign: %q", tok)
		}
	})
}

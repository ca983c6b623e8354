package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/testutil"
)

// TestRegistryBehaviourMatchesDockerRegistry sends the same requests, good and bad, to
// drover's registry and to Debian's docker-registry and compares the answers (status,
// the spec's error code, digest headers). Where the two differ on purpose they are not
// compared: drover answers invalid names with 400 NAME_INVALID (docker-registry: 404
// without a body), refuses POST ?digest= with an invalid digest (docker-registry opens
// an upload), and calls an unknown upload BLOB_UPLOAD_UNKNOWN as the spec does.
func TestRegistryBehaviourMatchesDockerRegistry(t *testing.T) {
	ours := startDroverRegistry(t)
	theirs := testutil.StartRegistry(t, testutil.RegistryOptions{})
	run := func(base string) []string {
		var log []string
		var loc string
		do := func(method, path string, body []byte, hdr ...string) *http.Response {
			req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct{ Errors []struct{ Code string } }
			code := ""
			if json.Unmarshal(data, &e) == nil && len(e.Errors) > 0 {
				code = e.Errors[0].Code
			}
			line := fmt.Sprintf("%s %s -> %d %s digest=%s", method, uploadID.ReplaceAllString(path, "/uploads/ID"), resp.StatusCode, code, resp.Header.Get("Docker-Content-Digest"))
			if resp.StatusCode < 300 && !strings.Contains(path, "/tags/") { // docker-registry ends JSON with a newline
				line += " len=" + resp.Header.Get("Content-Length") + " range=" + resp.Header.Get("Content-Range")
			}
			log = append(log, line)
			if l := resp.Header.Get("Location"); l != "" {
				u, _ := resp.Request.URL.Parse(l)
				loc = u.RequestURI()
			}
			return resp
		}
		data := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
		d := digest.FromBytes(data)
		do("GET", "/v2/", nil)
		do("GET", "/v2/nothing/manifests/latest", nil)
		do("GET", "/v2/nothing/blobs/"+d.String(), nil)
		do("GET", "/v2/x/blobs/sha256:bad", nil)
		do("GET", "/v2/nothing/tags/list", nil)
		do("PUT", "/v2/x/manifests/latest", []byte("{"), "Content-Type", ocispec.MediaTypeImageManifest)
		// Chunks: in order, then out of order (416), then a wrong digest (400).
		do("POST", "/v2/x/blobs/uploads/", nil)
		do("PATCH", loc, data[:10], "Content-Range", "0-9", "Content-Type", "application/octet-stream")
		do("PATCH", loc, data[20:30], "Content-Range", "20-29", "Content-Type", "application/octet-stream")
		do("PUT", withDigest(loc, digest.FromString("wrong")), data[10:], "Content-Range", "10-35", "Content-Type", "application/octet-stream")
		// A whole blob, then HEAD and a range.
		put := func(b []byte) {
			do("POST", "/v2/x/blobs/uploads/", nil)
			do("PUT", withDigest(loc, digest.FromBytes(b)), b, "Content-Type", "application/octet-stream")
		}
		put(data)
		do("HEAD", "/v2/x/blobs/"+d.String(), nil)
		do("GET", "/v2/x/blobs/"+d.String(), nil, "Range", "bytes=2-4")
		// A manifest: refused while its config is missing, then pushed, read, deleted.
		cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
			Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(data))}}}
		m.SchemaVersion = 2
		mb, _ := json.Marshal(m)
		do("PUT", "/v2/x/manifests/v1", mb, "Content-Type", ocispec.MediaTypeImageManifest)
		put(cfg)
		do("PUT", "/v2/x/manifests/v1", mb, "Content-Type", ocispec.MediaTypeImageManifest)
		do("GET", "/v2/x/manifests/v1", nil, "Accept", ocispec.MediaTypeImageManifest)
		do("HEAD", "/v2/x/manifests/"+digest.FromBytes(mb).String(), nil, "Accept", ocispec.MediaTypeImageManifest)
		do("GET", "/v2/x/tags/list", nil)
		do("DELETE", "/v2/x/manifests/"+digest.FromBytes(mb).String(), nil)
		do("GET", "/v2/x/manifests/v1", nil, "Accept", ocispec.MediaTypeImageManifest)
		return log
	}
	a, b := run("http://"+ours.Addr), run(theirs.URL())
	// docker-registry 2.8 takes an out-of-order chunk (202); the spec, and drover, refuse
	// it with 416 and keep the upload as it was.
	if !strings.Contains(a[8], "-> 416") {
		t.Errorf("out-of-order chunk: %s", a[8])
	}
	for i := range a {
		if i == 8 {
			continue
		}
		if a[i] != b[i] {
			t.Errorf("request %d differs:\n  drover:          %s\n  docker-registry: %s", i+1, a[i], b[i])
		}
	}
}

var uploadID = regexp.MustCompile(`/uploads/[^?]+.*`)

// withDigest adds the digest parameter to an upload location.
func withDigest(loc string, d digest.Digest) string {
	if strings.Contains(loc, "?") {
		return loc + "&digest=" + d.String()
	}
	return loc + "?digest=" + d.String()
}

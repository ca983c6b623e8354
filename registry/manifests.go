package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/internal/errdefs"
)

const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// manifestDoc is the part of an image manifest or index the registry reads.
type manifestDoc struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerManifestList
}

func isManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == mediaTypeDockerManifest
}

// nonDistributable layers are not pushed to registries (their bytes come from elsewhere).
func nonDistributable(mt string) bool {
	return strings.Contains(mt, "nondistributable") || strings.Contains(mt, "foreign")
}

// parseManifest checks a pushed manifest and returns its record.
func (r *Registry) parseManifest(name string, body []byte, contentType string) (manifestRecord, error) {
	var doc manifestDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return manifestRecord{}, errManifestInvalid(fmt.Sprintf("manifest is not JSON: %v", err))
	}
	if doc.SchemaVersion != 2 {
		return manifestRecord{}, errManifestInvalid(fmt.Sprintf("schemaVersion %d: only 2 is supported", doc.SchemaVersion))
	}
	mt := doc.MediaType
	ct, _, _ := strings.Cut(contentType, ";")
	switch ct = strings.TrimSpace(ct); ct {
	case "application/json", "text/plain", "application/octet-stream":
		ct = "" // a generic type says nothing about the manifest: its mediaType decides
	}
	if ct != "" {
		if mt != "" && ct != mt {
			return manifestRecord{}, errManifestInvalid(fmt.Sprintf("Content-Type %q differs from the manifest's mediaType %q", ct, mt))
		}
		if mt == "" {
			mt = ct
		}
	}
	if mt == "" {
		switch {
		case doc.Manifests != nil:
			mt = ocispec.MediaTypeImageIndex
		case doc.Config != nil:
			mt = ocispec.MediaTypeImageManifest
		}
	}
	rec := manifestRecord{MediaType: mt, Size: int64(len(body)), ArtifactType: doc.ArtifactType, Annotations: doc.Annotations, Created: time.Now()}
	check := func(what string, desc ocispec.Descriptor, needManifest bool) error {
		if _, ok := parseDigest(desc.Digest.String()); !ok {
			return errManifestInvalid(fmt.Sprintf("%s digest %q is not valid", what, desc.Digest))
		}
		rec.Refs = append(rec.Refs, desc.Digest)
		var known bool
		if needManifest {
			_, _, known = r.meta.resolve(name, desc.Digest.String())
		} else {
			known = r.meta.blobLinked(name, desc.Digest) || r.adoptSourceBlob(name, desc)
		}
		if !known {
			return errManifestBlobUnknown(fmt.Sprintf("%s %s is not in repository %s: push it first", what, desc.Digest, name))
		}
		return nil
	}
	switch {
	case isManifest(mt):
		if doc.Config == nil {
			return manifestRecord{}, errManifestInvalid("image manifest without config")
		}
		if rec.ArtifactType == "" && mt == ocispec.MediaTypeImageManifest {
			rec.ArtifactType = doc.Config.MediaType
		}
		if err := check("config", *doc.Config, false); err != nil {
			return manifestRecord{}, err
		}
		for _, l := range doc.Layers {
			if nonDistributable(l.MediaType) {
				continue
			}
			if err := check("layer", l, false); err != nil {
				return manifestRecord{}, err
			}
		}
	case isIndex(mt):
		for _, m := range doc.Manifests {
			if err := check("manifest", m, true); err != nil {
				return manifestRecord{}, err
			}
		}
	default:
		return manifestRecord{}, errManifestInvalid(fmt.Sprintf("media type %q is not an OCI or Docker v2 manifest or index", mt))
	}
	if doc.Subject != nil {
		if _, ok := parseDigest(doc.Subject.Digest.String()); !ok {
			return manifestRecord{}, errManifestInvalid(fmt.Sprintf("subject digest %q is not valid", doc.Subject.Digest))
		}
		rec.Subject = doc.Subject.Digest
	}
	return rec, nil
}

// adoptSourceBlob copies a blob the source serves in this repository into the
// registry's own store and links it: a client that found the blob there (HEAD) did not
// upload it, and the pushed image must not depend on the source keeping it.
func (r *Registry) adoptSourceBlob(name string, desc ocispec.Descriptor) bool {
	if r.source == nil || !r.source.hasBlob(name, desc.Digest) {
		return false
	}
	rc, err := r.source.src.Blobs.Open(desc.Digest)
	if err != nil {
		return false
	}
	defer rc.Close()
	stored, err := content.WriteBlob(r.store, rc, desc.Digest, -1)
	if err != nil {
		return false
	}
	return r.meta.linkBlob(name, desc.Digest, stored.Size) == nil
}

func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, name, ref string) error {
	var want digest.Digest
	var tags []string
	if d, ok := parseDigest(ref); ok {
		want = d
		// A push by digest may tag it too (?tag=a&tag=b, distribution spec 1.1+dev).
		for _, t := range req.URL.Query()["tag"] {
			if !validTag(t) {
				return errTagInvalid(fmt.Sprintf("invalid tag %q: want [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", t))
			}
			tags = append(tags, t)
		}
	} else if validTag(ref) {
		tags = []string{ref}
	} else if strings.Contains(ref, ":") {
		return errDigestInvalid(fmt.Sprintf("invalid digest %q", ref))
	} else {
		return errTagInvalid(fmt.Sprintf("invalid tag %q: want [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", ref))
	}
	if req.ContentLength > MaxManifestSize {
		return errTooLarge(fmt.Sprintf("manifest larger than %d bytes", MaxManifestSize))
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxManifestSize+1))
	if err != nil {
		return err
	}
	if len(body) > MaxManifestSize {
		return errTooLarge(fmt.Sprintf("manifest larger than %d bytes", MaxManifestSize))
	}
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	d := alg.FromBytes(body)
	if want != "" && d != want {
		return errDigestInvalid(fmt.Sprintf("the manifest's digest is %s, not %s", d, want))
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	rec, err := r.parseManifest(name, body, req.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	if _, err := content.WriteBlob(r.store, bytes.NewReader(body), d, int64(len(body))); err != nil {
		return err
	}
	if err := r.meta.putManifest(name, d, rec, tags); err != nil {
		return err
	}
	r.cache.put(d, body)
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/manifests/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	if rec.Subject != "" {
		h.Set("OCI-Subject", rec.Subject.String())
	}
	if want != "" && len(tags) > 0 {
		h.Set("OCI-Tag", strings.Join(tags, ", "))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (r *Registry) getManifest(w http.ResponseWriter, req *http.Request, name, ref string) error {
	if _, ok := parseDigest(ref); !ok && !validTag(ref) {
		if strings.Contains(ref, ":") {
			return errDigestInvalid(fmt.Sprintf("invalid digest %q", ref))
		}
		return errTagInvalid(fmt.Sprintf("invalid tag %q", ref))
	}
	var body []byte
	d, rec, ok := r.meta.resolve(name, ref)
	if ok {
		var err error
		if body, err = r.manifestBytes(d); err != nil {
			return err
		}
	} else if r.source != nil {
		if d, ok = r.source.resolve(name, ref); ok {
			var err error
			if body, rec.MediaType, _, err = r.source.manifest(d); err != nil {
				return errManifestUnknown(fmt.Sprintf("manifest %s: %v", ref, err))
			}
		}
	}
	if !ok {
		return errManifestUnknown(fmt.Sprintf("manifest %s unknown to repository %s", ref, name))
	}
	h := w.Header()
	h.Set("Content-Type", rec.MediaType)
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Etag", `"`+d.String()+`"`)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

func (r *Registry) manifestBytes(d digest.Digest) ([]byte, error) {
	if b := r.cache.get(d); b != nil {
		return b, nil
	}
	rc, err := r.store.Open(d)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, errManifestUnknown(fmt.Sprintf("manifest %s is gone from the store", d))
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	r.cache.put(d, body)
	return body, nil
}

func (r *Registry) deleteManifest(w http.ResponseWriter, name, ref string) error {
	var found bool
	var err error
	if d, ok := parseDigest(ref); ok {
		found, err = r.meta.deleteManifest(name, d)
	} else if validTag(ref) {
		found, err = r.meta.deleteTag(name, ref)
	} else {
		return errManifestInvalid(fmt.Sprintf("invalid reference %q", ref))
	}
	if err != nil {
		return err
	}
	if !found {
		return errManifestUnknown(fmt.Sprintf("manifest %s unknown to repository %s", ref, name))
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// nextLink is the Link header of a paginated answer.
func nextLink(path string, n int, last string) string {
	q := url.Values{}
	q.Set("n", strconv.Itoa(n))
	q.Set("last", last)
	return fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode())
}

func writeJSON(w http.ResponseWriter, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

func (r *Registry) tagsList(w http.ResponseWriter, req *http.Request, name string) error {
	n, last, err := pageParams(req)
	if err != nil {
		return err
	}
	var tags []string
	var more, ok bool
	if r.source == nil {
		tags, more, ok = r.meta.tags(name, last, n)
	} else {
		// Pushed tags and the source's, merged, then paged.
		var all []string
		all, _, ok = r.meta.tags(name, "", -1)
		if st, err := r.source.snapshot(); err == nil && st[name] != nil {
			ok = true
			for t := range st[name] {
				all = append(all, t)
			}
		}
		tags, more = paginate(all, last, n)
	}
	if !ok {
		return errNameUnknown(name)
	}
	if more && len(tags) > 0 {
		w.Header().Set("Link", nextLink("/v2/"+name+"/tags/list", n, tags[len(tags)-1]))
	}
	return writeJSON(w, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, tags})
}

func (r *Registry) catalog(w http.ResponseWriter, req *http.Request) error {
	n, last, err := pageParams(req)
	if err != nil {
		return err
	}
	keep := func(name string) bool { return r.canPull(req, name) }
	var repos []string
	var more bool
	if r.source == nil {
		repos, more = r.meta.repos(last, n, keep)
	} else {
		all, _ := r.meta.repos("", -1, keep)
		if st, err := r.source.snapshot(); err == nil {
			for name := range st {
				if keep(name) {
					all = append(all, name)
				}
			}
		}
		repos, more = paginate(all, last, n)
	}
	if more && len(repos) > 0 {
		w.Header().Set("Link", nextLink("/v2/_catalog", n, repos[len(repos)-1]))
	}
	return writeJSON(w, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{repos})
}

func (r *Registry) listReferrers(w http.ResponseWriter, req *http.Request, name, ref string) error {
	d, ok := parseDigest(ref)
	if !ok {
		return errDigestInvalid(fmt.Sprintf("invalid digest %q", ref))
	}
	artifactType := req.URL.Query().Get("artifactType")
	descs := r.meta.referrers(name, d, artifactType)
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(w, ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: descs,
	})
}

// paginate sorts and dedupes names and returns those after last, at most n (all when
// n < 0), and whether more follow.
func paginate(names []string, last string, n int) ([]string, bool) {
	sort.Strings(names)
	out := []string{}
	for i, name := range names {
		if (i > 0 && names[i-1] == name) || (last != "" && name <= last) {
			continue
		}
		if n >= 0 && len(out) == n {
			return out, true
		}
		out = append(out, name)
	}
	return out, false
}

// manifestCache keeps recently served manifests in memory: they are small, immutable by
// digest, and read far more often than blobs.
type manifestCache struct {
	mu    sync.Mutex
	max   int
	size  int
	items map[digest.Digest][]byte
}

func (c *manifestCache) get(d digest.Digest) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.items[d]
}

func (c *manifestCache) put(d digest.Digest, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil || c.size+len(b) > c.max {
		c.items, c.size = map[digest.Digest][]byte{}, 0 // start over: simpler than LRU, rarely hit
	}
	if _, ok := c.items[d]; !ok {
		c.items[d] = b
		c.size += len(b)
	}
}

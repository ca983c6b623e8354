package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// Source is a read-only set of images kept elsewhere (the daemon's image store) that
// the registry serves beside what is pushed to it. What is pushed wins when both name
// the same tag; the source's images cannot be deleted through the registry.
type Source struct {
	// Tags maps repository -> tag -> manifest digest.
	Tags func() (map[string]map[string]digest.Digest, error)
	// Blobs holds the manifests and the blobs they reference.
	Blobs interface {
		Open(d digest.Digest) (io.ReadCloser, error)
	}
}

// sourceView caches the source's tag listing briefly: every request of a pull asks.
type sourceView struct {
	src *Source

	mu      sync.Mutex
	at      time.Time
	tags    map[string]map[string]digest.Digest
	refs    map[digest.Digest][]digest.Digest // manifest -> the blobs it references
	mtypes  map[digest.Digest]string
	listErr error
}

const sourceTTL = time.Second

func (v *sourceView) snapshot() (map[string]map[string]digest.Digest, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tags == nil || time.Since(v.at) > sourceTTL {
		v.tags, v.listErr = v.src.Tags()
		v.at = time.Now()
		if v.refs == nil {
			v.refs, v.mtypes = map[digest.Digest][]digest.Digest{}, map[digest.Digest]string{}
		}
	}
	return v.tags, v.listErr
}

// resolve finds the manifest a tag or digest names in the source's repository.
func (v *sourceView) resolve(name, ref string) (digest.Digest, bool) {
	tags, err := v.snapshot()
	if err != nil {
		return "", false
	}
	repo := tags[name]
	if d, ok := repo[ref]; ok {
		return d, true
	}
	for _, d := range repo {
		if d.String() == ref {
			return d, true
		}
	}
	return "", false
}

// manifest reads a source manifest, its media type and what it references.
func (v *sourceView) manifest(d digest.Digest) ([]byte, string, []digest.Digest, error) {
	rc, err := v.src.Blobs.Open(d)
	if err != nil {
		return nil, "", nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, MaxManifestSize+1))
	if err != nil {
		return nil, "", nil, err
	}
	var doc manifestDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, "", nil, fmt.Errorf("source manifest %s: %w", d, err)
	}
	mt := doc.MediaType
	if mt == "" {
		mt = "application/vnd.oci.image.manifest.v1+json"
		if doc.Manifests != nil {
			mt = "application/vnd.oci.image.index.v1+json"
		}
	}
	var refs []digest.Digest
	if doc.Config != nil {
		refs = append(refs, doc.Config.Digest)
	}
	for _, l := range doc.Layers {
		refs = append(refs, l.Digest)
	}
	for _, m := range doc.Manifests {
		refs = append(refs, m.Digest)
	}
	v.mu.Lock()
	v.refs[d], v.mtypes[d] = refs, mt
	v.mu.Unlock()
	return body, mt, refs, nil
}

// hasBlob reports whether a manifest of the source's repository references d.
func (v *sourceView) hasBlob(name string, d digest.Digest) bool {
	tags, err := v.snapshot()
	if err != nil {
		return false
	}
	for _, md := range tags[name] {
		if md == d {
			return true
		}
		v.mu.Lock()
		refs, ok := v.refs[md]
		v.mu.Unlock()
		if !ok {
			if _, _, refs, err = v.manifest(md); err != nil {
				continue
			}
		}
		for _, r := range refs {
			if r == d {
				return true
			}
		}
	}
	return false
}

var errNoSource = errors.New("no source")

package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/image/snapshot"
	"github.com/drover/drover/internal/errdefs"
)

// ImportOptions set the config of an imported image (what `docker import --change` sets).
type ImportOptions struct {
	Cmd          []string
	Entrypoint   []string
	Env          []string // KEY=value
	WorkingDir   string
	User         string
	ExposedPorts map[string]struct{} // "80/tcp"
	Volumes      map[string]struct{} // "/data": anonymous volumes each container gets
	Labels       map[string]string
	StopSignal   string
	// Changes are Dockerfile-style instructions (see ParseChange) applied after the
	// fields above.
	Changes []string
	// Message is the history comment (docker import --message).
	Message string
}

// imageConfig builds the config from the options.
func (o ImportOptions) imageConfig() (ocispec.ImageConfig, error) {
	for _, s := range o.Changes {
		c, err := ParseChange(s)
		if err != nil {
			return ocispec.ImageConfig{}, err
		}
		c.Apply(&o)
	}
	return ocispec.ImageConfig{
		Cmd: o.Cmd, Entrypoint: o.Entrypoint, Env: o.Env, WorkingDir: o.WorkingDir, User: o.User,
		ExposedPorts: o.ExposedPorts, Volumes: o.Volumes, Labels: o.Labels, StopSignal: o.StopSignal,
	}, nil
}

func (s *Store) maxLayerBytes() int64 {
	if s.opts.limits.MaxBytes > 0 {
		return s.opts.limits.MaxBytes
	}
	return snapshot.DefaultLimits.MaxBytes
}

// Import makes a one-layer image from a root filesystem tarball (plain, gzip or zstd,
// told by its magic) and names it ref ("" for none). The tarball is stored as it came
// (the layer blob) while its uncompressed digest, the diff ID, is computed in the same
// pass; then config and manifest are written and the image committed.
func (s *Store) Import(ctx context.Context, r io.Reader, ref string, opts ImportOptions) (*Image, error) {
	var refs []string
	if ref != "" {
		var err error
		if refs, err = parseNames([]string{ref}, false); err != nil {
			return nil, err
		}
	}
	cfg, err := opts.imageConfig()
	if err != nil {
		return nil, err
	}
	var written []digest.Digest
	var holds holdSet
	defer holds.release()
	fail := func(err error) (*Image, error) {
		holds.release()
		s.mu.Lock()
		s.dropUnreferenced(written)
		s.mu.Unlock()
		return nil, fmt.Errorf("import: %w", err)
	}

	layer, diffID, comp, rel, err := s.writeLayer(r)
	if err != nil {
		return fail(err)
	}
	written = append(written, layer.Digest)
	holds.add(rel)

	now := time.Now().UTC()
	comment := opts.Message
	if comment == "" {
		comment = "imported from tarball"
	}
	config := ocispec.Image{
		Created:  &now,
		Platform: HostPlatform(),
		Config:   cfg,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History:  []ocispec.History{{Created: &now, CreatedBy: "drover import", Comment: comment}},
	}
	layer.MediaType = layerMediaType(comp)
	mdesc, more, err := s.writeImage(&holds, config, []ocispec.Descriptor{layer})
	written = append(written, more...)
	if err != nil {
		return fail(err)
	}
	s.mu.Lock()
	id, err := s.commitLocked(ctx, mdesc, refs, nil)
	s.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	return s.Get(id.String())
}

func layerMediaType(c Compression) string {
	switch c {
	case Gzip:
		return ocispec.MediaTypeImageLayerGzip
	case Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayer
}

// writeLayer stores r as a layer blob and returns it with its diff ID, held against GC
// until release is called.
func (s *Store) writeLayer(r io.Reader) (desc ocispec.Descriptor, diffID digest.Digest, comp Compression, release func(), err error) {
	release = func() {}
	w, err := s.content.Writer("", "", -1)
	if err != nil {
		return desc, "", 0, release, err
	}
	defer w.Abort()
	counted := &countingReader{r: r}
	tee := io.TeeReader(counted, w)
	var zr io.ReadCloser
	zr, comp, err = decompress(tee, decompressOptions{maxRatio: s.opts.maxRatio})
	if err != nil {
		return desc, "", 0, release, err
	}
	defer zr.Close()
	max := s.maxLayerBytes()
	h := digest.Canonical.Digester()
	n, err := io.Copy(h.Hash(), io.LimitReader(zr, max+1))
	if err != nil {
		return desc, "", 0, release, fmt.Errorf("read tarball: %w", err)
	}
	if n > max {
		return desc, "", 0, release, fmt.Errorf("tarball is larger than the %d byte layer limit uncompressed (a decompression bomb?): %w", max, errdefs.ErrInvalidArgument)
	}
	if n == 0 {
		return desc, "", 0, release, fmt.Errorf("the tarball is empty: %w", errdefs.ErrInvalidArgument)
	}
	// Bytes after the compressed stream belong to the blob too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return desc, "", 0, release, fmt.Errorf("read tarball: %w", err)
	}
	// Held before the commit publishes it, so a GC running meanwhile cannot take it.
	d := w.Digest()
	release = s.Hold(d)
	if err := w.Commit(); err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
		return desc, "", 0, release, err
	}
	return ocispec.Descriptor{Digest: d, Size: counted.n}, h.Digest(), comp, release, nil
}

// holdSet collects Hold releases to run together.
type holdSet struct{ fns []func() }

func (h *holdSet) add(release func()) { h.fns = append(h.fns, release) }

func (h *holdSet) release() {
	for _, f := range h.fns {
		f()
	}
	h.fns = nil
}

// writeImage stores the config and a manifest for it and layers; it returns the
// manifest's descriptor and the blobs it wrote.
func (s *Store) writeImage(holds *holdSet, config ocispec.Image, layers []ocispec.Descriptor) (ocispec.Descriptor, []digest.Digest, error) {
	raw, err := canonicalJSON(config)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	cdesc, err := s.putJSON(holds, raw)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	cdesc.MediaType = ocispec.MediaTypeImageConfig
	mdesc, err := s.writeManifest(holds, cdesc, layers)
	if err != nil {
		return ocispec.Descriptor{}, []digest.Digest{cdesc.Digest}, err
	}
	return mdesc, []digest.Digest{cdesc.Digest, mdesc.Digest}, nil
}

// writeManifest stores an OCI manifest for a stored config and layers.
func (s *Store) writeManifest(holds *holdSet, cdesc ocispec.Descriptor, layers []ocispec.Descriptor) (ocispec.Descriptor, error) {
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cdesc,
		Layers:    layers,
	}
	mraw, err := canonicalJSON(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	mdesc, err := s.putJSON(holds, mraw)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	mdesc.MediaType = ocispec.MediaTypeImageManifest
	return mdesc, nil
}

// putJSON stores a small blob, held against GC until holds are released.
func (s *Store) putJSON(holds *holdSet, raw []byte) (ocispec.Descriptor, error) {
	holds.add(s.Hold(digest.FromBytes(raw)))
	return content.WriteBlob(s.content, bytes.NewReader(raw), digest.FromBytes(raw), int64(len(raw)))
}

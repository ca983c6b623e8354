package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	goruntime "runtime"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/archive"
)

// Import makes a one-layer image named ref (may be "") from a rootfs tarball (plain, gzip
// or zstd); changes are Dockerfile instructions applied to its config.
func (s *Store) Import(ctx context.Context, r io.Reader, ref string, changes []string) (*Image, error) {
	var tags []string
	if ref != "" {
		rr, err := ParseReference(ref)
		if err != nil {
			return nil, err
		}
		tags = append(tags, rr.String())
	}
	var cfg ocispec.ImageConfig
	for _, ch := range changes {
		if err := ApplyChange(&cfg, ch); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	zr, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer zr.Close()
	diffID, size, err := s.content.Write(zr, "", -1)
	if err != nil {
		return nil, fmt.Errorf("import: store layer: %w", err)
	}
	if err := s.unpackBlob(diffID, diffID, ""); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	now := time.Now().UTC()
	config := ocispec.Image{
		Created:  &now,
		Platform: ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH},
		Config:   cfg,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History:  []ocispec.History{{Created: &now, CreatedBy: "drover import", Comment: "imported from tarball"}},
	}
	layer := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: diffID, Size: size}
	img, err := s.commit(config, []ocispec.Descriptor{layer})
	if err != nil {
		return nil, err
	}
	if err := s.record(img, tags); err != nil {
		return nil, err
	}
	return s.Get(img.ID.String())
}

// commit stores config and manifest blobs for config and layers and returns the image.
func (s *Store) commit(config ocispec.Image, layers []ocispec.Descriptor) (*Image, error) {
	cdata, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	cid, csize, err := s.content.Write(bytes.NewReader(cdata), "", -1)
	if err != nil {
		return nil, err
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cid, Size: csize},
		Layers:    layers,
	}
	mdata, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mid, _, err := s.content.Write(bytes.NewReader(mdata), "", -1)
	if err != nil {
		return nil, err
	}
	return s.newImage(cid, mid, config, layers), nil
}

func (s *Store) newImage(configID, manifestID digest.Digest, config ocispec.Image, layers []ocispec.Descriptor) *Image {
	img := &Image{ID: configID, Manifest: manifestID, Layers: layers, DiffIDs: config.RootFS.DiffIDs}
	if chains := ChainIDs(config.RootFS.DiffIDs); len(chains) > 0 {
		img.ChainID = chains[len(chains)-1]
	}
	if config.Created != nil {
		img.Created = *config.Created
	}
	for _, l := range layers {
		img.Size += l.Size
	}
	return img
}

// unpackBlob unpacks the layer blob as snapshot chain on parent, checking that its
// uncompressed content has the expected diff ID.
func (s *Store) unpackBlob(blob, diffID, parent digest.Digest) error {
	chain := diffID
	if parent != "" {
		chain = digest.FromString(parent.String() + " " + diffID.String())
	}
	if s.snaps.Exists(chain) {
		return nil
	}
	f, err := s.content.Open(blob)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := decompress(f)
	if err != nil {
		return fmt.Errorf("layer %s: %w", blob, err)
	}
	defer zr.Close()
	dg := digest.Canonical.Digester()
	tee := io.TeeReader(zr, dg.Hash())
	if err := s.snaps.Unpack(chain, parent, tee, archive.DefaultLimits); err != nil {
		return fmt.Errorf("unpack layer %s: %w", blob, err)
	}
	// The digest covers the tar's trailing padding too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		_ = s.snaps.RemoveSnapshot(chain)
		return fmt.Errorf("layer %s: %w", blob, err)
	}
	if got := dg.Digest(); got != diffID {
		_ = s.snaps.RemoveSnapshot(chain)
		return fmt.Errorf("layer %s: uncompressed digest %s does not match the config's diff ID %s", blob, got, diffID)
	}
	return nil
}

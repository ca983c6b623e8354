package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image/snapshot"
	"github.com/drover/drover/internal/errdefs"
)

// Layer is a layer written by AddLayer: its gzip blob, its diff ID and the snapshot it
// was unpacked to.
type Layer struct {
	Desc   ocispec.Descriptor
	DiffID digest.Digest
	Chain  digest.Digest
}

// AddLayer stores the uncompressed layer tar read from r (to its end): gzip-compressed in
// the content store and unpacked as a snapshot on top of parent ("" for a base layer), in
// one pass. The blob is held against GC until release is called (a builder releases it
// once its cache or an image references the layer).
func (s *Store) AddLayer(ctx context.Context, parent digest.Digest, r io.Reader) (l Layer, release func(), err error) {
	release = func() {}
	w, err := s.content.Writer("", "", -1)
	if err != nil {
		return l, release, err
	}
	defer w.Abort()
	counted := &countingWriter{w: w}
	gz, err := gzip.NewWriterLevel(counted, gzip.DefaultCompression)
	if err != nil {
		return l, release, err
	}
	st, err := s.snaps.Stage(ctx, io.TeeReader(r, gz))
	if err != nil {
		return l, release, fmt.Errorf("unpack layer: %w", err)
	}
	defer st.Discard()
	if err := gz.Close(); err != nil {
		return l, release, err
	}
	d := w.Digest()
	release = s.Hold(d)
	if err := w.Commit(); err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
		return l, release, err
	}
	chain := snapshot.ChainID(parent, st.DiffID())
	if err := st.Commit(chain, parent); err != nil {
		return l, release, err
	}
	l = Layer{
		Desc:   ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: counted.n},
		DiffID: st.DiffID(),
		Chain:  chain,
	}
	return l, release, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// CreateImage stores rawConfig (an image config whose rootfs lists the diff IDs of
// layers, which must be stored already) and a manifest for it, and records the image
// under names (tags) in one step: either the image exists with all its names, or nothing
// is named.
func (s *Store) CreateImage(ctx context.Context, rawConfig []byte, layers []ocispec.Descriptor, names ...string) (*Image, error) {
	refs, err := parseNames(names, false)
	if err != nil {
		return nil, err
	}
	var holds holdSet
	defer holds.release()
	cdesc, err := s.putJSON(&holds, rawConfig)
	if err != nil {
		return nil, fmt.Errorf("store image config: %w", err)
	}
	cdesc.MediaType = ocispec.MediaTypeImageConfig
	mdesc, err := s.writeManifest(&holds, cdesc, layers)
	if err != nil {
		return nil, fmt.Errorf("store image manifest: %w", err)
	}
	s.mu.Lock()
	id, err := s.commitLocked(ctx, mdesc, refs, nil)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Get(id.String())
}

// UnpackLayers makes sure the layers are unpacked (as Unpack does for an image) and
// returns the top chain ID.
func (s *Store) UnpackLayers(ctx context.Context, layers []ocispec.Descriptor, diffIDs []digest.Digest) (digest.Digest, error) {
	if len(layers) != len(diffIDs) {
		return "", fmt.Errorf("%d layers but %d diff IDs: %w", len(layers), len(diffIDs), errdefs.ErrInvalidArgument)
	}
	chain, _, _, err := s.unpackLayers(ctx, layers, diffIDs, nil)
	return chain, err
}

// GCRoots names blobs and layer chains (as diff ID lists) that GC must keep although no
// image references them: a build cache's layers.
type GCRoots func() (blobs []digest.Digest, layers [][]digest.Digest, err error)

var gcRootsMu sync.Mutex

// AddGCRoots registers roots that every later GC keeps.
func (s *Store) AddGCRoots(fn GCRoots) {
	gcRootsMu.Lock()
	defer gcRootsMu.Unlock()
	s.roots = append(s.roots, fn)
}

// extraRoots adds the registered roots to blobs and chains.
func (s *Store) extraRoots(blobs, chains map[digest.Digest]bool) error {
	gcRootsMu.Lock()
	fns := append([]GCRoots(nil), s.roots...)
	gcRootsMu.Unlock()
	for _, fn := range fns {
		bs, ls, err := fn()
		if err != nil {
			return err
		}
		for _, b := range bs {
			blobs[b] = true
		}
		for _, l := range ls {
			for _, c := range chainIDs(l) {
				chains[c] = true
			}
		}
	}
	return nil
}

// CommitLayer turns the changes of the unmounted container layer key, prepared on chain
// parent, into a layer: its tar (snapshot.Diff, leaving out the paths in skip) is stored
// gzip-compressed and hashed for the diff ID in one pass, and the layer's upper directory
// becomes the new snapshot as it is (snapshot.CommitUpper), so no file is written twice.
// The blob is held against GC until release is called.
func (s *Store) CommitLayer(ctx context.Context, key string, parent digest.Digest, skip []string) (l Layer, release func(), err error) {
	release = func() {}
	w, err := s.content.Writer("", "", -1)
	if err != nil {
		return l, release, err
	}
	defer w.Abort()
	counted := &countingWriter{w: w}
	gz, err := gzip.NewWriterLevel(counted, gzip.DefaultCompression)
	if err != nil {
		return l, release, err
	}
	h := digest.Canonical.Digester()
	skipSet := map[string]bool{}
	for _, p := range skip {
		skipSet[p] = true
	}
	if err := s.snaps.Diff(key, io.MultiWriter(gz, h.Hash()), func(rel string) bool { return skipSet[rel] }); err != nil {
		return l, release, err
	}
	if err := gz.Close(); err != nil {
		return l, release, err
	}
	d := w.Digest()
	release = s.Hold(d)
	if err := w.Commit(); err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
		return l, release, err
	}
	diffID := h.Digest()
	chain := snapshot.ChainID(parent, diffID)
	if err := s.snaps.CommitUpper(key, chain, parent, diffID, skip); err != nil {
		return l, release, err
	}
	return Layer{
		Desc:   ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: d, Size: counted.n},
		DiffID: diffID, Chain: chain,
	}, release, nil
}

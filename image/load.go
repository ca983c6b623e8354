package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/drover/drover/internal/errdefs"
)

const (
	// maxArchiveEntries bounds the entries of a loaded archive.
	maxArchiveEntries = 100_000
	// maxLinkHops bounds symlink chains inside an archive.
	maxLinkHops = 16
	// annotationContainerdName is the full image name containerd and Docker 25+ write.
	annotationContainerdName = "io.containerd.image.name"
)

// dockerManifest is one entry of a `docker save` manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// archive is a loaded tar's files, each stored as a blob in the content store.
type archive struct {
	files map[string]digest.Digest // archive path -> blob
	links map[string]string        // archive path -> path it links to
}

// Load reads a `docker save` archive (manifest.json with config and layer files, in the
// old layout or Docker 25's blobs/sha256 one) or an OCI image layout archive (oci-layout,
// index.json, blobs/), plain or compressed, and stores its images. The archive is streamed
// straight into the content store: files under blobs/ are verified against the digest
// their path names, everything else is checked by the manifests and configs that use it.
// Tags come from manifest.json's RepoTags and from the index's io.containerd.image.name
// and org.opencontainers.image.ref.name annotations. Files no image uses are dropped.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	var holds holdSet
	var written []digest.Digest
	defer func() {
		holds.release()
		s.mu.Lock()
		s.dropUnreferenced(written)
		s.mu.Unlock()
	}()
	zr, _, err := decompress(r, decompressOptions{maxRatio: s.opts.maxRatio})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	defer zr.Close()
	a, err := s.readArchive(ctx, zr, &holds, &written)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	s.mu.Lock()
	ids, err := s.loadArchive(ctx, a, &holds, &written)
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var out []*Image
	for _, id := range ids {
		img, err := s.Get(id.String())
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// archivePath cleans a path inside the archive, refusing one that climbs out of it.
func archivePath(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") || strings.IndexByte(name, 0) >= 0 || len(name) > 4096 {
		return "", fmt.Errorf("archive entry %q is outside the archive: %w", truncate(name, 200), errdefs.ErrInvalidArgument)
	}
	return c, nil
}

// blobPathDigest is the digest a blobs/<alg>/<hex> path names, "" for other paths.
func blobPathDigest(p string) digest.Digest {
	parts := strings.Split(p, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return ""
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
	if d.Validate() != nil {
		return ""
	}
	return d
}

// readArchive streams every regular file of the tar into the content store.
func (s *Store) readArchive(ctx context.Context, r io.Reader, holds *holdSet, written *[]digest.Digest) (_ *archive, retErr error) {
	a := &archive{files: map[string]digest.Digest{}, links: map[string]string{}}
	pending := &pendingCommits{written: written, sem: make(chan struct{}, 8)}
	defer func() {
		if err := pending.wait(); retErr == nil && err != nil {
			retErr = err
		}
	}()
	tr := tar.NewReader(r)
	max := s.maxLayerBytes()
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		if n >= maxArchiveEntries {
			return nil, fmt.Errorf("archive has more than %d entries: %w", maxArchiveEntries, errdefs.ErrInvalidArgument)
		}
		name, err := archivePath(hdr.Name)
		if err != nil {
			return nil, err
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			if hdr.Size > max {
				return nil, fmt.Errorf("archive entry %s is %d bytes, over the %d byte limit: %w", name, hdr.Size, max, errdefs.ErrInvalidArgument)
			}
			d, err := s.writeHeld(tr, blobPathDigest(name), hdr.Size, holds, pending, name)
			if err != nil {
				return nil, fmt.Errorf("archive entry %s: %w", name, err)
			}
			a.files[name] = d
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			if a.links[name], err = archivePath(target); err != nil {
				return nil, err
			}
		case tar.TypeLink:
			if a.links[name], err = archivePath(hdr.Linkname); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

// pendingCommits are blob commits (fsync, rename) running while the archive is read
// on: the tar stream is sequential, so waiting for each blob to reach the disk before
// reading the next one would leave the disk and the CPU idle in turn.
type pendingCommits struct {
	wg      sync.WaitGroup
	sem     chan struct{} // bounds the commits in flight
	mu      sync.Mutex
	errs    []error
	written *[]digest.Digest
}

func (p *pendingCommits) run(name string, d digest.Digest, commit func() error) {
	p.sem <- struct{}{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() { <-p.sem }()
		err := commit()
		p.mu.Lock()
		defer p.mu.Unlock()
		switch {
		case errors.Is(err, errdefs.ErrAlreadyExists):
		case err != nil:
			p.errs = append(p.errs, fmt.Errorf("archive entry %s: %w", name, err))
		default:
			*p.written = append(*p.written, d)
		}
	}()
}

func (p *pendingCommits) wait() error {
	p.wg.Wait()
	return errors.Join(p.errs...)
}

// writeHeld stores one blob, held against GC, and commits it in the background (pending
// collects the outcome; new blobs are added to its written list).
func (s *Store) writeHeld(r io.Reader, expected digest.Digest, size int64, holds *holdSet, pending *pendingCommits, name string) (digest.Digest, error) {
	if expected != "" {
		holds.add(s.Hold(expected))
	}
	w, err := s.content.Writer("", expected, size)
	if errors.Is(err, errdefs.ErrAlreadyExists) {
		return expected, nil
	}
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return "", err
	}
	d := w.Digest()
	if expected == "" {
		holds.add(s.Hold(d))
	}
	pending.run(name, d, func() error {
		defer w.Abort()
		return w.Commit()
	})
	return d, nil
}

// resolve finds the blob an archive path names, following links within the archive.
func (a *archive) resolve(p string) (digest.Digest, error) {
	p, err := archivePath(p)
	if err != nil {
		return "", err
	}
	for hops := 0; hops <= maxLinkHops; hops++ {
		if d, ok := a.files[p]; ok {
			return d, nil
		}
		next, ok := a.links[p]
		if !ok {
			return "", fmt.Errorf("the archive has no file %s: %w", truncate(p, 200), errdefs.ErrInvalidArgument)
		}
		p = next
	}
	return "", fmt.Errorf("links to %s loop or go more than %d deep: %w", truncate(p, 200), maxLinkHops, errdefs.ErrInvalidArgument)
}

func (a *archive) has(p string) bool {
	_, err := a.resolve(p)
	return err == nil
}

func (s *Store) readArchiveJSON(a *archive, p string, max int64, v any) error {
	d, err := a.resolve(p)
	if err != nil {
		return err
	}
	raw, err := s.readBlob(d, max)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s is not valid JSON: %v: %w", p, err, errdefs.ErrInvalidArgument)
	}
	return nil
}

// loadArchive commits the archive's images (s.mu held) and returns their IDs.
func (s *Store) loadArchive(ctx context.Context, a *archive, holds *holdSet, written *[]digest.Digest) ([]digest.Digest, error) {
	var ids []digest.Digest
	loaded := map[digest.Digest]bool{}
	add := func(id digest.Digest) {
		if !loaded[id] {
			loaded[id] = true
			ids = append(ids, id)
		}
	}
	hasIndex, hasManifest := a.has("index.json"), a.has("manifest.json")
	if !hasIndex && !hasManifest {
		return nil, fmt.Errorf("not an image archive: it has neither index.json (OCI layout) nor manifest.json (docker save): %w", errdefs.ErrInvalidArgument)
	}
	if hasIndex {
		var idx ocispec.Index
		if err := s.readArchiveJSON(a, "index.json", MaxManifestSize, &idx); err != nil {
			return nil, err
		}
		if len(idx.Manifests) > maxArchiveEntries {
			return nil, fmt.Errorf("index.json lists too many manifests: %w", errdefs.ErrInvalidArgument)
		}
		host := HostPlatform()
		for _, desc := range idx.Manifests {
			if !IsIndex(desc.MediaType) && !IsManifest(desc.MediaType) {
				continue // not an image (an artifact, an attestation)
			}
			if p := desc.Platform; p != nil && IsManifest(desc.MediaType) && (p.OS != host.OS || p.Architecture != host.Architecture) {
				continue // another platform's image
			}
			names, err := annotatedNames(desc.Annotations)
			if err != nil {
				return nil, err
			}
			id, err := s.commitLocked(ctx, desc, names, nil)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", desc.Digest, err)
			}
			add(id)
		}
		if len(ids) == 0 && !hasManifest {
			return nil, fmt.Errorf("index.json lists no image for %s/%s: %w", host.OS, host.Architecture, errdefs.ErrNotFound)
		}
	}
	if hasManifest {
		var entries []dockerManifest
		if err := s.readArchiveJSON(a, "manifest.json", MaxManifestSize, &entries); err != nil {
			return nil, err
		}
		for i, e := range entries {
			id, err := s.loadDockerEntry(ctx, a, e, loaded, holds, written)
			if err != nil {
				return nil, fmt.Errorf("manifest.json entry %d: %w", i+1, err)
			}
			add(id)
		}
	}
	return ids, nil
}

// annotatedNames reads an OCI index entry's image names. A bare ref.name ("latest") names
// no repository and is ignored.
func annotatedNames(ann map[string]string) ([]string, error) {
	var names []string
	if n := ann[annotationContainerdName]; n != "" {
		names = append(names, n)
	} else if n := ann[ocispec.AnnotationRefName]; strings.ContainsAny(n, "/:") {
		names = append(names, n)
	}
	return parseNames(names, true)
}

// loadDockerEntry commits one manifest.json image (s.mu held); an image already loaded
// from index.json only gets the entry's tags.
func (s *Store) loadDockerEntry(ctx context.Context, a *archive, e dockerManifest, loaded map[digest.Digest]bool, holds *holdSet, written *[]digest.Digest) (digest.Digest, error) {
	tags, err := parseNames(e.RepoTags, false)
	if err != nil {
		return "", err
	}
	cid, err := a.resolve(e.Config)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	// The old layout names the config <id>.json: the name must match the content.
	if base := path.Base(e.Config); strings.HasSuffix(base, ".json") && hex64RE().MatchString(strings.TrimSuffix(base, ".json")) && strings.TrimSuffix(base, ".json") != cid.Encoded() {
		return "", fmt.Errorf("config %s has digest %s: the archive is corrupt or was tampered with: %w", e.Config, cid, errdefs.ErrInvalidArgument)
	}
	if loaded[cid] {
		return cid, s.addRefs(cid, tags)
	}
	raw, err := s.readBlob(cid, MaxConfigSize)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", e.Config, err)
	}
	cfg, _, err := parseConfig(raw)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", e.Config, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
		return "", fmt.Errorf("config lists %d layers, manifest.json %d: %w", len(cfg.RootFS.DiffIDs), len(e.Layers), errdefs.ErrInvalidArgument)
	}
	var layers []ocispec.Descriptor
	for _, lp := range e.Layers {
		d, err := a.resolve(lp)
		if err != nil {
			return "", fmt.Errorf("layer: %w", err)
		}
		info, err := s.content.Info(d)
		if err != nil {
			return "", err
		}
		comp, err := s.blobCompression(d)
		if err != nil {
			return "", fmt.Errorf("layer %s: %w", lp, err)
		}
		layers = append(layers, ocispec.Descriptor{MediaType: layerMediaType(comp), Digest: d, Size: info.Size})
	}
	cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cid, Size: int64(len(raw))}
	mdesc, err := s.writeManifest(holds, cdesc, layers)
	if err != nil {
		return "", err
	}
	*written = append(*written, mdesc.Digest)
	return s.commitLocked(ctx, mdesc, tags, nil)
}

// blobCompression reads the first bytes of a stored blob.
func (s *Store) blobCompression(d digest.Digest) (Compression, error) {
	rc, err := s.content.Open(d)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(rc, head)
	return detect(head[:n])
}

// addRefs points more names at a recorded image.
func (s *Store) addRefs(id digest.Digest, refs []string) error {
	if len(refs) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range refs {
			if err := tx.Bucket(bucketRefs).Put([]byte(r), []byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

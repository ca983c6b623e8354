package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/drover/drover/image/snapshot"
	"github.com/drover/drover/internal/errdefs"
)

// Media types of Docker's image format, accepted beside the OCI ones.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeign      = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// IsIndex reports whether mt is an image index (OCI) or manifest list (Docker).
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// IsManifest reports whether mt is an image manifest (OCI or Docker schema 2).
func IsManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

func isLayer(mt string) bool {
	switch mt {
	case MediaTypeDockerLayer, MediaTypeDockerForeign, "":
		return true
	}
	return strings.HasPrefix(mt, "application/vnd.oci.image.layer.")
}

// Commit records the image whose manifest (or index: the host's platform is picked) is
// desc, with every blob it needs already in the content store: it verifies digests and
// sizes, unpacks the layers and records the image under names (tags and digest
// references) in one transaction. A registry client pulls blobs into Content() and then
// calls Commit; Load and Import end here too.
func (s *Store) Commit(ctx context.Context, desc ocispec.Descriptor, names ...string) (*Image, error) {
	refs, err := parseNames(names, true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.commitLocked(ctx, desc, refs, nil)
	if err != nil {
		return nil, err
	}
	return s.Get(id.String())
}

// parseNames normalises names; digest references are allowed only with digests.
func parseNames(names []string, digests bool) ([]string, error) {
	var out []string
	for _, n := range names {
		r, err := ParseReference(n)
		if err != nil {
			return nil, err
		}
		if r.Digest != "" && !digests {
			return nil, fmt.Errorf("name %q: a tag cannot contain a digest: %w", n, errdefs.ErrInvalidArgument)
		}
		out = append(out, r.String())
	}
	return out, nil
}

// checkBlob verifies that desc's blob is stored with the size desc announces.
func (s *Store) checkBlob(what string, desc ocispec.Descriptor) error {
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("%s: bad digest %q: %w", what, truncate(string(desc.Digest), 100), errdefs.ErrInvalidArgument)
	}
	info, err := s.content.Info(desc.Digest)
	if errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("%s %s is not in the content store (missing from the archive, or not pulled): %w", what, desc.Digest, err)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, desc.Digest, err)
	}
	if desc.Size != info.Size {
		return fmt.Errorf("%s %s: descriptor says %d bytes, the blob has %d: %w", what, desc.Digest, desc.Size, info.Size, errdefs.ErrInvalidArgument)
	}
	return nil
}

// resolveManifest follows an index to the host platform's manifest.
func (s *Store) resolveManifest(desc ocispec.Descriptor) (ocispec.Descriptor, error) {
	for depth := 0; IsIndex(desc.MediaType); depth++ {
		if depth >= 4 {
			return desc, fmt.Errorf("indexes nested more than 4 deep: %w", errdefs.ErrInvalidArgument)
		}
		if err := s.checkBlob("index", desc); err != nil {
			return desc, err
		}
		raw, err := s.readBlob(desc.Digest, MaxManifestSize)
		if err != nil {
			return desc, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return desc, fmt.Errorf("index %s is not valid JSON: %v: %w", desc.Digest, err, errdefs.ErrInvalidArgument)
		}
		if desc, err = pickPlatform(idx.Manifests); err != nil {
			return desc, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
	}
	return desc, nil
}

// HostPlatform is what images must be built for to run here.
func HostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}
	if p.Architecture == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// ParsePlatform parses "os/arch[/variant]" (as --platform takes it); "" is the host's.
func ParsePlatform(s string) (ocispec.Platform, error) {
	if s == "" {
		return HostPlatform(), nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: use os/arch[/variant], e.g. linux/amd64: %w", s, errdefs.ErrInvalidArgument)
	}
	p := ocispec.Platform{OS: strings.ToLower(parts[0]), Architecture: strings.ToLower(parts[1])}
	if len(parts) == 3 {
		p.Variant = strings.ToLower(parts[2])
	}
	if p.Architecture == "arm64" && p.Variant == "" {
		p.Variant = "v8"
	}
	return p, nil
}

func pickPlatform(list []ocispec.Descriptor) (ocispec.Descriptor, error) {
	return PickPlatform(list, HostPlatform())
}

// PickPlatform chooses want's manifest from an index's manifests (an exact variant
// first; attestations and unknown platforms never).
func PickPlatform(list []ocispec.Descriptor, want ocispec.Platform) (ocispec.Descriptor, error) {
	var match []ocispec.Descriptor
	var seen []string
	for _, d := range list {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		seen = append(seen, d.Platform.OS+"/"+d.Platform.Architecture)
		if d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture {
			if d.Platform.Variant == want.Variant {
				return d, nil
			}
			match = append(match, d)
		}
	}
	if len(match) > 0 {
		return match[0], nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("no image for %s/%s in the index (it has %s): %w", want.OS, want.Architecture, strings.Join(seen, ", "), errdefs.ErrNotFound)
}

// commitLocked is Commit with s.mu held.
// staged holds layers a pull unpacked while downloading, by diff ID.
func (s *Store) commitLocked(ctx context.Context, desc ocispec.Descriptor, refs []string, staged map[digest.Digest]*snapshot.Staged) (digest.Digest, error) {
	mdesc, err := s.resolveManifest(desc)
	if err != nil {
		return "", err
	}
	if err := s.checkBlob("manifest", mdesc); err != nil {
		return "", err
	}
	raw, err := s.readBlob(mdesc.Digest, MaxManifestSize)
	if err != nil {
		return "", fmt.Errorf("manifest %s: %w", mdesc.Digest, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("manifest %s is not valid JSON: %v: %w", mdesc.Digest, err, errdefs.ErrInvalidArgument)
	}
	mt := m.MediaType
	if mt == "" {
		mt = mdesc.MediaType
	}
	if m.SchemaVersion != 2 || (mt != "" && !IsManifest(mt)) {
		return "", fmt.Errorf("manifest %s: schema %d, media type %q: only image manifests (schema 2) are supported: %w", mdesc.Digest, m.SchemaVersion, mt, errdefs.ErrInvalidArgument)
	}
	if mdesc.MediaType == "" {
		mdesc.MediaType = ocispec.MediaTypeImageManifest
		if mt != "" {
			mdesc.MediaType = mt
		}
	}
	if c := m.Config.MediaType; c != ocispec.MediaTypeImageConfig && c != MediaTypeDockerConfig {
		return "", fmt.Errorf("manifest %s: config media type %q is not an image config (an artifact?): %w", mdesc.Digest, c, errdefs.ErrInvalidArgument)
	}
	if err := s.checkBlob("config", m.Config); err != nil {
		return "", err
	}
	rawConfig, err := s.readBlob(m.Config.Digest, MaxConfigSize)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	cfg, _, err := parseConfig(rawConfig)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return "", fmt.Errorf("manifest %s lists %d layers, its config %d: %w", mdesc.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrInvalidArgument)
	}
	for i, l := range m.Layers {
		if !isLayer(l.MediaType) {
			return "", fmt.Errorf("manifest %s: layer %d has media type %q, not an image layer: %w", mdesc.Digest, i+1, l.MediaType, errdefs.ErrInvalidArgument)
		}
		if err := s.checkBlob(fmt.Sprintf("layer %d", i+1), l); err != nil {
			return "", err
		}
	}
	_, size, created, err := s.unpackLayers(ctx, m.Layers, cfg.RootFS.DiffIDs, staged)
	// Layers unpacked here belong to no image until the record is written: on failure
	// they go (s.mu is held, so nobody else can have started using them).
	recorded := false
	defer func() {
		if !recorded {
			for i := len(created) - 1; i >= 0; i-- {
				_ = s.snaps.RemoveSnapshot(created[i])
			}
		}
	}()
	if err != nil {
		return "", err
	}
	rec := record{
		Manifest: ocispec.Descriptor{MediaType: mdesc.MediaType, Digest: mdesc.Digest, Size: mdesc.Size},
		Layers:   m.Layers, DiffIDs: cfg.RootFS.DiffIDs, Size: size,
	}
	if cfg.Created != nil {
		rec.Created = *cfg.Created
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	id := m.Config.Digest
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketImages).Put([]byte(id), data); err != nil {
			return err
		}
		for _, r := range refs {
			if err := tx.Bucket(bucketRefs).Put([]byte(r), []byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("record image %s: %w", id, err)
	}
	recorded = true
	return id, nil
}

// Unpack makes sure every layer of img is unpacked in the snapshotter and returns the
// chain ID a container runs on. Import, Load and Commit call it; it is cheap when the
// layers are there.
func (s *Store) Unpack(ctx context.Context, img *Image) (digest.Digest, error) {
	if len(img.Layers) != len(img.DiffIDs) {
		return "", fmt.Errorf("image %s: %d layers but %d diff IDs: %w", img.ID, len(img.Layers), len(img.DiffIDs), errdefs.ErrInvalidArgument)
	}
	chain, _, _, err := s.unpackLayers(ctx, img.Layers, img.DiffIDs, nil)
	return chain, err
}

// unpackLayers unpacks the layers missing from the snapshotter; the snapshotter checks
// each uncompressed stream against its diff ID. It returns the top chain and the bytes of
// all layers, and the chains it unpacked now (base first).
func (s *Store) unpackLayers(ctx context.Context, layers []ocispec.Descriptor, diffIDs []digest.Digest, staged map[digest.Digest]*snapshot.Staged) (top digest.Digest, total int64, created []digest.Digest, err error) {
	staged = s.stageMissing(ctx, layers, diffIDs, staged)
	defer func() {
		for _, st := range staged {
			st.Discard()
		}
	}()
	var parent digest.Digest
	for i, l := range layers {
		chain := snapshot.ChainID(parent, diffIDs[i])
		if !s.snaps.Exists(chain) {
			if st := staged[diffIDs[i]]; st != nil {
				delete(staged, diffIDs[i]) // a staged copy serves one chain only
				err = st.Commit(chain, parent)
				st.Discard()
			} else {
				err = s.unpackLayer(ctx, l, chain, parent)
			}
			if err != nil {
				return "", 0, created, fmt.Errorf("layer %d (%s): %w", i+1, l.Digest, err)
			}
			created = append(created, chain)
		}
		n, err := s.snaps.Size(chain)
		if err != nil {
			return "", 0, created, err
		}
		total += n
		parent = chain
	}
	return parent, total, created, nil
}

// stageMissing unpacks, in parallel and each into a staged directory of its own, the
// layers that are neither unpacked nor staged already (overlay layers do not need their
// parents' files); unpackLayers then commits them in order. A layer that fails here is
// left out: the ordered pass unpacks it again and reports its error in context.
func (s *Store) stageMissing(ctx context.Context, layers []ocispec.Descriptor, diffIDs []digest.Digest, staged map[digest.Digest]*snapshot.Staged) map[digest.Digest]*snapshot.Staged {
	if staged == nil {
		staged = map[digest.Digest]*snapshot.Staged{}
	}
	var todo []int
	var parent digest.Digest
	seen := map[digest.Digest]bool{}
	for i := range layers {
		chain := snapshot.ChainID(parent, diffIDs[i])
		parent = chain
		if staged[diffIDs[i]] == nil && !seen[diffIDs[i]] && !s.snaps.Exists(chain) {
			todo = append(todo, i)
			seen[diffIDs[i]] = true
		}
	}
	if len(todo) < 2 {
		return staged
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, goruntime.NumCPU()+1)
	for _, i := range todo {
		wg.Add(1)
		go func(l ocispec.Descriptor, diffID digest.Digest) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rc, err := s.content.Open(l.Digest)
			if err != nil {
				return
			}
			defer rc.Close()
			zr, _, err := decompress(rc, decompressOptions{maxRatio: s.opts.maxRatio})
			if err != nil {
				return
			}
			defer zr.Close()
			st, err := s.snaps.Stage(ctx, zr)
			if err != nil {
				return
			}
			if st.DiffID() != diffID {
				st.Discard()
				return
			}
			mu.Lock()
			staged[diffID] = st
			mu.Unlock()
		}(layers[i], diffIDs[i])
	}
	wg.Wait()
	return staged
}

func (s *Store) unpackLayer(ctx context.Context, l ocispec.Descriptor, chain, parent digest.Digest) error {
	rc, err := s.content.Open(l.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, _, err := decompress(rc, decompressOptions{maxRatio: s.opts.maxRatio})
	if err != nil {
		return err
	}
	defer zr.Close()
	return s.snaps.Unpack(ctx, chain, parent, zr)
}

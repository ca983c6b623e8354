package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/archive"
	"github.com/drover/drover/internal/errdefs"
)

// maxMetadata bounds manifests, indexes and configs read from untrusted archives.
const maxMetadata = 4 << 20

// Load reads a `docker save` archive or an OCI image layout archive and stores its images.
func (s *Store) Load(ctx context.Context, r io.Reader) ([]*Image, error) {
	tmp, err := os.MkdirTemp(s.root, "load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := archive.Untar(r, tmp, "/", archive.DefaultLimits); err != nil {
		return nil, fmt.Errorf("load: read archive: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var imgs []*Image
	var tags [][]string
	if _, err := os.Stat(filepath.Join(tmp, "index.json")); err == nil {
		imgs, tags, err = s.loadOCI(tmp)
		if err != nil {
			return nil, fmt.Errorf("load OCI layout: %w", err)
		}
	} else if _, err := os.Stat(filepath.Join(tmp, "manifest.json")); err == nil {
		imgs, tags, err = s.loadDocker(tmp)
		if err != nil {
			return nil, fmt.Errorf("load docker archive: %w", err)
		}
	} else {
		return nil, fmt.Errorf("load: not an image archive (no index.json or manifest.json): %w", errdefs.ErrInvalidArgument)
	}
	var out []*Image
	for i, img := range imgs {
		if err := s.record(img, tags[i]); err != nil {
			return nil, err
		}
		got, err := s.Get(img.ID.String())
		if err != nil {
			return nil, err
		}
		out = append(out, got)
	}
	return out, nil
}

func readJSON(file string, v any) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, maxMetadata)).Decode(v); err != nil {
		return fmt.Errorf("%s: %v: %w", filepath.Base(file), err, errdefs.ErrInvalidArgument)
	}
	return nil
}

// inArchive maps an archive path to the staged file, refusing escapes.
func inArchive(dir, p string) (string, error) {
	clean := path.Clean("/" + p)
	if strings.Contains(p, "..") {
		return "", fmt.Errorf("path %q leaves the archive: %w", p, errdefs.ErrInvalidArgument)
	}
	return filepath.Join(dir, clean), nil
}

// putBlob copies a staged blob into the content store, verifying digest and size.
func (s *Store) putBlob(file string, d digest.Digest, size int64) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("blob %s missing from the archive: %w", d, errdefs.ErrInvalidArgument)
	}
	defer f.Close()
	_, _, err = s.content.Write(f, d, size)
	return err
}

func (s *Store) loadOCI(dir string) ([]*Image, [][]string, error) {
	var index ocispec.Index
	if err := readJSON(filepath.Join(dir, "index.json"), &index); err != nil {
		return nil, nil, err
	}
	blob := func(d digest.Digest) string {
		return filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
	}
	var imgs []*Image
	var tags [][]string
	for _, desc := range index.Manifests {
		if err := desc.Digest.Validate(); err != nil {
			return nil, nil, fmt.Errorf("bad digest %q: %w", desc.Digest, errdefs.ErrInvalidArgument)
		}
		mdesc := desc
		if desc.MediaType == ocispec.MediaTypeImageIndex || desc.MediaType == "application/vnd.docker.distribution.manifest.list.v2+json" {
			var sub ocispec.Index
			if err := readJSON(blob(desc.Digest), &sub); err != nil {
				return nil, nil, err
			}
			picked, err := pickPlatform(sub.Manifests)
			if err != nil {
				return nil, nil, err
			}
			mdesc = picked
		}
		img, err := s.loadManifest(mdesc, blob)
		if err != nil {
			return nil, nil, err
		}
		var t []string
		for _, key := range []string{"io.containerd.image.name", ocispec.AnnotationRefName} {
			name := desc.Annotations[key]
			if name == "" {
				continue
			}
			if r, err := ParseReference(name); err == nil && strings.ContainsAny(name, "/:") {
				t = append(t, r.String())
				break
			}
		}
		imgs = append(imgs, img)
		tags = append(tags, t)
	}
	return imgs, tags, nil
}

// pickPlatform chooses the host's platform from an index.
func pickPlatform(list []ocispec.Descriptor) (ocispec.Descriptor, error) {
	for _, d := range list {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == goruntime.GOARCH {
			return d, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("no image for linux/%s in the index: %w", goruntime.GOARCH, errdefs.ErrNotFound)
}

// loadManifest stores a manifest, its config and layers, and unpacks the layers.
func (s *Store) loadManifest(mdesc ocispec.Descriptor, blob func(digest.Digest) string) (*Image, error) {
	var m ocispec.Manifest
	if err := readJSON(blob(mdesc.Digest), &m); err != nil {
		return nil, err
	}
	if err := s.putBlob(blob(mdesc.Digest), mdesc.Digest, mdesc.Size); err != nil {
		return nil, err
	}
	if err := s.putBlob(blob(m.Config.Digest), m.Config.Digest, m.Config.Size); err != nil {
		return nil, err
	}
	var config ocispec.Image
	if err := readJSON(blob(m.Config.Digest), &config); err != nil {
		return nil, err
	}
	if len(config.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config lists %d layers, manifest %d: %w", len(config.RootFS.DiffIDs), len(m.Layers), errdefs.ErrInvalidArgument)
	}
	for i, l := range m.Layers {
		if err := s.putBlob(blob(l.Digest), l.Digest, l.Size); err != nil {
			return nil, err
		}
		var parent digest.Digest
		if i > 0 {
			parent = ChainIDs(config.RootFS.DiffIDs[:i])[i-1]
		}
		if err := s.unpackBlob(l.Digest, config.RootFS.DiffIDs[i], parent); err != nil {
			return nil, err
		}
	}
	return s.newImage(m.Config.Digest, mdesc.Digest, config, m.Layers), nil
}

type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func (s *Store) loadDocker(dir string) ([]*Image, [][]string, error) {
	var entries []dockerManifest
	if err := readJSON(filepath.Join(dir, "manifest.json"), &entries); err != nil {
		return nil, nil, err
	}
	var imgs []*Image
	var tags [][]string
	for _, e := range entries {
		cfile, err := inArchive(dir, e.Config)
		if err != nil {
			return nil, nil, err
		}
		var config ocispec.Image
		if err := readJSON(cfile, &config); err != nil {
			return nil, nil, err
		}
		if len(config.RootFS.DiffIDs) != len(e.Layers) {
			return nil, nil, fmt.Errorf("config lists %d layers, manifest.json %d: %w", len(config.RootFS.DiffIDs), len(e.Layers), errdefs.ErrInvalidArgument)
		}
		f, err := os.Open(cfile)
		if err != nil {
			return nil, nil, err
		}
		cid, _, err := s.content.Write(f, "", -1)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		var layers []ocispec.Descriptor
		for i, lp := range e.Layers {
			lfile, err := inArchive(dir, lp)
			if err != nil {
				return nil, nil, err
			}
			lf, err := os.Open(lfile)
			if err != nil {
				return nil, nil, fmt.Errorf("layer %s missing from the archive: %w", lp, errdefs.ErrInvalidArgument)
			}
			ld, lsize, err := s.content.Write(lf, "", -1)
			lf.Close()
			if err != nil {
				return nil, nil, err
			}
			var parent digest.Digest
			if i > 0 {
				parent = ChainIDs(config.RootFS.DiffIDs[:i])[i-1]
			}
			if err := s.unpackBlob(ld, config.RootFS.DiffIDs[i], parent); err != nil {
				return nil, nil, err
			}
			layers = append(layers, ocispec.Descriptor{MediaType: layerMediaType(s, ld), Digest: ld, Size: lsize})
		}
		img, err := s.commitManifest(cid, config, layers)
		if err != nil {
			return nil, nil, err
		}
		var t []string
		for _, tag := range e.RepoTags {
			r, err := ParseReference(tag)
			if err != nil {
				return nil, nil, err
			}
			t = append(t, r.String())
		}
		imgs = append(imgs, img)
		tags = append(tags, t)
	}
	return imgs, tags, nil
}

// layerMediaType tells a stored layer's compression from its first bytes.
func layerMediaType(s *Store, d digest.Digest) string {
	f, err := s.content.Open(d)
	if err != nil {
		return ocispec.MediaTypeImageLayer
	}
	defer f.Close()
	var magic [4]byte
	_, _ = io.ReadFull(f, magic[:])
	switch {
	case magic[0] == 0x1f && magic[1] == 0x8b:
		return ocispec.MediaTypeImageLayerGzip
	case magic == [4]byte{0x28, 0xb5, 0x2f, 0xfd}:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayer
}

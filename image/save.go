package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/drover/drover/internal/errdefs"
)

// savedImage is one image of a Save and the names it is saved under.
type savedImage struct {
	img   *Image
	names []Reference
}

// Save writes the images refs name as one tar archive that is both an OCI image layout
// (oci-layout, index.json, blobs/sha256) and a `docker save` archive (manifest.json whose
// paths point into blobs/), as Docker 25 writes them, so docker, podman and skopeo load it.
// A name without tag ("busybox") saves every tag of that repository; an ID saves the
// image without names.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string) error {
	images, err := s.collectSave(refs)
	if err != nil {
		return err
	}
	var holds holdSet
	defer holds.release()
	for _, si := range images {
		holds.add(s.Hold(imageBlobs(si.img)...))
	}
	sw := &saveWriter{tw: tar.NewWriter(w), s: s, written: map[digest.Digest]bool{}}
	if err := sw.dir("blobs/"); err != nil {
		return err
	}
	if err := sw.dir("blobs/sha256/"); err != nil {
		return err
	}
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	var manifest []dockerManifest
	for _, si := range images {
		for _, d := range imageBlobs(si.img) {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := sw.blob(d); err != nil {
				return fmt.Errorf("save %s: %w", si.img.ID, err)
			}
		}
		mdesc, err := s.manifestDescriptor(si.img)
		if err != nil {
			return err
		}
		dm := dockerManifest{Config: blobPath(si.img.ID), RepoTags: []string{}}
		for _, l := range si.img.Layers {
			dm.Layers = append(dm.Layers, blobPath(l.Digest))
		}
		if len(si.names) == 0 {
			index.Manifests = append(index.Manifests, mdesc)
		}
		for _, r := range si.names {
			d := mdesc
			d.Annotations = map[string]string{annotationContainerdName: r.String(), ocispec.AnnotationRefName: r.Tag}
			index.Manifests = append(index.Manifests, d)
			dm.RepoTags = append(dm.RepoTags, r.Familiar())
		}
		manifest = append(manifest, dm)
	}
	for _, f := range []struct {
		name string
		v    any
	}{
		{"oci-layout", ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}},
		{"index.json", index},
		{"manifest.json", manifest},
	} {
		data, err := canonicalJSON(f.v)
		if err != nil {
			return err
		}
		if err := sw.file(f.name, data); err != nil {
			return err
		}
	}
	return sw.tw.Close()
}

// collectSave resolves refs to images (each once, in order) with their names.
func (s *Store) collectSave(refs []string) ([]*savedImage, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("save: name at least one image: %w", errdefs.ErrInvalidArgument)
	}
	var out []*savedImage
	byID := map[digest.Digest]*savedImage{}
	addName := func(img *Image, r *Reference) {
		si := byID[img.ID]
		if si == nil {
			si = &savedImage{img: img}
			byID[img.ID] = si
			out = append(out, si)
		}
		if r != nil {
			for _, n := range si.names {
				if n == *r {
					return
				}
			}
			si.names = append(si.names, *r)
		}
	}
	for _, ref := range refs {
		if r, err := ParseReference(ref); err == nil && r.Digest == "" && !hasTag(ref) {
			// A bare repository name: every tag of it.
			tagged, err := s.repoTags(r)
			if err != nil {
				return nil, err
			}
			if len(tagged) > 0 {
				for _, t := range tagged {
					img, err := s.Get(t.String())
					if err != nil {
						return nil, err
					}
					addName(img, &t)
				}
				continue
			}
		}
		img, err := s.Get(ref)
		if err != nil {
			return nil, err
		}
		if r, err := ParseReference(ref); err == nil && r.Digest == "" && !isImageID(ref) {
			addName(img, &r)
		} else {
			addName(img, nil)
		}
	}
	return out, nil
}

// hasTag says whether a reference string carries a tag.
func hasTag(ref string) bool {
	name, _, _ := strings.Cut(ref, "@")
	i := strings.LastIndexByte(name, ':')
	return i >= 0 && !strings.Contains(name[i:], "/")
}

// repoTags lists the tagged references of repository r.
func (s *Store) repoTags(r Reference) ([]Reference, error) {
	var out []Reference
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRefs).ForEach(func(k, _ []byte) error {
			kr, err := ParseReference(string(k))
			if err == nil && kr.Name() == r.Name() && kr.Digest == "" {
				out = append(out, kr)
			}
			return nil
		})
	})
	return out, err
}

func (s *Store) manifestDescriptor(img *Image) (ocispec.Descriptor, error) {
	var rec record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = s.getRecord(tx, img.ID)
		return err
	})
	return rec.Manifest, err
}

// imageBlobs lists an image's blobs: manifest, config, layers.
func imageBlobs(img *Image) []digest.Digest {
	out := []digest.Digest{img.Manifest, img.ID}
	for _, l := range img.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// saveWriter writes archive entries with fixed times, so that saving twice gives the
// same bytes.
type saveWriter struct {
	tw      *tar.Writer
	s       *Store
	written map[digest.Digest]bool
}

var saveTime = time.Unix(0, 0).UTC()

func (w *saveWriter) dir(name string) error {
	return w.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: saveTime, Format: tar.FormatPAX})
}

func (w *saveWriter) file(name string, data []byte) error {
	if err := w.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: saveTime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := w.tw.Write(data)
	return err
}

func (w *saveWriter) blob(d digest.Digest) error {
	if w.written[d] {
		return nil
	}
	w.written[d] = true
	ra, err := w.s.content.ReaderAt(d)
	if err != nil {
		return err
	}
	defer ra.Close()
	if d.Algorithm() != digest.SHA256 {
		return fmt.Errorf("blob %s: only sha256 blobs can be saved", d)
	}
	if err := w.tw.WriteHeader(&tar.Header{Name: blobPath(d), Typeflag: tar.TypeReg, Mode: 0o644, Size: ra.Size(), ModTime: saveTime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = io.Copy(w.tw, io.NewSectionReader(ra, 0, ra.Size()))
	return err
}

package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// commitManifest writes an OCI manifest for an already stored config and layers.
func (s *Store) commitManifest(configID digest.Digest, config ocispec.Image, layers []ocispec.Descriptor) (*Image, error) {
	csize, err := s.content.Size(configID)
	if err != nil {
		return nil, err
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: configID, Size: csize},
		Layers:    layers,
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mid, _, err := s.content.Write(bytes.NewReader(data), "", -1)
	if err != nil {
		return nil, err
	}
	return s.newImage(configID, mid, config, layers), nil
}

// Save writes the named images as one archive that is both an OCI image layout and a
// `docker save` archive (manifest.json), as Docker 25 writes them.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string) error {
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	now := time.Unix(0, 0)
	addFile := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	addBlob := func(d digest.Digest) error {
		if written[d] {
			return nil
		}
		written[d] = true
		f, err := s.content.Open(d)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + d.Encoded(), Mode: 0o644, Size: fi.Size(), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
		return err
	}
	var index ocispec.Index
	index.SchemaVersion = 2
	index.MediaType = ocispec.MediaTypeImageIndex
	var manifest []dockerManifest
	for _, ref := range refs {
		img, err := s.Get(ref)
		if err != nil {
			return err
		}
		for _, d := range append([]digest.Digest{img.Manifest, img.ID}, layerDigests(img)...) {
			if err := addBlob(d); err != nil {
				return err
			}
		}
		msize, _ := s.content.Size(img.Manifest)
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: img.Manifest, Size: msize}
		var tags []string
		if r, err := ParseReference(ref); err == nil && r.Digest == "" && isName(ref) && !strings.HasPrefix(ref, "sha256:") {
			desc.Annotations = map[string]string{"io.containerd.image.name": r.String(), ocispec.AnnotationRefName: r.Tag}
			tags = []string{r.Familiar()}
		}
		index.Manifests = append(index.Manifests, desc)
		dm := dockerManifest{Config: "blobs/sha256/" + img.ID.Encoded(), RepoTags: tags}
		for _, d := range layerDigests(img) {
			dm.Layers = append(dm.Layers, "blobs/sha256/"+d.Encoded())
		}
		manifest = append(manifest, dm)
	}
	idata, _ := json.Marshal(index)
	mdata, _ := json.Marshal(manifest)
	for _, f := range []struct {
		name string
		data []byte
	}{{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {"index.json", idata}, {"manifest.json", mdata}} {
		if err := addFile(f.name, f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

func layerDigests(img *Image) []digest.Digest {
	out := make([]digest.Digest, len(img.Layers))
	for i, l := range img.Layers {
		out[i] = l.Digest
	}
	return out
}

// isName tells a name reference from an image ID.
func isName(ref string) bool {
	for _, c := range ref {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return true
		}
	}
	return false
}

package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image/content"
)

// tent is one entry of a test tar.
type tent struct {
	name, body, link string
	typ              byte
	mode             int64
}

func reg(name, body string) tent { return tent{name: name, body: body, typ: tar.TypeReg, mode: 0o644} }
func dirent(name string) tent    { return tent{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlnk(name, link string) tent {
	return tent{name: name, link: link, typ: tar.TypeSymlink, mode: 0o777}
}

// makeTar builds a tar from entries.
func makeTar(t testing.TB, entries ...tent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, ModTime: time.Unix(1600000000, 0)}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archiveTar builds an archive from name -> content (a "->target" prefix makes a symlink),
// entries sorted so that archives are reproducible.
func archiveTar(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var entries []tent
	for _, n := range names {
		if l, ok := bytes.CutPrefix(files[n], []byte("->")); ok {
			entries = append(entries, symlnk(n, string(l)))
		} else {
			entries = append(entries, reg(n, string(files[n])))
		}
	}
	return makeTar(t, entries...)
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testImage is an image built in a test: its config and layer blobs.
type testImage struct {
	config    []byte
	configID  digest.Digest
	layers    [][]byte // blobs as stored (maybe compressed)
	mediaType []string
	manifest  []byte
}

// buildImage makes an image from uncompressed layer tars; compress picks each layer's
// stored form (nil: all uncompressed). extra is merged into the config JSON.
func buildImage(t testing.TB, cfg ocispec.ImageConfig, extra map[string]any, layers [][]byte, compress []Compression) *testImage {
	t.Helper()
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	img := ocispec.Image{Created: &created, Platform: HostPlatform(), Config: cfg, RootFS: ocispec.RootFS{Type: "layers"}}
	ti := &testImage{}
	var descs []ocispec.Descriptor
	for i, l := range layers {
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, digest.FromBytes(l))
		blob, mt := l, ocispec.MediaTypeImageLayer
		if compress != nil {
			switch compress[i] {
			case Gzip:
				blob, mt = gz(t, l), ocispec.MediaTypeImageLayerGzip
			case Zstd:
				blob, mt = zst(t, l), ocispec.MediaTypeImageLayerZstd
			}
		}
		ti.layers = append(ti.layers, blob)
		ti.mediaType = append(ti.mediaType, mt)
		descs = append(descs, ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(blob), Size: int64(len(blob))})
	}
	raw := mustJSON(t, img)
	if extra != nil {
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		for k, v := range extra {
			if sub, ok := v.(map[string]any); ok && m[k] != nil {
				for sk, sv := range sub {
					m[k].(map[string]any)[sk] = sv
				}
				continue
			}
			m[k] = v
		}
		raw = mustJSON(t, m)
	}
	ti.config, ti.configID = raw, digest.FromBytes(raw)
	ti.manifest = mustJSON(t, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: ti.configID, Size: int64(len(raw))},
		Layers: descs,
	})
	return ti
}

func (ti *testImage) manifestDesc() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(ti.manifest), Size: int64(len(ti.manifest))}
}

func blobName(b []byte) string { return "blobs/sha256/" + digest.FromBytes(b).Encoded() }

// dockerArchive lays images out as `docker save` (before Docker 25) does.
func dockerArchive(t testing.TB, tags [][]string, images ...*testImage) []byte {
	t.Helper()
	files := map[string][]byte{"repositories": []byte("{}")}
	var manifest []dockerManifest
	for i, ti := range images {
		files[ti.configID.Encoded()+".json"] = ti.config
		e := dockerManifest{Config: ti.configID.Encoded() + ".json", RepoTags: tags[i]}
		for _, l := range ti.layers {
			dir := digest.FromBytes(l).Encoded()
			files[dir+"/layer.tar"] = l
			files[dir+"/VERSION"] = []byte("1.0")
			e.Layers = append(e.Layers, dir+"/layer.tar")
		}
		manifest = append(manifest, e)
	}
	files["manifest.json"] = mustJSON(t, manifest)
	return archiveTar(t, files)
}

// ociArchive lays images out as an OCI image layout with index.json entries.
func ociArchive(t testing.TB, index []ocispec.Descriptor, blobs ...[]byte) []byte {
	t.Helper()
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	for _, b := range blobs {
		files[blobName(b)] = b
	}
	files["index.json"] = mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: index})
	return archiveTar(t, files)
}

func (ti *testImage) blobs() [][]byte {
	return append([][]byte{ti.config, ti.manifest}, ti.layers...)
}

func newStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// blobCount is how many blobs the store holds.
func blobCount(t testing.TB, s *Store) int {
	t.Helper()
	n := 0
	if err := s.Content().Walk(func(content.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func chainCount(t testing.TB, s *Store) int {
	t.Helper()
	c, err := s.Snapshots().Chains()
	if err != nil {
		t.Fatal(err)
	}
	return len(c)
}

// assertEmpty checks that a store holds no image, blob or snapshot.
func assertEmpty(t testing.TB, s *Store) {
	t.Helper()
	imgs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 0 || blobCount(t, s) != 0 || chainCount(t, s) != 0 {
		t.Fatalf("store not empty: %d images, %d blobs, %d snapshots", len(imgs), blobCount(t, s), chainCount(t, s))
	}
	tmp, _ := os.ReadDir(s.Snapshots().Root() + "/tmp")
	if len(tmp) != 0 {
		t.Fatalf("snapshot tmp/ not empty: %v", tmp)
	}
}

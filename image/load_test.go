package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/testutil"
)

// twoLayers is a base layer and one that removes, hides and adds files.
func twoLayers(t testing.TB) [][]byte {
	return [][]byte{
		makeTar(t, dirent("etc/"), reg("etc/gone", "1"), reg("etc/kept", "2"), dirent("var/"), reg("var/old", "3"), reg("base", "b")),
		makeTar(t, reg("etc/.wh.gone", ""), dirent("var/"), reg("var/.wh..wh..opq", ""), reg("var/new", "4"), reg("top", "t")),
	}
}

// assertTwoLayersView mounts img and checks the merged view of twoLayers.
func assertTwoLayersView(t *testing.T, s *Store, img *Image, key string) {
	t.Helper()
	root := mountImage(t, s, img, key)
	for p, want := range map[string]string{"etc/kept": "2", "var/new": "4", "top": "t", "base": "b"} {
		if got, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	for _, p := range []string{"etc/gone", "var/old", "etc/.wh.gone"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s visible in the merged view", p)
		}
	}
}

func TestLoadDockerArchive(t *testing.T) {
	testutil.RequiresRoot(t)
	health := map[string]any{"Healthcheck": map[string]any{"Test": []string{"CMD", "true"}, "Interval": int64(2 * time.Second), "Retries": 3}}
	ti := buildImage(t, ocispec.ImageConfig{Cmd: []string{"sh"}}, map[string]any{"config": health}, twoLayers(t), []Compression{Gzip, Uncompressed})
	other := buildImage(t, ocispec.ImageConfig{Cmd: []string{"other"}}, nil, twoLayers(t)[:1], nil)

	// Docker 25 layout: blobs/sha256 plus old-style paths that are symlinks into it.
	modern := map[string][]byte{}
	for _, b := range ti.blobs() {
		modern[blobName(b)] = b
	}
	modern["abc/layer.tar"] = []byte("->../" + blobName(ti.layers[0]))
	modern["def/layer.tar"] = []byte("->../" + blobName(ti.layers[1]))
	modern["manifest.json"] = mustJSON(t, []dockerManifest{{Config: blobName(ti.config), RepoTags: []string{"app:v1", "localhost:5000/app:v2"}, Layers: []string{"abc/layer.tar", "def/layer.tar"}}})

	tests := []struct {
		name    string
		archive []byte
	}{
		{"legacy layout", dockerArchive(t, [][]string{{"app:v1", "localhost:5000/app:v2"}, {"other:1"}}, ti, other)},
		{"docker 25 layout", archiveTar(t, modern)},
		{"gzipped archive", gz(t, dockerArchive(t, [][]string{{"app:v1", "localhost:5000/app:v2"}}, ti))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			imgs, err := s.Load(context.Background(), bytes.NewReader(tt.archive))
			if err != nil {
				t.Fatal(err)
			}
			img := imgs[0]
			if img.ID != ti.configID || !reflect.DeepEqual(img.RepoTags, []string{"app:v1", "localhost:5000/app:v2"}) {
				t.Fatalf("image %s tags %v", img.ID, img.RepoTags)
			}
			if img.Healthcheck == nil || !reflect.DeepEqual(img.Healthcheck.Test, []string{"CMD", "true"}) || img.Healthcheck.Interval != 2*time.Second || img.Healthcheck.Retries != 3 {
				t.Fatalf("healthcheck %+v", img.Healthcheck)
			}
			if img.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip || img.Layers[1].MediaType != ocispec.MediaTypeImageLayer {
				t.Fatalf("layer media types %v", img.Layers)
			}
			if got, err := s.Get("localhost:5000/app:v2"); err != nil || got.ID != img.ID {
				t.Fatalf("get: %v", err)
			}
			assertTwoLayersView(t, s, img, "c")
			// repositories, VERSION and manifest.json are not kept.
			want := 2 + len(ti.layers) // config, manifest, layers
			if len(imgs) == 2 {
				want += 3 // other's config, manifest and (uncompressed) layer
			}
			if n := blobCount(t, s); n != want {
				t.Fatalf("%d blobs kept, want %d", n, want)
			}
		})
	}
}

func TestLoadOCIArchive(t *testing.T) {
	testutil.RequiresRoot(t)
	ti := buildImage(t, ocispec.ImageConfig{Cmd: []string{"sh"}}, nil, twoLayers(t), []Compression{Zstd, Gzip})
	foreign := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("not here"), Size: 10,
		Platform: &ocispec.Platform{OS: "linux", Architecture: "s390x"}}
	host := ti.manifestDesc()
	p := HostPlatform()
	host.Platform = &p
	nested := mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{foreign, host}})
	nestedDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(nested), Size: int64(len(nested)),
		Annotations: map[string]string{ocispec.AnnotationRefName: "example.com/multi:1"}}

	tests := []struct {
		name    string
		archive []byte
		tags    []string
	}{
		{"manifest with containerd name", ociArchive(t, []ocispec.Descriptor{withAnn(ti.manifestDesc(), map[string]string{
			annotationContainerdName: "docker.io/library/app:v1", ocispec.AnnotationRefName: "v1"})}, ti.blobs()...), []string{"app:v1"}},
		{"manifest with full ref.name", ociArchive(t, []ocispec.Descriptor{withAnn(ti.manifestDesc(), map[string]string{
			ocispec.AnnotationRefName: "quay.io/x/app:v3"})}, ti.blobs()...), []string{"quay.io/x/app:v3"}},
		{"bare ref.name gives no tag", ociArchive(t, []ocispec.Descriptor{withAnn(ti.manifestDesc(), map[string]string{
			ocispec.AnnotationRefName: "latest"})}, ti.blobs()...), nil},
		{"index picks the host platform", ociArchive(t, []ocispec.Descriptor{nestedDesc}, append(ti.blobs(), nested)...), []string{"example.com/multi:1"}},
		{"other platforms at the top are skipped", ociArchive(t, []ocispec.Descriptor{foreign, host}, ti.blobs()...), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			imgs, err := s.Load(context.Background(), bytes.NewReader(tt.archive))
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != 1 || imgs[0].ID != ti.configID || !reflect.DeepEqual(imgs[0].RepoTags, tt.tags) {
				t.Fatalf("loaded %d images, tags %v", len(imgs), imgs[0].RepoTags)
			}
			assertTwoLayersView(t, s, imgs[0], "c")
		})
	}
}

func withAnn(d ocispec.Descriptor, ann map[string]string) ocispec.Descriptor {
	d.Annotations = ann
	return d
}

// TestLoadHostileArchives: each archive is refused with a message naming the problem,
// and the store is left as it was: no image, no blob, no snapshot.
func TestLoadHostileArchives(t *testing.T) {
	testutil.RequiresRoot(t)
	layers := twoLayers(t)
	ti := buildImage(t, ocispec.ImageConfig{}, nil, layers, nil)
	lying := buildImage(t, ocispec.ImageConfig{}, nil, layers, nil)
	lyingCfg := bytes.Replace(lying.config, []byte(digest.FromBytes(layers[1]).Encoded()), []byte(strings.Repeat("b", 64)), 1)
	windows := buildImage(t, ocispec.ImageConfig{}, map[string]any{"os": "windows"}, layers, nil)
	evilLayer := buildImage(t, ocispec.ImageConfig{}, nil, [][]byte{makeTar(t, reg("../../../../../tmp/pwned", "x"))}, nil)
	manifestJSON := func(e ...dockerManifest) []byte { return mustJSON(t, e) }
	badSize := ti.manifestDesc()
	badSize.Size++
	otherArch := ti.manifestDesc()
	otherArch.Platform = &ocispec.Platform{OS: "linux", Architecture: "s390x"}

	tests := []struct {
		name    string
		archive []byte
		want    string
	}{
		{"not an archive", []byte("hello"), "read archive"},
		{"no manifest", archiveTar(t, map[string][]byte{"x": []byte("1")}), "neither index.json"},
		{"blob digest mismatch", archiveTar(t, map[string][]byte{"blobs/sha256/" + hexA: []byte("not a"), "index.json": []byte("{}")}), "digest mismatch"},
		{"entry escaping the archive", archiveTar(t, map[string][]byte{"../../x": []byte("1")}), "outside the archive"},
		{"config path escaping", archiveTar(t, map[string][]byte{"manifest.json": manifestJSON(dockerManifest{Config: "../../etc/passwd"})}), "outside the archive"},
		{"symlink escaping", archiveTar(t, map[string][]byte{"a": []byte("->../../../etc/passwd")}), "outside the archive"},
		{"symlink loop", archiveTar(t, map[string][]byte{"a": []byte("->b"), "b": []byte("->a"), "manifest.json": manifestJSON(dockerManifest{Config: "a"})}), "loop"},
		{"missing layer", archiveTar(t, map[string][]byte{"c.json": ti.config, "manifest.json": manifestJSON(dockerManifest{Config: "c.json", Layers: []string{"l1", "l2"}})}), "has no file l1"},
		{"layer count mismatch", archiveTar(t, map[string][]byte{"c.json": ti.config, "l1": layers[0], "manifest.json": manifestJSON(dockerManifest{Config: "c.json", Layers: []string{"l1"}})}), "config lists 2 layers"},
		{"diff ID lies", archiveTar(t, map[string][]byte{"c.json": lyingCfg, "l1": layers[0], "l2": layers[1], "manifest.json": manifestJSON(dockerManifest{Config: "c.json", Layers: []string{"l1", "l2"}})}), "does not give this chain ID"},
		{"config name mismatch", archiveTar(t, map[string][]byte{hexA + ".json": ti.config, "manifest.json": manifestJSON(dockerManifest{Config: hexA + ".json"})}), "tampered"},
		{"windows image", dockerArchive(t, [][]string{{"w:1"}}, windows), "windows"},
		{"bad tag", dockerArchive(t, [][]string{{"BAD:tag"}}, ti), "invalid reference"},
		{"hostile layer", dockerArchive(t, [][]string{{"evil:1"}}, evilLayer), "climbs out"},
		{"descriptor size lies", ociArchive(t, []ocispec.Descriptor{badSize}, ti.blobs()...), "descriptor says"},
		{"missing blob", ociArchive(t, []ocispec.Descriptor{ti.manifestDesc()}, ti.manifest, ti.config), "missing from the archive"},
		{"only other platforms", ociArchive(t, []ocispec.Descriptor{otherArch}, ti.blobs()...), "no image for linux"},
		{"bad index JSON", archiveTar(t, map[string][]byte{"index.json": []byte("{")}), "not valid JSON"},
		{"huge manifest", archiveTar(t, map[string][]byte{"manifest.json": bytes.Repeat([]byte(" "), MaxManifestSize+1)}), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Load(context.Background(), bytes.NewReader(tt.archive))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			t.Logf("refused: %v", err)
			assertEmpty(t, s)
		})
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Fatal("a hostile layer wrote /tmp/pwned")
	}
}

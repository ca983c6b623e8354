package image

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image/snapshot"
)

// FuzzLoad loads arbitrary archives. Whatever the input, Load must not panic, must keep
// no blob that no image references, and every image it reports must be complete.
func FuzzLoad(f *testing.F) {
	layers := twoLayers(f)
	ti := buildImage(f, ocispec.ImageConfig{}, nil, layers, []Compression{Gzip, Uncompressed})
	f.Add(dockerArchive(f, [][]string{{"a:1"}}, ti))
	f.Add(ociArchive(f, []ocispec.Descriptor{ti.manifestDesc()}, ti.blobs()...))
	f.Add(archiveTar(f, map[string][]byte{"a": []byte("->b"), "b": []byte("->a"), "manifest.json": []byte(`[{"Config":"a"}]`)}))
	f.Add(archiveTar(f, map[string][]byte{"manifest.json": []byte(`[{"Config":"../x","Layers":["/etc/passwd"]}]`)}))
	f.Add([]byte{})
	root := f.TempDir()
	s, err := Open(root, WithLimits(snapshot.Limits{MaxBytes: 1 << 20, MaxEntries: 1000}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		imgs, err := s.Load(context.Background(), bytes.NewReader(data))
		if err == nil {
			for _, img := range imgs {
				if _, err := s.Unpack(context.Background(), img); err != nil {
					t.Fatalf("loaded image %s does not unpack: %v", img.ID, err)
				}
				if _, _, err := s.Remove(img.ID.String(), true, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := blobCount(t, s); n != 0 {
			t.Fatalf("%d blobs left after the load's images were removed", n)
		}
		if entries, _ := os.ReadDir(filepath.Join(root, "snapshot", "tmp")); len(entries) != 0 {
			t.Fatalf("snapshot tmp/ not empty: %v", entries)
		}
	})
}

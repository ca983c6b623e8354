package image

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
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

// FuzzParseConfig: an image config from a registry or archive is hostile. Whatever it
// holds, parseConfig must not panic, and what it accepts must be usable: a Linux image
// with at most maxLayers valid sha256 diff IDs.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}`))
	f.Add([]byte(`{"os":"windows","rootfs":{"type":"layers"}}`))
	f.Add([]byte(`{"rootfs":{"type":"layers","diff_ids":["md5:x"]},"config":{"Healthcheck":{"Test":["CMD","true"]}}}`))
	f.Add([]byte(`{"rootfs":{"type":"layers","diff_ids":[]},"config":{"Healthcheck":7}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, _, err := parseConfig(raw)
		if err != nil {
			return
		}
		if cfg.OS != "" && cfg.OS != "linux" {
			t.Fatalf("accepted OS %q", cfg.OS)
		}
		if len(cfg.RootFS.DiffIDs) > maxLayers {
			t.Fatalf("accepted %d layers", len(cfg.RootFS.DiffIDs))
		}
		for _, d := range cfg.RootFS.DiffIDs {
			if d.Validate() != nil {
				t.Fatalf("accepted diff ID %q", d)
			}
		}
	})
}

// FuzzCommitManifest commits an arbitrary manifest (and config) as a pull does once
// the blobs are in: no panic, and either an image that unpacks or an error that leaves
// no image behind.
func FuzzCommitManifest(f *testing.F) {
	cfg := []byte(`{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	good, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: []ocispec.Descriptor{}})
	f.Add(good, cfg)
	f.Add([]byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:zz","size":-1},"layers":[{}]}`), cfg)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[]}`), []byte(`{}`))
	f.Add([]byte(`{"schemaVersion":1}`), []byte(`null`))
	// On tmpfs where there is one: every commit fsyncs, which on a disk leaves the fuzzer
	// a handful of executions a second.
	dir := f.TempDir()
	if shm, err := os.MkdirTemp("/dev/shm", "drover-fuzz"); err == nil {
		dir = shm
		f.Cleanup(func() { os.RemoveAll(shm) })
	}
	s, err := Open(dir, WithLimits(snapshot.Limits{MaxBytes: 1 << 20, MaxEntries: 1000}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		if len(manifest) > MaxManifestSize || len(config) > MaxConfigSize {
			return
		}
		in := s.NewIngest()
		defer in.Close()
		cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))}
		mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}
		if err := in.WriteBlob(config, cdesc); err != nil {
			t.Fatal(err)
		}
		if err := in.WriteBlob(manifest, mdesc); err != nil {
			t.Fatal(err)
		}
		img, err := in.Commit(context.Background(), mdesc, "fuzz/img:1")
		if err != nil {
			if _, gerr := s.Get("fuzz/img:1"); gerr == nil {
				t.Fatalf("commit failed (%v) but the image is listed", err)
			}
			return
		}
		if _, err := s.Unpack(context.Background(), img); err != nil {
			t.Fatalf("committed image does not unpack: %v", err)
		}
		if _, _, err := s.Remove(img.ID.String(), true, nil); err != nil {
			t.Fatal(err)
		}
	})
}

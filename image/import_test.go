package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image/snapshot"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/testutil"
)

// busyboxTar is a root filesystem of the host's static busybox.
func busyboxTar(t testing.TB) []byte {
	t.Helper()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("busybox-static not installed (apt-get install busybox-static)")
	}
	bb := reg("bin/busybox", string(bin))
	bb.mode = 0o755
	return makeTar(t, dirent("bin/"), bb, symlnk("bin/sh", "busybox"), symlnk("bin/echo", "busybox"),
		dirent("etc/"), reg("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"), dirent("tmp/"))
}

// mountImage prepares a container layer on img and mounts it; both undone at cleanup.
func mountImage(t *testing.T, s *Store, img *Image, key string) string {
	t.Helper()
	if err := s.Snapshots().Prepare(key, img.ChainID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Snapshots().Remove(key) })
	target := t.TempDir()
	if err := s.Snapshots().Mount(key, target, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Snapshots().Unmount(target); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return target
}

func TestImportBusybox(t *testing.T) {
	testutil.RequiresRoot(t)
	plain := busyboxTar(t)
	diffID := digest.FromBytes(plain)
	tests := []struct {
		name      string
		data      []byte
		mediaType string
	}{
		{"plain", plain, ocispec.MediaTypeImageLayer},
		{"gzip", gz(t, plain), ocispec.MediaTypeImageLayerGzip},
		{"zstd", zst(t, plain), ocispec.MediaTypeImageLayerZstd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			opts := ImportOptions{
				Env:     []string{"PATH=/bin"},
				Changes: []string{`CMD ["sh", "-c", "echo hi"]`, "ENV A=1 B=\"two words\"", "EXPOSE 80 53/udp", "LABEL k=v", "WORKDIR /tmp", "USER root", "STOPSIGNAL SIGINT"},
				Message: "from busybox",
			}
			img, err := s.Import(context.Background(), bytes.NewReader(tt.data), "busybox", opts)
			if err != nil {
				t.Fatal(err)
			}
			c := img.Config.Config
			if !reflect.DeepEqual(img.RepoTags, []string{"busybox:latest"}) || !reflect.DeepEqual(c.Cmd, []string{"sh", "-c", "echo hi"}) ||
				!reflect.DeepEqual(c.Env, []string{"PATH=/bin", "A=1", "B=two words"}) || c.WorkingDir != "/tmp" || c.User != "root" ||
				c.StopSignal != "SIGINT" || c.Labels["k"] != "v" || len(c.ExposedPorts) != 2 {
				t.Fatalf("image %+v config %+v", img, c)
			}
			if img.Layers[0].MediaType != tt.mediaType || img.Layers[0].Digest != digest.FromBytes(tt.data) || img.Layers[0].Size != int64(len(tt.data)) {
				t.Fatalf("layer %+v", img.Layers[0])
			}
			if !reflect.DeepEqual(img.DiffIDs, []digest.Digest{diffID}) || img.ChainID != diffID || !s.Snapshots().Exists(diffID) {
				t.Fatalf("diff IDs %v chain %s", img.DiffIDs, img.ChainID)
			}
			if img.Config.History[0].Comment != "from busybox" || img.Config.OS != "linux" || img.ID != digest.FromBytes(img.RawConfig) {
				t.Fatalf("config %s", img.RawConfig)
			}
			if img.Size < 100_000 {
				t.Fatalf("size %d", img.Size)
			}
			// The unpacked image runs.
			root := mountImage(t, s, img, "run-"+tt.name)
			cmd := exec.Command("/bin/sh", "-c", "echo hi")
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
			cmd.Dir = "/"
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != "hi\n" {
				t.Fatalf("run in the imported rootfs: %q %v", out, err)
			}
			// Unpack is a no-op now.
			if chain, err := s.Unpack(context.Background(), img); err != nil || chain != diffID {
				t.Fatalf("unpack: %s %v", chain, err)
			}
		})
	}
}

func TestImportRefusals(t *testing.T) {
	testutil.RequiresRoot(t)
	good := makeTar(t, reg("a", "1"))
	tests := []struct {
		name string
		data []byte
		ref  string
		opts ImportOptions
		want string
	}{
		{"bad ref", good, "UPPER", ImportOptions{}, "invalid reference"},
		{"digest ref", good, "x@sha256:" + hexA, ImportOptions{}, "cannot contain a digest"},
		{"bad change", good, "", ImportOptions{Changes: []string{"RUN rm -rf /"}}, "supported instructions"},
		{"empty", nil, "", ImportOptions{}, "empty"},
		{"not a tar", bytes.Repeat([]byte("garbage!"), 200), "", ImportOptions{}, "tar"},
		{"xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, good...), "", ImportOptions{}, "xz-compressed"},
		{"hostile tar", makeTar(t, symlnk("a", "/"), reg("a/etc/x", "x")), "", ImportOptions{}, "a is a symlink"},
		{"truncated gzip", gz(t, good)[:30], "", ImportOptions{}, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			_, err := s.Import(context.Background(), bytes.NewReader(tt.data), tt.ref, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			t.Logf("refused: %v", err)
			assertEmpty(t, s)
		})
	}
}

// TestDecompressionBomb: a small gzip stream that expands past the layer limit, and a
// zstd one past the ratio limit, are refused and leave nothing behind.
func TestDecompressionBomb(t *testing.T) {
	testutil.RequiresRoot(t)
	zeros := make([]byte, 80<<20)
	bomb := makeTar(t, reg("zeros", string(zeros)))
	tests := []struct {
		name string
		data []byte
		opts []Option
		want string
	}{
		{"gzip over the size limit", gz(t, bomb), []Option{WithLimits(snapshot.Limits{MaxBytes: 8 << 20})}, "limit"},
		{"zstd over the ratio", zst(t, bomb), []Option{WithMaxCompressionRatio(1000)}, "expands more than 1000 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.data) > 1<<20 {
				t.Fatalf("bomb is %d bytes compressed", len(tt.data))
			}
			s := newStore(t, tt.opts...)
			_, err := s.Import(context.Background(), bytes.NewReader(tt.data), "bomb", ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			assertEmpty(t, s)
		})
	}
	// The same bomb inside a loaded archive is refused at unpack.
	s := newStore(t, WithLimits(snapshot.Limits{MaxBytes: 8 << 20}))
	ti := buildImage(t, ocispec.ImageConfig{}, nil, [][]byte{bomb}, []Compression{Gzip})
	_, err := s.Load(context.Background(), bytes.NewReader(dockerArchive(t, [][]string{{"bomb:1"}}, ti)))
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("loaded bomb: %v", err)
	}
	assertEmpty(t, s)
}

func TestImportSharesLayers(t *testing.T) {
	testutil.RequiresRoot(t)
	s := newStore(t)
	data := makeTar(t, reg("a", "1"))
	a, err := s.Import(context.Background(), bytes.NewReader(data), "a", ImportOptions{Cmd: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Import(context.Background(), bytes.NewReader(data), "b", ImportOptions{Cmd: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || a.ChainID != b.ChainID || chainCount(t, s) != 1 {
		t.Fatalf("images %s %s chains %s %s (%d snapshots)", a.ID, b.ID, a.ChainID, b.ChainID, chainCount(t, s))
	}
	if _, _, err := s.Remove("a", false, nil); err != nil {
		t.Fatal(err)
	}
	if !s.Snapshots().Exists(b.ChainID) {
		t.Fatal("removing a deleted b's layer")
	}
	if _, _, err := s.Remove("b", false, nil); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
}

// TestCrashLeavesOnlyGarbage: blobs written by an import that never recorded its image
// (a crash) are not an image, and GC removes them.
func TestCrashLeavesOnlyGarbage(t *testing.T) {
	testutil.RequiresRoot(t)
	s := newStore(t)
	layer := makeTar(t, reg("a", "1"))
	ti := buildImage(t, ocispec.ImageConfig{}, nil, [][]byte{layer}, nil)
	for _, b := range ti.blobs() {
		if _, err := s.Content().WriteBlob(bytes.NewReader(b), "", -1); err != nil {
			t.Fatal(err)
		}
	}
	chain := snapshot.ChainID("", digest.FromBytes(layer))
	if err := s.Snapshots().Unpack(context.Background(), chain, "", bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Fatal("half import shows as an image")
	}
	freed, err := s.GC()
	if err != nil || freed == 0 {
		t.Fatalf("gc freed %d: %v", freed, err)
	}
	assertEmpty(t, s)
	// A held blob survives GC.
	d, err := s.Content().WriteBlob(bytes.NewReader([]byte("held")), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	release := s.Hold(d.Digest)
	if _, err := s.GC(); err != nil || blobCount(t, s) != 1 {
		t.Fatalf("held blob collected: %v", err)
	}
	release()
	if _, err := s.GC(); err != nil || blobCount(t, s) != 0 {
		t.Fatalf("released blob kept: %v", err)
	}
}

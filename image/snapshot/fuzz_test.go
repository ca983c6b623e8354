package snapshot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUnpack applies arbitrary bytes as a layer, in both whiteout modes. Whatever the
// input, nothing may appear outside the layer root: the jail holds the root and an
// "outside" directory that seeded symlinks and hardlinks aim at.
func FuzzUnpack(f *testing.F) {
	jail := f.TempDir()
	outside := filepath.Join(jail, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		f.Fatal(err)
	}
	outRel := strings.TrimPrefix(outside, "/")
	seeds := [][]ent{
		{file("a", "1"), dir("d/"), symlink("d/l", "../a"), hardlink("h", "a")},
		{file("../../"+outRel+"/x", "x")},
		{symlink("a", "/"), file("a/"+outRel+"/x", "x")},
		{symlink("a", outside), file("a/x", "x")},
		{dir("d/"), symlink("d", outside), file("d/x", "x")},
		{hardlink("h", outside+"/secret")},
		{symlink("s", outside), hardlink("h", "s/secret"), file("h", "x")},
		{symlink("s", outside), whiteout("s/.wh.secret"), whiteout("s/.wh..wh..opq")},
		{whiteout(".wh.a"), dir("a/"), whiteout("a/.wh..wh..opq"), file("a/b", "b")},
	}
	for _, s := range seeds {
		f.Add(layerTar(f, s...))
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0}, 1024))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mode := range []applyMode{overlayMode, mergeMode} {
			root := filepath.Join(jail, "root")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			_, _ = applyLayer(context.Background(), root, bytes.NewReader(data), mode, Limits{MaxBytes: 1 << 20, MaxEntries: 1000})
			entries, err := os.ReadDir(jail)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 {
				t.Fatalf("layer wrote next to its root: %v", entries)
			}
			out, _ := os.ReadDir(outside)
			if len(out) != 1 {
				t.Fatalf("layer wrote outside its root: %v", out)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "s" {
				t.Fatal("layer changed a file outside its root")
			}
			if err := os.RemoveAll(root); err != nil {
				t.Fatal(err)
			}
		}
	})
}

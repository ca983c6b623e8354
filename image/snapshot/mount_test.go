package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/testutil"
)

// drivers runs fn against each container-layer driver; both must show the same view.
func drivers(t *testing.T, fn func(t *testing.T, s *Snapshotter)) {
	for _, d := range []Driver{DriverOverlay, DriverCopy} {
		t.Run(string(d), func(t *testing.T) {
			s := openSnapshotter(t, WithDriver(d))
			if d == DriverOverlay && s.probeOverlay() != nil {
				t.Skip("overlayfs cannot be mounted here")
			}
			fn(t, s)
		})
	}
}

// TestMergedView unpacks three layers with whiteouts, an opaque directory and hardlinks,
// mounts a container on them and checks the merged view and copy-on-write.
func TestMergedView(t *testing.T) {
	testutil.RequiresRoot(t)
	drivers(t, func(t *testing.T, s *Snapshotter) {
		l1 := unpack(t, s, "", layerTar(t,
			dir("a/"), file("a/gone", "1"), file("a/stays", "2"),
			dir("b/"), file("b/old", "3"), dir("b/sub/"), file("b/sub/deep", "4"),
			dir("c/"), file("c/y", "5"), file("top", "6"), file("replaced", "old"),
			file("h1", "linked"), hardlink("h2", "h1"),
		))
		l2 := unpack(t, s, l1, layerTar(t,
			whiteout("a/.wh.gone"),
			dir("b/"), whiteout("b/.wh..wh..opq"), file("b/new", "7"),
			whiteout(".wh.c"),
			file("replaced", "new"),
		))
		l3 := unpack(t, s, l2, layerTar(t, dir("c/"), file("c/again", "8")))

		if err := s.Prepare("ctr1", l3); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Remove("ctr1") })
		if err := s.Prepare("ctr1", l3); !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Fatalf("second prepare: %v", err)
		}
		target := mountTarget(t, s)
		if err := s.Mount("ctr1", target, false); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"a/stays": "2", "b/new": "7", "c/again": "8", "top": "6", "replaced": "new", "h2": "linked"}
		for p, body := range want {
			if got := readFile(t, filepath.Join(target, p)); got != body {
				t.Errorf("%s = %q, want %q", p, got, body)
			}
		}
		for _, p := range []string{"a/gone", "b/old", "b/sub", "c/y", "a/.wh.gone", "b/.wh..wh..opq"} {
			assertMissing(t, filepath.Join(target, p))
		}
		if lstat(t, filepath.Join(target, "h1")).Ino != lstat(t, filepath.Join(target, "h2")).Ino {
			t.Error("hardlink lost in the merged view")
		}
		// Writes go to the container layer, never to the shared snapshots.
		if err := os.WriteFile(filepath.Join(target, "top"), []byte("changed"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(target, "a/stays")); err != nil {
			t.Fatal(err)
		}
		if readFile(t, filepath.Join(fsDir(s, l1), "top")) != "6" {
			t.Fatal("write reached the image layer")
		}
		if s.Usage("ctr1") == 0 {
			t.Error("usage of a written container layer is 0")
		}
		if err := s.Unmount(target); err != nil {
			t.Fatal(err)
		}
		assertMissing(t, filepath.Join(target, "top"))

		// Read-only mount of the same layer shows the container's changes.
		if err := s.Mount("ctr1", target, true); err != nil {
			t.Fatal(err)
		}
		if readFile(t, filepath.Join(target, "top")) != "changed" {
			t.Error("read-only view misses the container's write")
		}
		assertMissing(t, filepath.Join(target, "a/stays"))
		if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("write to a read-only mount: %v", err)
		}
		if err := s.Unmount(target); err != nil {
			t.Fatal(err)
		}
		keys, err := s.Keys()
		if err != nil || keys["ctr1"] != l3 {
			t.Fatalf("keys %v %v", keys, err)
		}
		if err := s.Remove("ctr1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Mount("ctr1", target, false); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("mount of a removed layer: %v", err)
		}
	})
}

func TestEmptyRootfs(t *testing.T) {
	testutil.RequiresRoot(t)
	drivers(t, func(t *testing.T, s *Snapshotter) {
		if err := s.Prepare("scratch", ""); err != nil {
			t.Fatal(err)
		}
		target := mountTarget(t, s)
		if err := s.Mount("scratch", target, false); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(target, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLongChain mounts more layers than mount(2)'s one-page option string can name.
func TestLongChain(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t, WithDriver(DriverOverlay))
	if s.probeOverlay() != nil {
		t.Skip("overlayfs cannot be mounted here")
	}
	var chain = unpack(t, s, "", layerTar(t, file("base", "0")))
	const n = 120
	for i := 1; i < n; i++ {
		chain = unpack(t, s, chain, layerTar(t, file(fmt.Sprintf("f%d", i), fmt.Sprint(i))))
	}
	if err := s.Prepare("long", chain); err != nil {
		t.Fatal(err)
	}
	target := mountTarget(t, s)
	if err := s.Mount("long", target, false); err != nil {
		var uname unix.Utsname
		_ = unix.Uname(&uname)
		t.Fatalf("mount %d layers (kernel %s): %v", n, unix.ByteSliceToString(uname.Release[:]), err)
	}
	for _, p := range []string{"base", "f1", fmt.Sprintf("f%d", n-1)} {
		if _, err := os.Stat(filepath.Join(target, p)); err != nil {
			t.Error(err)
		}
	}
}

func TestBadKeys(t *testing.T) {
	s := openSnapshotter(t)
	for _, k := range []string{"", "../x", "a/b", ".hidden", string(make([]byte, 200))} {
		if err := s.Prepare(k, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Prepare(%q): %v", k, err)
		}
		if err := s.Remove(k); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Remove(%q): %v", k, err)
		}
	}
}

func TestUnmountNotMounted(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t)
	if err := s.Unmount(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := s.Unmount(filepath.Join(t.TempDir(), "missing")); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAfterCrash reopens a snapshotter whose tmp/ holds what a kill -9 during the
// overlay probe leaves: a directory with a mount on a subdirectory.
func TestOpenAfterCrash(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	merged := filepath.Join(root, "tmp", "probe-1", "merged")
	if err := os.MkdirAll(merged, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", merged, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(merged, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(merged, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root); err != nil {
		t.Fatalf("open after a crash: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "tmp", "probe-1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover probe still there: %v", err)
	}
}

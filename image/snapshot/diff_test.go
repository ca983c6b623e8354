package snapshot

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/internal/testutil"
)

// TestDiffRoundTrip changes a mounted container layer (new, changed, deleted files, a
// directory replaced, a hardlink), diffs it, and checks that the diff unpacked on the
// same parent gives the container's view.
func TestDiffRoundTrip(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t, WithDriver(DriverOverlay))
	if s.probeOverlay() != nil {
		t.Skip("overlayfs cannot be mounted here")
	}
	base := unpack(t, s, "", layerTar(t,
		dir("etc/"), file("etc/keep", "k"), file("etc/gone", "g"), file("etc/changed", "old"),
		dir("data/"), file("data/a", "a"), dir("data/sub/"), file("data/sub/b", "b"),
		dir("skipme/"),
	))
	if err := s.Prepare("step", base); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove("step") })
	root := mountTarget(t, s)
	if err := s.Mount("step", root, false); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(filepath.Join(root, "etc/gone")))
	must(os.WriteFile(filepath.Join(root, "etc/changed"), []byte("new"), 0o600))
	must(os.Chmod(filepath.Join(root, "etc/changed"), 0o600))
	must(os.WriteFile(filepath.Join(root, "etc/added"), []byte("+"), 0o644))
	must(os.Link(filepath.Join(root, "etc/added"), filepath.Join(root, "etc/added-link")))
	must(os.RemoveAll(filepath.Join(root, "data")))
	must(os.MkdirAll(filepath.Join(root, "data/fresh"), 0o750))
	must(os.Symlink("../etc/keep", filepath.Join(root, "data/fresh/link")))
	must(os.WriteFile(filepath.Join(root, "skipme/file"), []byte("x"), 0o644))
	must(s.Unmount(root))

	var buf bytes.Buffer
	if err := s.Diff("step", &buf, func(rel string) bool { return rel == "skipme" }); err != nil {
		t.Fatal(err)
	}
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[hdr.Name] = hdr
	}
	for _, name := range []string{"etc/.wh.gone", "etc/changed", "etc/added", "data/", "data/.wh..wh..opq", "data/fresh/link"} {
		if entries[name] == nil {
			t.Errorf("the diff has no %s", name)
		}
	}
	for _, name := range []string{"etc/keep", "skipme/", "skipme/file"} {
		if entries[name] != nil {
			t.Errorf("the diff has %s", name)
		}
	}
	if h := entries["etc/added-link"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "etc/added" {
		t.Errorf("hardlink: %+v", h)
	}

	// The diff on the same parent gives the container's view.
	top := unpack(t, s, base, buf.Bytes())
	if err := s.Prepare("check", top); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove("check") })
	view := mountTarget(t, s)
	must(s.Mount("check", view, true))
	assertMissing(t, filepath.Join(view, "etc/gone"))
	assertMissing(t, filepath.Join(view, "data/a"))
	assertMissing(t, filepath.Join(view, "data/sub"))
	if got := readFile(t, filepath.Join(view, "etc/changed")); got != "new" {
		t.Errorf("etc/changed: %q", got)
	}
	if st := lstat(t, filepath.Join(view, "etc/changed")); st.Mode&0o777 != 0o600 {
		t.Errorf("etc/changed mode %o", st.Mode&0o777)
	}
	if got, _ := os.Readlink(filepath.Join(view, "data/fresh/link")); got != "../etc/keep" {
		t.Errorf("link: %q", got)
	}
	if a, b := lstat(t, filepath.Join(view, "etc/added")), lstat(t, filepath.Join(view, "etc/added-link")); a.Ino != b.Ino {
		t.Error("the hardlink became a copy")
	}
}

func TestDiffNeedsOverlay(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t, WithDriver(DriverCopy))
	if err := s.Prepare("c", ""); err != nil {
		t.Fatal(err)
	}
	defer s.Remove("c")
	if err := s.Diff("c", io.Discard, nil); err == nil {
		t.Fatal("a copy-driver layer was diffed")
	}
}

// TestCommitUpper publishes a container layer's upper directory as a snapshot and checks
// the merged view on it equals the container's, without overlayfs' own xattrs.
func TestCommitUpper(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t, WithDriver(DriverOverlay))
	if s.probeOverlay() != nil {
		t.Skip("overlayfs cannot be mounted here")
	}
	base := unpack(t, s, "", layerTar(t, dir("etc/"), file("etc/gone", "g"), file("etc/keep", "k"), dir("d/"), file("d/old", "o")))
	if err := s.Prepare("step", base); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove("step") })
	root := mountTarget(t, s)
	if err := s.Mount("step", root, false); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "etc/gone"))
	os.WriteFile(filepath.Join(root, "etc/keep"), []byte("changed"), 0o644)
	os.RemoveAll(filepath.Join(root, "d"))
	os.MkdirAll(filepath.Join(root, "d/new"), 0o755)
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	if err := s.Unmount(root); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Diff("step", &buf, func(rel string) bool { return rel == "proc" }); err != nil {
		t.Fatal(err)
	}
	diffID := digest.FromBytes(buf.Bytes())
	chain := ChainID(base, diffID)
	if err := s.CommitUpper("step", chain, base, diffID, []string{"proc"}); err != nil {
		t.Fatal(err)
	}
	if !s.Exists(chain) {
		t.Fatal("no snapshot")
	}
	if _, err := os.Lstat(filepath.Join(fsDir(s, chain), "proc")); err == nil {
		t.Error("a skipped path reached the snapshot")
	}
	if v, _ := getXattr(filepath.Join(fsDir(s, chain), "d"), "trusted.overlay.opaque"); v != "y" {
		t.Errorf("the replaced directory lost its opaque mark: %q", v)
	}
	if err := s.Prepare("check", chain); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Remove("check") })
	view := mountTarget(t, s)
	if err := s.Mount("check", view, true); err != nil {
		t.Fatal(err)
	}
	assertMissing(t, filepath.Join(view, "etc/gone"))
	assertMissing(t, filepath.Join(view, "d/old"))
	if got := readFile(t, filepath.Join(view, "etc/keep")); got != "changed" {
		t.Errorf("etc/keep: %q", got)
	}
	if _, err := os.Stat(filepath.Join(view, "d/new")); err != nil {
		t.Error(err)
	}
	// The same changes unpacked from the tar give the same chain: Verify agrees.
	if err := s.Verify(chain); err != nil {
		t.Error(err)
	}
}

package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/testutil"
)

// capV2 is a VFS_CAP_REVISION_2 security.capability value granting cap_net_bind_service.
var capV2 = string([]byte{0, 0, 0, 2, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

func TestUnpackFeatures(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t)
	setuid := file("bin/su", "su")
	setuid.mode, setuid.uid, setuid.gid = 0o4755, 0, 0
	owned := file("home/u/f", "mine")
	owned.uid, owned.gid, owned.mode = 1000, 1001, 0o600
	xat := file("x", "x")
	xat.xattrs = map[string]string{"user.note": "hi", "security.capability": capV2, "trusted.overlay.redirect": "/etc", "security.selinux": "evil"}
	layer := layerTar(t,
		dir("bin/"), setuid,
		dir("home/"), dir("home/u/"), owned,
		file("/abs/file", "abs"), // absolute names are made relative
		file("a/../b", "b"),      // ".." inside the root is fine
		symlink("lnk", "/bin/su"),
		hardlink("hl", "bin/su"),
		xat,
		ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		ent{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, major: 8, minor: 0},
		ent{name: "fifo", typ: tar.TypeFifo, mode: 0o644},
		whiteout("etc/.wh.removed"),
		dir("opaque/"), whiteout("opaque/.wh..wh..opq"), file("opaque/kept", "k"),
		whiteout(".wh..wh.plnk"), // aufs metadata is ignored
	)
	chain := unpack(t, s, "", layer)
	root := fsDir(s, chain)

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"setuid kept after chown", func(t *testing.T) {
			st := lstat(t, filepath.Join(root, "bin/su"))
			if st.Mode&0o7777 != 0o4755 || st.Nlink != 2 {
				t.Fatalf("mode %o nlink %d", st.Mode&0o7777, st.Nlink)
			}
		}},
		{"owner and mode", func(t *testing.T) {
			st := lstat(t, filepath.Join(root, "home/u/f"))
			if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o777 != 0o600 {
				t.Fatalf("owner %d:%d mode %o", st.Uid, st.Gid, st.Mode&0o777)
			}
		}},
		{"mtimes", func(t *testing.T) {
			for _, p := range []string{"home/u/f", "home/u", "home", "lnk"} {
				st := lstat(t, filepath.Join(root, p))
				if st.Mtim.Sec != epoch.Unix() {
					t.Errorf("%s mtime %d, want %d", p, st.Mtim.Sec, epoch.Unix())
				}
			}
		}},
		{"absolute and dotdot names", func(t *testing.T) {
			if readFile(t, filepath.Join(root, "abs/file")) != "abs" || readFile(t, filepath.Join(root, "b")) != "b" {
				t.Fatal("content")
			}
		}},
		{"symlink stored as text", func(t *testing.T) {
			if l, err := os.Readlink(filepath.Join(root, "lnk")); err != nil || l != "/bin/su" {
				t.Fatalf("readlink %q %v", l, err)
			}
		}},
		{"hardlink shares the inode", func(t *testing.T) {
			if lstat(t, filepath.Join(root, "hl")).Ino != lstat(t, filepath.Join(root, "bin/su")).Ino {
				t.Fatal("different inodes")
			}
		}},
		{"xattrs and capabilities", func(t *testing.T) {
			p := filepath.Join(root, "x")
			if v, err := lgetxattr(p, "user.note"); err != nil || string(v) != "hi" {
				t.Fatalf("user.note %q %v", v, err)
			}
			if v, err := lgetxattr(p, "security.capability"); err != nil || string(v) != capV2 {
				t.Fatalf("security.capability %x %v", v, err)
			}
			for _, bad := range []string{"trusted.overlay.redirect", "security.selinux"} {
				if v, err := lgetxattr(p, bad); err == nil && string(v) == "evil" || bad == "trusted.overlay.redirect" && err == nil {
					t.Fatalf("%s was set from the layer", bad)
				}
			}
		}},
		{"devices and fifo", func(t *testing.T) {
			st := lstat(t, filepath.Join(root, "dev/null"))
			if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 || st.Mode&0o777 != 0o666 {
				t.Fatalf("dev/null mode %o rdev %d", st.Mode, st.Rdev)
			}
			if st := lstat(t, filepath.Join(root, "dev/sda")); st.Mode&unix.S_IFMT != unix.S_IFBLK {
				t.Fatal("dev/sda not a block device")
			}
			if st := lstat(t, filepath.Join(root, "fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
				t.Fatal("fifo not a fifo")
			}
		}},
		{"whiteout becomes a 0/0 char device", func(t *testing.T) {
			st := lstat(t, filepath.Join(root, "etc/removed"))
			if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
				t.Fatalf("mode %o rdev %d", st.Mode, st.Rdev)
			}
			assertMissing(t, filepath.Join(root, "etc/.wh.removed"))
			assertMissing(t, filepath.Join(root, ".wh..wh.plnk"))
		}},
		{"opaque directory gets the overlay xattr", func(t *testing.T) {
			if v, err := lgetxattr(filepath.Join(root, "opaque"), opaqueXattr); err != nil || string(v) != "y" {
				t.Fatalf("opaque xattr %q %v", v, err)
			}
			if readFile(t, filepath.Join(root, "opaque/kept")) != "k" {
				t.Fatal("kept file")
			}
			assertMissing(t, filepath.Join(root, "opaque/.wh..wh..opq"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
	if n, err := s.Size(chain); err != nil || n != int64(len("su")+len("mine")+len("abs")+1+1+1) {
		t.Fatalf("size %d %v", n, err)
	}
}

func TestWhiteoutAndEntryInSameLayer(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t)
	chain := unpack(t, s, "", layerTar(t,
		file("f", "kept"), whiteout(".wh.f"), // the file stays: whiteouts hide lower layers only
		whiteout(".wh.d"), dir("d/"), file("d/new", "n"), // recreated directory hides the lower one
		dir("e/"), whiteout(".wh.e"),
	))
	root := fsDir(s, chain)
	if readFile(t, filepath.Join(root, "f")) != "kept" {
		t.Fatal("file lost to a same-layer whiteout")
	}
	for _, d := range []string{"d", "e"} {
		if v, err := lgetxattr(filepath.Join(root, d), opaqueXattr); err != nil || string(v) != "y" {
			t.Fatalf("%s: want opaque, got %q %v", d, v, err)
		}
	}
}

func TestUnpackIdempotentAndAtomic(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openSnapshotter(t)
	data := layerTar(t, file("a", "1"))
	chain := unpack(t, s, "", data)
	// Already unpacked: the reader is not touched.
	if err := s.Unpack(context.Background(), chain, "", failingReader{}); err != nil {
		t.Fatalf("second unpack: %v", err)
	}
	// A failed unpack leaves neither a snapshot nor a temp directory.
	bad := layerTar(t, file("a", "1"), file("../../x", "2"))
	badChain := ChainID("", digestOf(bad))
	if err := s.Unpack(context.Background(), badChain, "", bytes.NewReader(bad)); err == nil {
		t.Fatal("hostile layer accepted")
	}
	if s.Exists(badChain) {
		t.Fatal("failed unpack left a snapshot")
	}
	assertEmptyDir(t, filepath.Join(s.Root(), "tmp"))
	// A crash mid-unpack leaves tmp/ entries: Open clears them.
	if err := os.MkdirAll(filepath.Join(s.Root(), "tmp", "unpack-123", "fs", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.Root()); err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, filepath.Join(s.Root(), "tmp"))
	chains, err := s.Chains()
	if err != nil || len(chains) != 1 || chains[0] != chain {
		t.Fatalf("chains %v %v", chains, err)
	}
	if err := s.RemoveSnapshot(chain); err != nil || s.Exists(chain) {
		t.Fatalf("remove snapshot: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { panic("read from a layer that is already unpacked") }

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("%s not empty: %s", dir, strings.Join(names, ", "))
	}
}

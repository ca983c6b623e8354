package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/testutil"
)

func mountTmpfsForTest(p string) error { return unix.Mount("tmpfs", p, "tmpfs", 0, "size=1m") }
func unmountForTest(p string) error    { return unix.Unmount(p, unix.MNT_DETACH) }

func lstat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// entry describes one node of a test tree; the tree is built in order.
type entry struct {
	path   string
	kind   string // file, dir, symlink, hardlink (target is the first link), fifo, chardev
	target string
	mode   uint32
	body   string
	uid    int // -1: leave as created
	gid    int
}

var mtime = time.Date(2020, 2, 3, 4, 5, 6, 7000, time.UTC)

func buildTree(t *testing.T, root string, entries []entry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, e.path)
		var err error
		switch e.kind {
		case "file":
			err = os.WriteFile(p, []byte(e.body), 0o600)
		case "dir":
			err = os.Mkdir(p, 0o700)
		case "symlink":
			err = os.Symlink(e.target, p)
		case "hardlink":
			err = os.Link(filepath.Join(root, e.target), p)
		case "fifo":
			err = unix.Mkfifo(p, 0o600)
		case "chardev":
			err = unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
		}
		if err != nil {
			t.Fatalf("build %s: %v", e.path, err)
		}
		if e.uid >= 0 {
			if err := os.Lchown(p, e.uid, e.gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Modes and times last, deepest first, so that a read-only directory is filled before
	// it turns read-only and creating children does not move its mtime.
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.kind != "symlink" && e.kind != "hardlink" {
			if err := unix.Chmod(filepath.Join(root, e.path), e.mode); err != nil {
				t.Fatal(err)
			}
		}
		ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, entries[i].path), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTree asserts dst holds entries as built, with the same type, mode, owner, body,
// link target and mtime.
func checkTree(t *testing.T, dst string, entries []entry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dst, e.path)
		st := lstat(t, p)
		if e.kind == "hardlink" {
			if first := lstat(t, filepath.Join(dst, e.target)); first.Ino != st.Ino {
				t.Errorf("%s: not a hardlink of %s in the copy", e.path, e.target)
			}
			continue
		}
		wantType := map[string]uint32{"file": unix.S_IFREG, "dir": unix.S_IFDIR,
			"symlink": unix.S_IFLNK, "fifo": unix.S_IFIFO, "chardev": unix.S_IFCHR}[e.kind]
		if st.Mode&unix.S_IFMT != wantType {
			t.Errorf("%s: type %o, want %o", e.path, st.Mode&unix.S_IFMT, wantType)
			continue
		}
		if e.kind != "symlink" && st.Mode&0o7777 != e.mode {
			t.Errorf("%s: mode %o, want %o", e.path, st.Mode&0o7777, e.mode)
		}
		if e.uid >= 0 && (int(st.Uid) != e.uid || int(st.Gid) != e.gid) {
			t.Errorf("%s: owner %d:%d, want %d:%d", e.path, st.Uid, st.Gid, e.uid, e.gid)
		}
		if got := time.Unix(st.Mtim.Unix()); !got.Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", e.path, got, mtime)
		}
		switch e.kind {
		case "file":
			if b, err := os.ReadFile(p); err != nil || string(b) != e.body {
				t.Errorf("%s: body %q %v, want %q", e.path, b, err, e.body)
			}
		case "symlink":
			if got, err := os.Readlink(p); err != nil || got != e.target {
				t.Errorf("%s: link %q %v, want %q", e.path, got, err, e.target)
			}
		case "chardev":
			if st.Rdev != unix.Mkdev(1, 3) {
				t.Errorf("%s: rdev %x", e.path, st.Rdev)
			}
		}
	}
}

// newVolumeDir returns an empty data dir shaped like a volume's: <tmp>/vol/_data.
func newVolumeDir(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "vol", "_data")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestSeedTree(t *testing.T) {
	outside := t.TempDir() // stands for the host: nothing may be read through or written to it
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	entries := []entry{
		{path: "file", kind: "file", mode: 0o640, body: "hello", uid: -1},
		{path: "empty", kind: "file", mode: 0o400, uid: -1},
		{path: "setuid", kind: "file", mode: 0o4755, body: "#!", uid: -1},
		{path: "sticky", kind: "dir", mode: 0o1777, uid: -1},
		{path: "setgid", kind: "dir", mode: 0o2750, uid: -1},
		{path: "setgid/deep", kind: "dir", mode: 0o755, uid: -1},
		{path: "setgid/deep/x", kind: "file", mode: 0o600, body: "deep", uid: -1},
		{path: "locked", kind: "dir", mode: 0o500, uid: -1},
		{path: "locked/inner", kind: "file", mode: 0o400, body: "in", uid: -1},
		{path: "evil", kind: "symlink", target: "../../etc/passwd", uid: -1},
		{path: "abs", kind: "symlink", target: "/etc/passwd", uid: -1},
		{path: "escape", kind: "symlink", target: outside, uid: -1},
		{path: "dangling", kind: "symlink", target: "nowhere", uid: -1},
		{path: "hard1", kind: "file", mode: 0o644, body: "shared", uid: -1},
		{path: "setgid/deep/hard2", kind: "hardlink", target: "hard1", uid: -1},
		{path: "hard3", kind: "hardlink", target: "hard1", uid: -1},
		{path: "linkedlink", kind: "hardlink", target: "evil", uid: -1},
		{path: "fifo", kind: "fifo", mode: 0o620, uid: -1},
	}
	src := t.TempDir()
	buildTree(t, src, entries)
	if err := os.Chmod(src, 0o751); err != nil {
		t.Fatal(err)
	}
	xattrOK := unix.Lsetxattr(filepath.Join(src, "file"), "user.drover", []byte("yes"), 0) == nil

	dst := newVolumeDir(t)
	t.Cleanup(func() { // let t.TempDir's cleanup in when not running as root
		os.Chmod(filepath.Join(src, "locked"), 0o700)
		os.Chmod(filepath.Join(dst, "locked"), 0o700)
	})
	if err := Seed(dst, src); err != nil {
		t.Fatal(err)
	}
	checkTree(t, dst, entries)
	if st := lstat(t, dst); st.Mode&0o7777 != 0o751 {
		t.Errorf("data dir mode %o, want the source's 751", st.Mode&0o7777)
	}
	if xattrOK {
		buf := make([]byte, 16)
		n, err := unix.Lgetxattr(filepath.Join(dst, "file"), "user.drover", buf)
		if err != nil || string(buf[:n]) != "yes" {
			t.Errorf("xattr: %q %v", buf[:n], err)
		}
	}
	// Nothing reached the "host" directory, and no temp copy was left beside the data dir.
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("outside dir has %d entries, want 1", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("volume dir holds %d entries, want only _data", len(ents))
	}
}

func TestSeedOwnershipAndDevices(t *testing.T) {
	testutil.RequiresRoot(t)
	entries := []entry{
		{path: "owned", kind: "file", mode: 0o640, body: "x", uid: 1234, gid: 5678},
		{path: "suid", kind: "file", mode: 0o4755, body: "x", uid: 1000, gid: 1000},
		{path: "dir", kind: "dir", mode: 0o2770, uid: 2000, gid: 2001},
		{path: "dir/link", kind: "symlink", target: "../owned", uid: 3000, gid: 3001},
		{path: "dir/fifo", kind: "fifo", mode: 0o600, uid: 4000, gid: 4001},
		{path: "null", kind: "chardev", mode: 0o666, uid: 0, gid: 0},
	}
	src := t.TempDir()
	buildTree(t, src, entries)
	if err := os.Chown(src, 999, 998); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o700); err != nil {
		t.Fatal(err)
	}
	dst := newVolumeDir(t)
	if err := Seed(dst, src); err != nil {
		t.Fatal(err)
	}
	checkTree(t, dst, entries)
	if st := lstat(t, dst); st.Uid != 999 || st.Gid != 998 || st.Mode&0o7777 != 0o700 {
		t.Errorf("data dir %d:%d %o, want 999:998 700", st.Uid, st.Gid, st.Mode&0o7777)
	}
}

func TestSeedNoops(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "image-file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		src     string
		prepare func(dst string)
	}{
		{"missing source", filepath.Join(src, "missing"), nil},
		{"missing parent of source", filepath.Join(src, "no", "such"), nil},
		{"non-empty volume", src, func(dst string) {
			os.WriteFile(filepath.Join(dst, "user-data"), []byte("mine"), 0o600)
		}},
		{"volume holding only an empty dir", src, func(dst string) { os.Mkdir(filepath.Join(dst, "d"), 0o755) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := newVolumeDir(t)
			if tt.prepare != nil {
				tt.prepare(dst)
			}
			before, _ := os.ReadDir(dst)
			if err := Seed(dst, tt.src); err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadDir(dst)
			if len(after) != len(before) {
				t.Fatalf("Seed changed the volume: %d entries before, %d after", len(before), len(after))
			}
			if st := lstat(t, dst); st.Mode&0o777 != 0o755 {
				t.Fatalf("Seed changed the data dir's mode to %o", st.Mode&0o777)
			}
		})
	}
}

func TestSeedRefusesBadSource(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"link", "file"} {
		dst := newVolumeDir(t)
		err := Seed(dst, filepath.Join(root, name))
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Seed from %s: %v, want ErrInvalidArgument", name, err)
		}
		if ents, _ := os.ReadDir(dst); len(ents) != 0 {
			t.Errorf("Seed from %s copied %d entries", name, len(ents))
		}
	}
}

func TestSeedTwiceKeepsFirst(t *testing.T) {
	src1, src2 := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src1, "one"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(src2, "two"), []byte("2"), 0o644)
	dst := newVolumeDir(t)
	if err := Seed(dst, src1); err != nil {
		t.Fatal(err)
	}
	if err := Seed(dst, src2); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dst)
	if len(ents) != 1 || ents[0].Name() != "one" {
		t.Fatalf("volume holds %v", ents)
	}
}

func TestSeedIntoTmpfsVolume(t *testing.T) {
	testutil.RequiresRoot(t)
	s := openStore(t)
	v := mustCreate(t, s, "tmp", nil, map[string]string{"type": "tmpfs", "o": "size=1m"})
	mp, err := s.Mount("tmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unmount("tmp") })
	entries := []entry{
		{path: "d", kind: "dir", mode: 0o750, uid: -1},
		{path: "d/f", kind: "file", mode: 0o644, body: "tmpfs", uid: -1},
	}
	src := t.TempDir()
	buildTree(t, src, entries)
	if err := Seed(mp, src); err != nil {
		t.Fatal(err)
	}
	checkTree(t, v.Mountpoint, entries)
	if !isMountpoint(v.Mountpoint) {
		t.Fatal("seeding replaced the tmpfs mount")
	}
}

func TestSeedDeepTreeRefused(t *testing.T) {
	src := t.TempDir()
	p := src
	for range maxSeedDepth + 1 {
		p = filepath.Join(p, "d")
		if err := os.Mkdir(p, 0o755); err != nil {
			// Path too long for this file system's helpers: build with *at calls instead.
			t.Skipf("cannot build a %d-deep tree: %v", maxSeedDepth+1, err)
		}
	}
	dst := newVolumeDir(t)
	err := Seed(dst, src)
	if err == nil || !strings.Contains(err.Error(), "nest more than") {
		t.Fatalf("Seed of a too-deep tree: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Fatalf("a failed seed left %d entries beside the data dir", len(ents))
	}
}

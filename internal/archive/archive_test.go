package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/drover/drover/internal/errdefs"
)

type entry struct {
	name, link string
	typ        byte
	body       string
}

func makeTar(t *testing.T, entries []entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return &buf
}

func TestRoundTrip(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "data", "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "data", "sub", "f"), []byte("hello"), 0o640)
	os.Symlink("sub/f", filepath.Join(src, "data", "link"))
	var buf bytes.Buffer
	if err := Tar(&buf, src, "/data"); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	os.Mkdir(filepath.Join(dst, "in"), 0o755)
	if err := Untar(&buf, dst, "/in", DefaultLimits); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "in", "data", "sub", "f"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("file = %q, %v", got, err)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "in", "data", "sub", "f")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v", fi.Mode())
	}
	if l, _ := os.Readlink(filepath.Join(dst, "in", "data", "link")); l != "sub/f" {
		t.Fatalf("link = %q", l)
	}
	if err := Tar(&bytes.Buffer{}, src, "/nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("missing path: %v", err)
	}
}

// TestHostile checks that neither the tar nor symlinks in the rootfs reach outside it.
func TestHostile(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []entry
	}{
		{"dotdot", []entry{{name: "../../" + filepath.Base(outside) + "/x", typ: tar.TypeReg, body: "pwn"}}},
		{"symlink write-through", []entry{
			{name: "esc", typ: tar.TypeSymlink, link: outside},
			{name: "esc/x", typ: tar.TypeReg, body: "pwn"},
		}},
		{"hardlink out", []entry{{name: "h", typ: tar.TypeLink, link: "../../../etc/passwd"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			err := Untar(makeTar(t, tc.entries), root, "/", DefaultLimits)
			if err == nil {
				t.Fatal("hostile tar accepted")
			}
			if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
				t.Fatal("wrote outside the root")
			}
		})
	}
	// A symlink the container planted is resolved inside the root, not on the host.
	root := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "planted"))
	os.MkdirAll(filepath.Join(root, outside), 0o755)
	if err := Untar(makeTar(t, []entry{{name: "x", typ: tar.TypeReg, body: "safe"}}), root, "/planted", DefaultLimits); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Fatal("followed a planted symlink out of the root")
	}
	if data, _ := os.ReadFile(filepath.Join(root, outside, "x")); string(data) != "safe" {
		t.Fatalf("planted symlink not resolved in root: %q", data)
	}
	// Limits hold.
	err := Untar(makeTar(t, []entry{{name: "big", typ: tar.TypeReg, body: "0123456789"}}), root, "/", Limits{MaxBytes: 5, MaxEntries: 10})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("size limit: %v", err)
	}
}

func FuzzUntar(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		os.Mkdir(root, 0o755)
		_ = Untar(bytes.NewReader(data), root, "/", Limits{MaxBytes: 1 << 20, MaxEntries: 100})
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("wrote beside the root: %v", entries)
		}
	})
}

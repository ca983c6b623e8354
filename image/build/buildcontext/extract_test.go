package buildcontext

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: mode, Linkname: e.link, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.Bytes()
}

var lim = Limits{MaxBytes: 1 << 20, MaxEntries: 1000}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	sums := map[string]string{}
	data := tarOf(t,
		entry{name: "a/", typ: tar.TypeDir, mode: 0o750},
		entry{name: "a/b.txt", body: "hello", typ: tar.TypeReg, mode: 0o600},
		entry{name: "deep/er/c", body: "x", typ: tar.TypeReg},
		entry{name: "link", link: "/etc/passwd", typ: tar.TypeSymlink},
		entry{name: "fifo", typ: tar.TypeFifo},
	)
	if err := Extract(bytes.NewReader(data), dir, lim, sums); err != nil {
		t.Fatal(err)
	}
	if sums["a/b.txt"] != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" || len(sums) != 2 {
		t.Fatalf("sums: %v", sums)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a/b.txt")); string(b) != "hello" {
		t.Fatalf("a/b.txt: %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "a/b.txt")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "a")); fi.Mode().Perm() != 0o750 {
		t.Fatalf("dir mode %v", fi.Mode())
	}
	if l, _ := os.Readlink(filepath.Join(dir, "link")); l != "/etc/passwd" {
		t.Fatalf("link %q", l)
	}
	if _, err := os.Lstat(filepath.Join(dir, "fifo")); err == nil {
		t.Fatal("a fifo was made")
	}
}

func TestExtractRefuses(t *testing.T) {
	for name, data := range map[string][]byte{
		"dotdot":        tarOf(t, entry{name: "../x", body: "x", typ: tar.TypeReg}),
		"through link":  tarOf(t, entry{name: "l", link: "/tmp", typ: tar.TypeSymlink}, entry{name: "l/x", body: "x", typ: tar.TypeReg}),
		"link as dir":   tarOf(t, entry{name: "l", link: ".", typ: tar.TypeSymlink}, entry{name: "l/", typ: tar.TypeDir}),
		"duplicate":     tarOf(t, entry{name: "f", body: "1", typ: tar.TypeReg}, entry{name: "f", body: "2", typ: tar.TypeReg}),
		"too big":       tarOf(t, entry{name: "f", body: strings.Repeat("x", 2<<20), typ: tar.TypeReg}),
		"hardlink":      tarOf(t, entry{name: "f", body: "1", typ: tar.TypeReg}, entry{name: "g", link: "f", typ: tar.TypeLink}),
		"garbage":       []byte(strings.Repeat("not a tar ", 100)),
		"file then dir": tarOf(t, entry{name: "f", body: "1", typ: tar.TypeReg}, entry{name: "f/x", body: "1", typ: tar.TypeReg}),
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "ctx")
			os.Mkdir(dir, 0o700)
			if err := Extract(bytes.NewReader(data), dir, lim, nil); err == nil {
				t.Fatal("accepted")
			}
			assertInside(t, parent, dir)
		})
	}
}

// assertInside fails when anything but dir exists in parent, or a file appeared in /tmp.
func assertInside(t testing.TB, parent, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if filepath.Join(parent, e.Name()) != dir {
			t.Fatalf("%s was written outside the context", e.Name())
		}
	}
	if _, err := os.Lstat("/tmp/x"); err == nil {
		t.Fatal("/tmp/x was written through a symlink")
	}
}

// FuzzExtract feeds hostile context tars: nothing may be written outside the directory.
func FuzzExtract(f *testing.F) {
	f.Add(tarOf(f, entry{name: "a/b", body: "x", typ: tar.TypeReg}))
	f.Add(tarOf(f, entry{name: "l", link: "..", typ: tar.TypeSymlink}, entry{name: "l/x", body: "x", typ: tar.TypeReg}))
	f.Add(tarOf(f, entry{name: "d/", typ: tar.TypeDir}, entry{name: "d/../../e", body: "x", typ: tar.TypeReg}))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "ctx")
		os.Mkdir(dir, 0o700)
		_ = Extract(bytes.NewReader(data), dir, lim, map[string]string{})
		assertInside(t, parent, dir)
	})
}

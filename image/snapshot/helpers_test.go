package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

var epoch = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// ent is one tar entry of a test layer.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
	xattrs           map[string]string
	size             int64 // announced size when it differs from len(body)
}

func file(name, body string) ent { return ent{name: name, body: body, typ: tar.TypeReg, mode: 0o644} }
func dir(name string) ent        { return ent{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeLink, mode: 0o644}
}
func whiteout(name string) ent { return file(name, "") }

// layerTar builds a layer tar from entries.
func layerTar(t testing.TB, entries ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		size := int64(len(e.body))
		if e.typ != tar.TypeReg {
			size = 0
		}
		hdr := &tar.Header{
			Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: size,
			Uid: e.uid, Gid: e.gid, ModTime: epoch, Devmajor: e.major, Devminor: e.minor, Format: tar.FormatPAX,
		}
		if len(e.xattrs) > 0 {
			hdr.PAXRecords = map[string]string{}
			for k, v := range e.xattrs {
				hdr.PAXRecords["SCHILYXATTR."+k] = v
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openSnapshotter(t testing.TB, opts ...Option) *Snapshotter {
	t.Helper()
	s, err := Open(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unpack stores data as a layer on parent and returns its chain ID.
func unpack(t testing.TB, s *Snapshotter, parent digest.Digest, data []byte) digest.Digest {
	t.Helper()
	chain := ChainID(parent, digest.FromBytes(data))
	if err := s.Unpack(context.Background(), chain, parent, bytes.NewReader(data)); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return chain
}

func fsDir(s *Snapshotter, chain digest.Digest) string {
	return filepath.Join(s.dir(chain), "fs")
}

func lstat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return st
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

func assertMissing(t testing.TB, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Fatalf("%s should not exist (err %v)", p, err)
	}
}

// mountTarget makes a directory to mount on and unmounts it at cleanup, even on failure.
func mountTarget(t *testing.T, s *Snapshotter) string {
	t.Helper()
	target := t.TempDir()
	t.Cleanup(func() {
		if err := s.Unmount(target); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return target
}

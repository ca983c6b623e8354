// Package testsuite is the shared test suite every content.Blobs implementation runs
// (a habit borrowed from containerd): the same behaviour checked the same way for each.
package testsuite

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/internal/errdefs"
)

// Run runs the suite against stores made by open (a fresh, empty store per call).
func Run(t *testing.T, open func(t *testing.T) content.Blobs) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s content.Blobs)
	}{
		{"WriteAndRead", testWriteAndRead},
		{"ComputedDigest", testComputedDigest},
		{"RefusedWrites", testRefusedWrites},
		{"AlreadyExists", testAlreadyExists},
		{"Delete", testDelete},
		{"Walk", testWalk},
		{"BadDigests", testBadDigests},
		{"Resume", testResume},
		{"OneWriterPerRef", testOneWriterPerRef},
		{"Abort", testAbort},
		{"ConcurrentSameBlob", testConcurrentSameBlob},
		{"SetExpected", testSetExpected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func blob(n int) []byte {
	return bytes.Repeat([]byte("drover-blob-"), n)
}

func mustWrite(t *testing.T, s content.Blobs, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	desc, err := content.WriteBlob(s, bytes.NewReader(data), d, int64(len(data)))
	if err != nil {
		t.Fatalf("write blob: %v", err)
	}
	if desc.Digest != d || desc.Size != int64(len(data)) {
		t.Fatalf("descriptor %v, want %s size %d", desc, d, len(data))
	}
	return d
}

func readAll(t *testing.T, s content.Blobs, d digest.Digest) []byte {
	t.Helper()
	rc, err := s.Open(d)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func assertAbsent(t *testing.T, s content.Blobs, d digest.Digest) {
	t.Helper()
	if _, err := s.Info(d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("blob %s: want ErrNotFound, got %v", d, err)
	}
}

func testWriteAndRead(t *testing.T, s content.Blobs) {
	data := blob(1000)
	d := mustWrite(t, s, data)
	if got := readAll(t, s, d); !bytes.Equal(got, data) {
		t.Fatal("read back different content")
	}
	info, err := s.Info(d)
	if err != nil || info.Size != int64(len(data)) || info.Digest != d {
		t.Fatalf("info %+v, %v", info, err)
	}
	ra, err := s.ReaderAt(d)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	if ra.Size() != int64(len(data)) {
		t.Fatalf("ReaderAt size %d", ra.Size())
	}
	buf := make([]byte, 5)
	if _, err := ra.ReadAt(buf, 12); err != nil || string(buf) != "drove" {
		t.Fatalf("ReadAt: %q %v", buf, err)
	}
}

func testComputedDigest(t *testing.T, s content.Blobs) {
	data := blob(3)
	desc, err := content.WriteBlob(s, bytes.NewReader(data), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digest.FromBytes(data) || desc.Size != int64(len(data)) {
		t.Fatalf("descriptor %v", desc)
	}
	if !bytes.Equal(readAll(t, s, desc.Digest), data) {
		t.Fatal("content differs")
	}
}

func testRefusedWrites(t *testing.T, s content.Blobs) {
	data := blob(10)
	good := digest.FromBytes(data)
	tests := []struct {
		name     string
		data     []byte
		expected digest.Digest
		size     int64
		want     string
	}{
		{"digest mismatch", data, digest.FromString("other"), -1, "digest mismatch"},
		{"short", data[:10], good, int64(len(data)), "cut short"},
		{"long", data, good, 10, "more than the expected"},
		{"wrong size right digest", data, good, int64(len(data)) + 1, "cut short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := content.WriteBlob(s, bytes.NewReader(tt.data), tt.expected, tt.size)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("want ErrInvalidArgument, got %v", err)
			}
			assertAbsent(t, s, tt.expected)
			assertAbsent(t, s, digest.FromBytes(tt.data))
		})
	}
	var n int
	_ = s.Walk(func(content.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs left behind by refused writes", n)
	}
}

func testAlreadyExists(t *testing.T, s content.Blobs) {
	data := blob(4)
	d := mustWrite(t, s, data)
	_, err := s.Writer("again", d, int64(len(data)))
	var exists *content.ExistsError
	if !errors.As(err, &exists) || !errors.Is(err, errdefs.ErrAlreadyExists) || exists.Info.Size != int64(len(data)) {
		t.Fatalf("want ExistsError, got %v", err)
	}
	// WriteBlob treats it as success.
	mustWrite(t, s, data)
	// A writer without expected digest meets the existing blob on Commit.
	w, err := s.Writer("", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("commit of an existing blob: %v", err)
	}
}

func testDelete(t *testing.T, s content.Blobs) {
	d := mustWrite(t, s, blob(2))
	if err := s.Delete(d); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, s, d)
	if err := s.Delete(d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Open(d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("open deleted: %v", err)
	}
}

func testWalk(t *testing.T, s content.Blobs) {
	want := map[digest.Digest]int64{}
	for i := 1; i <= 5; i++ {
		want[mustWrite(t, s, blob(i))] = int64(len(blob(i)))
	}
	got := map[digest.Digest]int64{}
	if err := s.Walk(func(i content.Info) error { got[i.Digest] = i.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("walk found %d blobs, want %d", len(got), len(want))
	}
	for d, n := range want {
		if got[d] != n {
			t.Fatalf("walk: %s size %d, want %d", d, got[d], n)
		}
	}
	stop := errors.New("stop")
	if err := s.Walk(func(content.Info) error { return stop }); err != stop {
		t.Fatalf("walk should return fn's error, got %v", err)
	}
}

func testBadDigests(t *testing.T, s content.Blobs) {
	for _, d := range []digest.Digest{"sha256:../../etc/passwd", "sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "nonsense", "sha256:" + digest.Digest(strings.Repeat("A", 64))} {
		if _, err := s.Info(d); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Info(%q): want ErrInvalidArgument, got %v", d, err)
		}
		if _, err := s.Open(d); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Open(%q): want ErrInvalidArgument, got %v", d, err)
		}
		if _, err := s.Writer("x", d, -1); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Writer(%q): want ErrInvalidArgument, got %v", d, err)
		}
		if err := s.Delete(d); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Delete(%q): want ErrInvalidArgument, got %v", d, err)
		}
	}
}

func testResume(t *testing.T, s content.Blobs) {
	data := blob(100)
	d := digest.FromBytes(data)
	w, err := s.Writer("pull-layer", d, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	if _, err := w.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, s, d)
	w, err = s.Writer("pull-layer", d, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if w.Offset() != int64(half) {
		t.Fatalf("resumed at %d, want %d", w.Offset(), half)
	}
	if _, err := w.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("commit resumed write: %v", err)
	}
	if !bytes.Equal(readAll(t, s, d), data) {
		t.Fatal("resumed blob differs")
	}
	// Resuming with another expected digest starts over.
	w, err = s.Writer("pull-other", digest.FromString("a"), 1)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("a"))
	_ = w.Close()
	w, err = s.Writer("pull-other", digest.FromString("bb"), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if w.Offset() != 0 {
		t.Fatalf("ingest for another digest resumed at %d", w.Offset())
	}
}

func testOneWriterPerRef(t *testing.T, s content.Blobs) {
	w, err := s.Writer("busy", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Writer("busy", "", -1); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("second writer on a ref: want ErrConflict, got %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = s.Writer("busy", "", -1)
	if err != nil {
		t.Fatalf("writer after close: %v", err)
	}
	_ = w.Abort()
}

func testAbort(t *testing.T, s content.Blobs) {
	w, err := s.Writer("aborted", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("partial"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	w, err = s.Writer("aborted", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if w.Offset() != 0 {
		t.Fatalf("aborted ingest kept %d bytes", w.Offset())
	}
}

func testConcurrentSameBlob(t *testing.T, s content.Blobs) {
	data := blob(5000)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Unnamed writes each get their own ingest; the first commit wins.
			_, err := content.WriteBlob(s, bytes.NewReader(data), "", int64(len(data)))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}
	if !bytes.Equal(readAll(t, s, digest.FromBytes(data)), data) {
		t.Fatal("content differs")
	}
}

// testSetExpected: a digest named only at the end of a write is checked, in the
// algorithm it names (sha512 rehashes what a sha256 writer wrote).
func testSetExpected(t *testing.T, s content.Blobs) {
	data := blob(300)
	for _, d := range []digest.Digest{digest.SHA256.FromBytes(data), digest.SHA512.FromBytes(data)} {
		w, err := s.Writer("", "", -1)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data[:100])
		_, _ = w.Write(data[100:])
		if err := w.SetExpected(d); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatalf("commit as %s: %v", d.Algorithm(), err)
		}
		if _, err := s.Info(d); err != nil {
			t.Fatalf("%s not stored: %v", d, err)
		}
	}
	w, err := s.Writer("", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	wrong := digest.SHA512.FromString("other")
	if err := w.SetExpected(wrong); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("commit with a wrong digest: %v", err)
	}
	if _, err := s.Info(wrong); err == nil {
		t.Fatal("a blob was stored under a wrong digest")
	}
}

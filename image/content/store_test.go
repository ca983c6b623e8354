package content

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/internal/errdefs"
)

func TestWriteVerify(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello blob")
	want := digest.FromBytes(data)
	got, n, err := s.Write(bytes.NewReader(data), want, int64(len(data)))
	if err != nil || got != want || n != int64(len(data)) {
		t.Fatalf("write = %s %d %v", got, n, err)
	}
	f, err := s.Open(want)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(back, data) {
		t.Fatalf("read back %q", back)
	}
	// Wrong digest, wrong size: refused, nothing stored.
	bad := digest.FromString("other")
	if _, _, err := s.Write(bytes.NewReader(data), bad, -1); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("digest mismatch: %v", err)
	}
	if s.Has(bad) {
		t.Fatal("mismatched blob stored")
	}
	if _, _, err := s.Write(bytes.NewReader([]byte("abc")), digest.FromString("abc"), 2); err == nil {
		t.Fatal("size mismatch accepted")
	}
	ingest, _ := os.ReadDir(s.root + "/ingest")
	if len(ingest) != 0 {
		t.Fatalf("partial writes left: %v", ingest)
	}
	var count int
	s.Walk(func(digest.Digest, int64) error { count++; return nil })
	if count != 1 {
		t.Fatalf("walk saw %d blobs", count)
	}
	if err := s.Delete(want); err != nil || s.Has(want) {
		t.Fatalf("delete: %v", err)
	}
}

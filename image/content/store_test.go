package content_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/image/content/testsuite"
)

func TestStoreSuite(t *testing.T) {
	testsuite.Run(t, func(t *testing.T) content.Blobs {
		s, err := content.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// ingests lists what is left in ingest/.
func ingests(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "ingest"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestLayoutAndNothingLeftBehind(t *testing.T) {
	root := t.TempDir()
	s, err := content.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello")
	d := digest.FromBytes(data)
	if _, err := s.WriteBlob(bytes.NewReader(data), d, 5); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "blobs", "sha256", d.Encoded())); err != nil || string(got) != "hello" {
		t.Fatalf("blob file: %q %v", got, err)
	}
	if _, err := s.WriteBlob(bytes.NewReader(data), digest.FromString("x"), 5); err == nil {
		t.Fatal("mismatch accepted")
	}
	if _, err := s.WriteBlob(bytes.NewReader(bytes.Repeat(data, 10)), "", 5); err == nil {
		t.Fatal("oversized write accepted")
	}
	if left := ingests(t, root); len(left) != 0 {
		t.Fatalf("failed writes left ingests: %v", left)
	}
	// A sha512 blob lives in its own directory.
	d512 := digest.SHA512.FromBytes(data)
	if _, err := s.WriteBlob(bytes.NewReader(data), d512, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "blobs", "sha512", d512.Encoded())); err != nil {
		t.Fatal(err)
	}
}

func TestPruneIngests(t *testing.T) {
	root := t.TempDir()
	s, err := content.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := s.Writer("stale", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = stale.Write([]byte("abc"))
	_ = stale.Close()
	open, err := s.Writer("open", "", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Abort()
	_, _ = open.Write([]byte("abc"))
	if err := s.PruneIngests(time.Hour); err != nil {
		t.Fatal(err)
	}
	if n := len(ingests(t, root)); n != 2 {
		t.Fatalf("young ingests pruned: %d left", n)
	}
	if err := s.PruneIngests(0); err != nil {
		t.Fatal(err)
	}
	if n := len(ingests(t, root)); n != 1 {
		t.Fatalf("want only the open ingest kept, %d left", n)
	}
	// Reopening the store keeps a partial write resumable.
	s2, err := content.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	_ = s2
	if n := len(ingests(t, root)); n != 1 {
		t.Fatalf("open dropped ingests: %d left", n)
	}
}

// Package content is drover's content-addressed blob store: blobs/sha256/<hex>, written
// through ingest/ with the digest verified while streaming, fsynced and committed by an
// atomic rename, so a crash or a mismatch never leaves a wrong blob under its name.
package content

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/internal/errdefs"
)

// Store keeps blobs under a root directory.
type Store struct {
	root string
}

// Open creates (if needed) and opens a store at root.
func Open(root string) (*Store, error) {
	for _, d := range []string{"blobs/sha256", "ingest"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	// Partial writes of a crashed process are garbage.
	ingest, _ := os.ReadDir(filepath.Join(root, "ingest"))
	for _, e := range ingest {
		_ = os.Remove(filepath.Join(root, "ingest", e.Name()))
	}
	return &Store{root: root}, nil
}

// Path is where the blob d lives.
func (s *Store) Path(d digest.Digest) string {
	return filepath.Join(s.root, "blobs", d.Algorithm().String(), d.Encoded())
}

// Has reports whether the blob is stored.
func (s *Store) Has(d digest.Digest) bool {
	_, err := os.Stat(s.Path(d))
	return err == nil
}

// Open returns a reader of the blob.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("bad digest %q: %w", d, errdefs.ErrInvalidArgument)
	}
	f, err := os.Open(s.Path(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return f, err
}

// Size returns the blob's size.
func (s *Store) Size(d digest.Digest) (int64, error) {
	fi, err := os.Stat(s.Path(d))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Write stores what r yields. When expected is set the content must match it (and size,
// when >= 0); otherwise the digest is computed. Nothing is stored on a mismatch.
func (s *Store) Write(r io.Reader, expected digest.Digest, size int64) (digest.Digest, int64, error) {
	if expected != "" {
		if err := expected.Validate(); err != nil {
			return "", 0, fmt.Errorf("bad digest %q: %w", expected, errdefs.ErrInvalidArgument)
		}
		if s.Has(expected) {
			n, _ := io.Copy(io.Discard, r)
			if size >= 0 && n != size {
				return "", 0, fmt.Errorf("blob %s: size %d, expected %d: %w", expected, n, size, errdefs.ErrInvalidArgument)
			}
			return expected, n, nil
		}
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), "blob-")
	if err != nil {
		return "", 0, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	dg := digest.Canonical.Digester()
	src := r
	if size >= 0 {
		src = io.LimitReader(r, size+1)
	}
	n, err := io.Copy(io.MultiWriter(f, dg.Hash()), src)
	if err != nil {
		return "", 0, err
	}
	if size >= 0 && n != size {
		return "", 0, fmt.Errorf("blob %s: size %d, expected %d: %w", expected, n, size, errdefs.ErrInvalidArgument)
	}
	got := dg.Digest()
	if expected != "" && got != expected {
		return "", 0, fmt.Errorf("blob digest mismatch: got %s, expected %s: %w", got, expected, errdefs.ErrInvalidArgument)
	}
	if err := f.Sync(); err != nil {
		return "", 0, err
	}
	if err := f.Close(); err != nil {
		return "", 0, err
	}
	if err := os.Rename(tmp, s.Path(got)); err != nil {
		return "", 0, err
	}
	ok = true
	return got, n, nil
}

// Delete removes a blob; a missing blob is not an error.
func (s *Store) Delete(d digest.Digest) error {
	err := os.Remove(s.Path(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Walk calls fn for every stored blob.
func (s *Store) Walk(fn func(d digest.Digest, size int64) error) error {
	entries, err := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if err := fn(d, info.Size()); err != nil {
			return err
		}
	}
	return nil
}

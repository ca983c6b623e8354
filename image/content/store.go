package content

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/errdefs"
)

// algorithms are the digests the store keeps (a directory each under blobs/).
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

// Store keeps blobs under a root directory.
type Store struct {
	root string

	mu      sync.Mutex
	writing map[string]bool // ingest keys with an open Writer
}

// ExistsError says the blob to be written is already stored; it wraps
// errdefs.ErrAlreadyExists and carries the stored blob's Info.
type ExistsError struct{ Info Info }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("blob %s: %s", e.Info.Digest, errdefs.ErrAlreadyExists)
}

// Unwrap makes errors.Is(err, errdefs.ErrAlreadyExists) true.
func (e *ExistsError) Unwrap() error { return errdefs.ErrAlreadyExists }

// Open creates (if needed) and opens a store at root. Partial writes in ingest/ are kept
// so that they can be resumed; PruneIngests removes stale ones.
func Open(root string) (*Store, error) {
	dirs := []string{"ingest"}
	for _, a := range algorithms {
		dirs = append(dirs, filepath.Join("blobs", a.String()))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	return &Store{root: root, writing: map[string]bool{}}, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// validate refuses digests the store cannot hold; the encoded part becomes a file name, so
// this check also keeps hostile digests from naming paths.
func validate(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("digest %q: %v: %w", d, err, errdefs.ErrInvalidArgument)
	}
	for _, a := range algorithms {
		if d.Algorithm() == a {
			return nil
		}
	}
	return fmt.Errorf("digest %q: algorithm %s is not supported (use sha256): %w", d, d.Algorithm(), errdefs.ErrInvalidArgument)
}

// Path is where the blob d lives (valid digests only).
func (s *Store) Path(d digest.Digest) string {
	return filepath.Join(s.root, "blobs", d.Algorithm().String(), d.Encoded())
}

func notFound(d digest.Digest) error {
	return fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
}

// Info describes the stored blob d.
func (s *Store) Info(d digest.Digest) (Info, error) {
	if err := validate(d); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, notFound(d)
	}
	if err != nil {
		return Info{}, fmt.Errorf("blob %s: %w", d, err)
	}
	return Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime()}, nil
}

// Has reports whether the blob d is stored.
func (s *Store) Has(d digest.Digest) bool {
	_, err := s.Info(d)
	return err == nil
}

type fileReaderAt struct {
	*os.File
	size int64
}

func (f fileReaderAt) Size() int64 { return f.size }

// ReaderAt opens the blob d for random access.
func (s *Store) ReaderAt(d digest.Digest) (ReaderAt, error) {
	f, err := s.openFile(d)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return fileReaderAt{File: f, size: fi.Size()}, nil
}

// Open opens the blob d for reading from the start.
func (s *Store) Open(d digest.Digest) (io.ReadCloser, error) {
	return s.openFile(d)
}

func (s *Store) openFile(d digest.Digest) (*os.File, error) {
	if err := validate(d); err != nil {
		return nil, err
	}
	f, err := os.Open(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(d)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, nil
}

// Delete removes the blob d; ErrNotFound when it is not stored.
func (s *Store) Delete(d digest.Digest) error {
	if err := validate(d); err != nil {
		return err
	}
	err := os.Remove(s.Path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return notFound(d)
	}
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// Walk calls fn for every committed blob; an error from fn stops the walk and is returned.
// Files that are not named like a digest are skipped.
func (s *Store) Walk(fn func(Info) error) error {
	for _, a := range algorithms {
		entries, err := os.ReadDir(filepath.Join(s.root, "blobs", a.String()))
		if err != nil {
			return fmt.Errorf("walk blobs: %w", err)
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(a, e.Name())
			if d.Validate() != nil || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // deleted meanwhile
			}
			if err := fn(Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteBlob copies r into the store as one blob; see the package function WriteBlob.
func (s *Store) WriteBlob(r io.Reader, expected digest.Digest, size int64) (ocispec.Descriptor, error) {
	return WriteBlob(s, r, expected, size)
}

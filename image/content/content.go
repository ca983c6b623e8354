// Package content is drover's content-addressed blob store.
//
// Layout under the root directory:
//
//	blobs/<alg>/<hex>    committed blobs, named by their digest
//	ingest/<key>/data    a write in progress (key is the sha256 of the writer's ref)
//	ingest/<key>/ref     the ref, so a crashed or interrupted write can be resumed
//
// Every write is hashed while it streams, checked against the expected digest and size,
// fsynced and published by an atomic rename, so a crash or a mismatch never leaves a wrong
// blob under a digest's name. A registry client writes through the same Writer, resuming
// an interrupted download from Writer.Offset.
package content

import (
	_ "crypto/sha256" // registers sha256 with go-digest
	_ "crypto/sha512" // registers sha512 with go-digest
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Info describes a committed blob.
type Info struct {
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time
}

// ReaderAt reads a committed blob at random offsets.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Writer streams one blob into the store. Write checks the size as it goes; Commit checks
// the digest and publishes the blob. Close without Commit keeps the partial data for a
// later Writer with the same ref to resume; Abort discards it.
type Writer interface {
	io.WriteCloser
	// Offset is how many bytes the ingest holds (where a resumed download continues).
	Offset() int64
	// Digest is the digest of what was written so far.
	Digest() digest.Digest
	// SetExpected names the digest the blob must have when it is known only at the end
	// of the write (a registry upload names it in its final request); a digest of
	// another algorithm than the one computed so far rehashes what was written.
	SetExpected(d digest.Digest) error
	// Commit verifies digest and size, fsyncs and publishes the blob.
	Commit() error
	// Abort discards the ingest.
	Abort() error
}

// Provider gives read access to committed blobs.
type Provider interface {
	ReaderAt(d digest.Digest) (ReaderAt, error)
	Open(d digest.Digest) (io.ReadCloser, error)
}

// Ingester writes new blobs. expected may be empty (the digest is computed) and size
// negative (unknown).
type Ingester interface {
	Writer(ref string, expected digest.Digest, size int64) (Writer, error)
}

// Manager inspects and deletes committed blobs.
type Manager interface {
	Info(d digest.Digest) (Info, error)
	Delete(d digest.Digest) error
	Walk(fn func(Info) error) error
}

// Blobs is a whole content store: what the image store and the registry client need.
type Blobs interface {
	Provider
	Ingester
	Manager
}

var _ Blobs = (*Store)(nil)

// WriteBlob copies r into ing as one blob and returns its descriptor. A blob that is
// already stored is not written again. On any error nothing is left behind. Each call
// writes through a private ingest, so concurrent writes of the same blob do not collide
// (the first commit wins, the others find the blob there).
func WriteBlob(ing Ingester, r io.Reader, expected digest.Digest, size int64) (ocispec.Descriptor, error) {
	w, err := ing.Writer("", expected, size)
	if err != nil {
		var existing *ExistsError
		if errors.As(err, &existing) {
			return ocispec.Descriptor{Digest: existing.Info.Digest, Size: existing.Info.Size}, nil
		}
		return ocispec.Descriptor{}, err
	}
	n, err := io.Copy(w, r)
	if err == nil {
		err = w.Commit()
	}
	if err != nil {
		_ = w.Abort()
		var existing *ExistsError
		if errors.As(err, &existing) { // committed meanwhile by someone else
			return ocispec.Descriptor{Digest: existing.Info.Digest, Size: existing.Info.Size}, nil
		}
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{Digest: w.Digest(), Size: n}, nil
}

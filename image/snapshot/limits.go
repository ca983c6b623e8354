package snapshot

import (
	"fmt"
	"io"

	"github.com/drover/drover/internal/errdefs"
)

// refusal is an error about the layer itself (not the host): it wraps
// errdefs.ErrInvalidArgument so that callers can tell a hostile or broken layer from a
// failing disk.
func refusal(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

const (
	// maxNameLen bounds entry and link names (PATH_MAX).
	maxNameLen = 4096
	// maxXattrs bounds the extended attributes of one entry.
	maxXattrs = 128
)

// Limits bound what one layer may make the snapshotter do: a hostile layer must not fill
// the disk or run forever.
type Limits struct {
	// MaxBytes caps the uncompressed tar stream of one layer (file data and headers).
	// Default 64 GiB.
	MaxBytes int64
	// MaxEntries caps the number of tar entries in one layer. Default 10 million.
	MaxEntries int64
}

// DefaultLimits are the limits of a Snapshotter opened without WithLimits.
var DefaultLimits = Limits{MaxBytes: 64 << 30, MaxEntries: 10_000_000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	return l
}

// limitedReader fails, rather than stopping quietly, once more than max bytes are read:
// a decompression bomb ends in an error that says so.
type limitedReader struct {
	r   io.Reader
	n   int64
	max int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, refusal("layer is larger than the %d byte limit (a decompression bomb?)", l.max)
	}
	if rest := l.max - l.n + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, refusal("layer is larger than the %d byte limit (a decompression bomb?)", l.max)
	}
	return n, err
}

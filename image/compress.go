package image

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/drover/drover/internal/errdefs"
)

// Compression is how a layer or archive stream is compressed.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicBzip2 = []byte{'B', 'Z', 'h'}
)

// detect tells the compression from the first bytes of a stream.
func detect(head []byte) (Compression, error) {
	switch {
	case bytes.HasPrefix(head, magicGzip):
		return Gzip, nil
	case bytes.HasPrefix(head, magicZstd):
		return Zstd, nil
	case bytes.HasPrefix(head, magicXz):
		return 0, fmt.Errorf("xz-compressed archives are not supported: decompress with xz -d or recompress with gzip or zstd: %w", errdefs.ErrInvalidArgument)
	case bytes.HasPrefix(head, magicBzip2):
		return 0, fmt.Errorf("bzip2-compressed archives are not supported: decompress with bzip2 -d or recompress with gzip or zstd: %w", errdefs.ErrInvalidArgument)
	}
	return Uncompressed, nil
}

// decompressOptions bound the work a hostile stream can cause.
type decompressOptions struct {
	// maxRatio, when > 0, refuses streams that expand more than this many times once
	// past ratioFloor bytes (zstd can reach ratios of tens of thousands).
	maxRatio int64
}

// ratioFloor is the output below which no ratio check applies.
const ratioFloor = 64 << 20

// decompress returns the uncompressed stream of r, detecting gzip and zstd by their
// magic; other streams are returned as they are.
func decompress(r io.Reader, opts decompressOptions) (io.ReadCloser, Compression, error) {
	in := &countingReader{r: r}
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(8)
	c, err := detect(head)
	if err != nil {
		return nil, 0, err
	}
	var out io.ReadCloser
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, 0, fmt.Errorf("gzip: %w", err)
		}
		out = zr
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30), zstd.WithDecoderMaxWindow(1<<29))
		if err != nil {
			return nil, 0, fmt.Errorf("zstd: %w", err)
		}
		out = zr.IOReadCloser()
	default:
		return io.NopCloser(br), c, nil
	}
	if opts.maxRatio > 0 {
		out = &ratioReader{ReadCloser: out, in: in, max: opts.maxRatio}
	}
	return out, c, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ratioReader refuses a decompression bomb by its expansion ratio.
type ratioReader struct {
	io.ReadCloser
	in  *countingReader
	out int64
	max int64
}

func (r *ratioReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.out += int64(n)
	if r.out > ratioFloor && r.out > r.max*r.in.n {
		return n, fmt.Errorf("compressed stream expands more than %d times (%d bytes from %d): refusing a likely decompression bomb: %w", r.max, r.out, r.in.n, errdefs.ErrInvalidArgument)
	}
	return n, err
}

package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/image/snapshot"
	"github.com/drover/drover/internal/errdefs"
)

// Ingest is one pull under way: what it writes is held from GC until Close, and layers it
// downloads from scratch are unpacked while they stream (overlayfs layers do not need
// their parents' files), to be committed in order by Commit.
type Ingest struct {
	s *Store

	mu       sync.Mutex
	staged   map[digest.Digest]*snapshot.Staged // by diff ID
	releases []func()
}

// NewIngest starts a pull. Close it when done, whether Commit ran or not.
func (s *Store) NewIngest() *Ingest {
	return &Ingest{s: s, staged: map[digest.Digest]*snapshot.Staged{}}
}

func (in *Ingest) hold(d digest.Digest) {
	release := in.s.Hold(d)
	in.mu.Lock()
	in.releases = append(in.releases, release)
	in.mu.Unlock()
}

// Has reports whether the blob is stored already (and holds it if so, so that it stays).
func (in *Ingest) Has(d digest.Digest) bool {
	in.hold(d)
	return in.s.content.Has(d)
}

// WriteBlob stores a small blob (manifest, index, config) fetched whole.
func (in *Ingest) WriteBlob(data []byte, desc ocispec.Descriptor) error {
	in.hold(desc.Digest)
	if _, err := content.WriteBlob(in.s.content, bytes.NewReader(data), desc.Digest, desc.Size); err != nil {
		return fmt.Errorf("store %s: %w", desc.Digest, err)
	}
	return nil
}

// Fetch opens a blob's data starting at offset. The returned start is where the data
// really starts: 0 when the server ignored the range.
type Fetch func(ctx context.Context, offset int64) (body io.ReadCloser, start int64, err error)

// ErrCorrupt marks a download whose content does not match what the manifest and config
// promise; it is not retried.
var ErrCorrupt = errors.New("corrupt content")

// FetchLayer downloads layer l into the content store, resuming an interrupted download
// of it, and unpacks it while it streams when it starts from scratch (the diff ID is
// checked against diffID). progress gets the bytes stored so far. A network error keeps
// what was downloaded for the next try; a digest or content error discards it.
func (in *Ingest) FetchLayer(ctx context.Context, l ocispec.Descriptor, diffID digest.Digest, fetch Fetch, progress func(int64)) error {
	in.hold(l.Digest)
	w, err := in.writer(ctx, l)
	if err != nil || w == nil {
		return err
	}
	defer w.Close() // keeps a partial download for resuming; no-op after Commit or Abort
	off := w.Offset()
	if l.Size > 0 && off == l.Size { // all there before a crash: only the commit is missing
		return in.commitBlob(w, l)
	}
	body, start, err := fetch(ctx, off)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			_ = w.Abort()
		}
		return err
	}
	defer body.Close()
	if start != off { // the server sent it all again
		if err := w.Abort(); err != nil {
			return err
		}
		_ = w.Close()
		if w, err = in.writer(ctx, l); err != nil || w == nil {
			return err
		}
		defer w.Close()
		off = 0
	}
	counter := &progressWriter{w: w, n: off, report: progress}
	if off > 0 { // resumed: the head is not here to unpack from, unpack at Commit
		if _, err := io.Copy(counter, body); err != nil {
			if counter.err != nil {
				_ = w.Abort()
			}
			return fmt.Errorf("download %s: %w", l.Digest, err)
		}
		return in.commitBlob(w, l)
	}
	st, err := in.streamUnpack(ctx, counter, body)
	if err != nil {
		if errors.Is(err, ErrCorrupt) || counter.err != nil {
			_ = w.Abort() // the content is wrong: do not resume it
		}
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	if err := in.commitBlob(w, l); err != nil {
		st.Discard()
		return err
	}
	if st.DiffID() != diffID {
		st.Discard()
		return fmt.Errorf("layer %s: uncompressed content has digest %s but the image config says %s: %w", l.Digest, st.DiffID(), diffID, ErrCorrupt)
	}
	in.mu.Lock()
	if old := in.staged[diffID]; old != nil {
		old.Discard()
	}
	in.staged[diffID] = st
	in.mu.Unlock()
	return nil
}

// writer opens the resumable ingest of l, waiting while another pull writes the same
// blob; nil, nil means the blob is stored.
func (in *Ingest) writer(ctx context.Context, l ocispec.Descriptor) (content.Writer, error) {
	for {
		w, err := in.s.content.Writer("pull-"+l.Digest.String(), l.Digest, l.Size)
		switch {
		case err == nil:
			return w, nil
		case errors.Is(err, errdefs.ErrAlreadyExists):
			return nil, nil
		case !errors.Is(err, errdefs.ErrConflict):
			return nil, err
		}
		select { // another pull downloads this layer: wait for it
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// streamUnpack copies body into w while a second goroutine decompresses and applies the
// same bytes into a staged snapshot. An error wrapping ErrCorrupt means the content was
// refused; any other is the download's.
func (in *Ingest) streamUnpack(ctx context.Context, w io.Writer, body io.Reader) (*snapshot.Staged, error) {
	pr, pw := io.Pipe()
	type result struct {
		st  *snapshot.Staged
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		zr, _, err := decompress(pr, decompressOptions{maxRatio: in.s.opts.maxRatio})
		if err == nil {
			res.st, err = in.s.snaps.Stage(ctx, zr)
			zr.Close()
		}
		if err == nil { // the compressed stream may go on past the tar's end (trailers)
			_, err = io.Copy(io.Discard, pr)
		}
		res.err = err
		pr.CloseWithError(err) // a refused layer stops the download
		done <- res
	}()
	src := &errReader{r: body}
	// Large chunks: each one is a write to the blob file and a hand-over to the unpacker.
	_, cerr := io.CopyBuffer(io.MultiWriter(w, pw), src, make([]byte, 512<<10))
	pw.CloseWithError(cerr)
	res := <-done
	if cerr == nil && res.err == nil {
		return res.st, nil
	}
	if res.st != nil {
		res.st.Discard()
	}
	if src.err != nil || ctx.Err() != nil { // the download broke: what arrived is good
		return nil, fmt.Errorf("download: %w", cmpErr(ctx.Err(), src.err))
	}
	if res.err != nil {
		return nil, fmt.Errorf("unpack: %w: %w", res.err, ErrCorrupt)
	}
	return nil, fmt.Errorf("store: %w", cerr)
}

// errReader remembers the error its reader gave (a broken download).
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// commitBlob verifies and publishes a downloaded blob; a mismatch discards it.
func (in *Ingest) commitBlob(w content.Writer, l ocispec.Descriptor) error {
	if err := w.Commit(); err != nil {
		if errors.Is(err, errdefs.ErrAlreadyExists) {
			return nil
		}
		_ = w.Abort()
		return fmt.Errorf("layer %s: %w: %w", l.Digest, err, ErrCorrupt)
	}
	return nil
}

// Commit unpacks what is not staged yet and records the image (see Store.Commit).
func (in *Ingest) Commit(ctx context.Context, desc ocispec.Descriptor, names ...string) (*Image, error) {
	refs, err := parseNames(names, true)
	if err != nil {
		return nil, err
	}
	s := in.s
	s.mu.Lock()
	in.mu.Lock()
	id, err := s.commitLocked(ctx, desc, refs, in.staged)
	in.mu.Unlock()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Get(id.String())
}

// Close drops staged layers Commit did not use and releases the holds: blobs no image
// references are GC's from now on (and an interrupted download stays resumable).
func (in *Ingest) Close() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for d, st := range in.staged {
		st.Discard()
		delete(in.staged, d)
	}
	for _, r := range in.releases {
		r()
	}
	in.releases = nil
}

// progressWriter counts bytes on their way to the ingest.
type progressWriter struct {
	w      io.Writer
	n      int64
	report func(int64)
	err    error // the ingest refused a write (too long, disk full)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if err != nil {
		p.err = err
	}
	p.n += int64(n)
	if p.report != nil {
		p.report(p.n)
	}
	return n, err
}

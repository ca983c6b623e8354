package registry

import (
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/internal/errdefs"
)

// DefaultGCGrace is how old an unreferenced blob must be before GC removes it: a push
// uploads its blobs before the manifest that references them, and this is the time it
// has to send that manifest.
const DefaultGCGrace = time.Hour

// GCResult is what a collection freed.
type GCResult struct {
	Blobs int
	Bytes int64
}

// GC removes blobs no manifest references whose last upload or mount is older than
// grace, and the links that pointed at them. It runs alone: pushes that link blobs or
// record manifests wait for it (and it for them), so it never removes a blob a push has
// just linked; blobs still being uploaded are ingests, which it does not touch.
func (r *Registry) GC(grace time.Duration) (GCResult, error) {
	r.gcMu.Lock()
	defer r.gcMu.Unlock()
	since := time.Now().Add(-grace)
	keep, err := r.meta.live(since)
	if err != nil {
		return GCResult{}, fmt.Errorf("gc: %w", err)
	}
	var res GCResult
	gone := map[digest.Digest]bool{}
	var errs []error
	err = r.store.Walk(func(info content.Info) error {
		if keep[info.Digest] || info.CreatedAt.After(since) {
			return nil
		}
		if err := r.store.Delete(info.Digest); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, err)
			return nil
		}
		gone[info.Digest] = true
		res.Blobs++
		res.Bytes += info.Size
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := r.meta.unlinkMissing(gone); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	return res, nil
}

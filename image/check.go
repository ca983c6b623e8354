package image

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image/content"
)

// Problem is one inconsistency Check found.
type Problem struct {
	// Object is what is wrong: "blob sha256:...", "snapshot sha256:...", "image sha256:...".
	Object string
	// Message says what is wrong with it.
	Message string
	// Repaired tells whether Check fixed it (with repair).
	Repaired bool
}

// Check verifies the store: every blob's content against its digest, every snapshot's
// metadata, and that every image has all its blobs and layers. With repair it deletes
// corrupt blobs and snapshots, unpacks missing layers again from their blobs, forgets
// images whose blobs are gone (pull them again), and collects garbage. Unreferenced data
// is not a problem: GC frees it.
func (s *Store) Check(ctx context.Context, repair bool) ([]Problem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var problems []Problem
	report := func(obj, msg string, repaired bool) {
		problems = append(problems, Problem{Object: obj, Message: msg, Repaired: repaired})
	}
	var blobs []content.Info
	if err := s.content.Walk(func(info content.Info) error {
		blobs = append(blobs, info)
		return nil
	}); err != nil {
		return nil, err
	}
	for _, info := range blobs {
		if err := ctx.Err(); err != nil {
			return problems, err
		}
		if err := s.verifyBlob(info.Digest); err != nil {
			fixed := repair && s.content.Delete(info.Digest) == nil
			report("blob "+info.Digest.String(), err.Error(), fixed)
		}
	}
	chains, err := s.snaps.Chains()
	if err != nil {
		return problems, err
	}
	for _, c := range chains {
		if err := s.snaps.Verify(c); err != nil {
			fixed := repair && s.snaps.RemoveSnapshot(c) == nil
			report("snapshot "+c.String(), err.Error(), fixed)
		}
	}
	imgs, err := s.List()
	if err != nil {
		return problems, err
	}
	for _, img := range imgs {
		problems = append(problems, s.checkImage(ctx, img, repair)...)
	}
	if repair {
		if _, err := s.gcLocked(); err != nil {
			return problems, err
		}
	}
	return problems, nil
}

// checkImage finds what img lacks; with repair it unpacks missing layers from their
// blobs, or forgets the image when a blob is missing.
func (s *Store) checkImage(ctx context.Context, img *Image, repair bool) []Problem {
	obj := "image " + img.ID.String()
	var missing []string
	for _, d := range append([]digest.Digest{img.ID, img.Manifest}, layerDigests(img)...) {
		if !s.content.Has(d) {
			missing = append(missing, d.String())
		}
	}
	if len(missing) > 0 {
		p := Problem{Object: obj, Message: fmt.Sprintf("blobs missing: %v: pull or load the image again", missing)}
		if repair {
			p.Repaired = s.forgetLocked(img.ID) == nil
		}
		return []Problem{p}
	}
	var out []Problem
	for _, c := range chainIDs(img.DiffIDs) {
		if !s.snaps.Exists(c) {
			p := Problem{Object: obj, Message: "layer " + c.String() + " is not unpacked"}
			if repair {
				_, _, _, err := s.unpackLayers(ctx, img.Layers, img.DiffIDs, nil)
				p.Repaired = err == nil
			}
			out = append(out, p)
			break
		}
	}
	return out
}

func layerDigests(img *Image) []digest.Digest {
	var ds []digest.Digest
	for _, l := range img.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}

// verifyBlob hashes a stored blob again.
func (s *Store) verifyBlob(d digest.Digest) error {
	f, err := os.Open(s.content.Path(d))
	if err != nil {
		return err
	}
	defer f.Close()
	v := d.Verifier()
	if _, err := io.Copy(v, f); err != nil {
		return err
	}
	if !v.Verified() {
		return fmt.Errorf("content does not match its digest")
	}
	return nil
}

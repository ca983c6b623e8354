package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/drover/drover/image/content"
)

// staleIngest is how long an interrupted download is kept for resuming.
const staleIngest = 24 * time.Hour

// GC deletes the blobs and layer snapshots that no image references (nor a container
// layer, nor an operation under way through Hold), and downloads left unfinished for a
// day. It returns the bytes freed.
func (s *Store) GC() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gcLocked()
}

// referenced collects what the recorded images use.
func (s *Store) referenced() (blobs, chains map[digest.Digest]bool, err error) {
	blobs, chains = map[digest.Digest]bool{}, map[digest.Digest]bool{}
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("image %s: corrupt metadata record: %w", k, err)
			}
			blobs[digest.Digest(k)], blobs[rec.Manifest.Digest] = true, true
			for _, l := range rec.Layers {
				blobs[l.Digest] = true
			}
			for _, c := range chainIDs(rec.DiffIDs) {
				chains[c] = true
			}
			return nil
		})
	})
	if err == nil {
		err = s.extraRoots(blobs, chains)
	}
	return blobs, chains, err
}

func (s *Store) gcLocked() (int64, error) {
	blobs, chains, err := s.referenced()
	if err != nil {
		return 0, fmt.Errorf("gc: %w", err)
	}
	// Container layers keep their whole chain, even when their image is gone.
	keys, err := s.snaps.Keys()
	if err != nil {
		return 0, fmt.Errorf("gc: %w", err)
	}
	for _, c := range keys {
		for n := 0; c != "" && n < 1000; n++ {
			chains[c] = true
			if c, err = s.snaps.Parent(c); err != nil {
				break
			}
		}
	}
	var freed int64
	var errs []error
	var drop []content.Info
	if err := s.content.Walk(func(info content.Info) error {
		if !blobs[info.Digest] && !s.isHeld(info.Digest) {
			drop = append(drop, info)
		}
		return nil
	}); err != nil {
		errs = append(errs, err)
	}
	for _, info := range drop {
		if err := s.content.Delete(info.Digest); err != nil {
			errs = append(errs, err)
			continue
		}
		freed += info.Size
	}
	all, err := s.snaps.Chains()
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range all {
		if chains[c] {
			continue
		}
		n, _ := s.snaps.Size(c)
		if err := s.snaps.RemoveSnapshot(c); err != nil {
			errs = append(errs, err)
			continue
		}
		freed += n
	}
	if err := s.content.PruneIngests(staleIngest); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return freed, fmt.Errorf("gc: %w", err)
	}
	return freed, nil
}

// dropUnreferenced deletes those of ds that no image references (what a failed or
// finished import or load wrote and does not need).
func (s *Store) dropUnreferenced(ds []digest.Digest) {
	if len(ds) == 0 {
		return
	}
	blobs, _, err := s.referenced()
	if err != nil {
		return // GC will do it
	}
	for _, d := range ds {
		if !blobs[d] && !s.isHeld(d) {
			_ = s.content.Delete(d)
		}
	}
}

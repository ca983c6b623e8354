package image

import (
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image/content"
)

// ImageUsage is one image's share of the disk.
type ImageUsage struct {
	Image *Image
	// Size is the unpacked size of all its layers; Shared the part other images use too;
	// Unique what removing it would free.
	Size, Shared, Unique int64
}

// Usage is what the image store holds on disk.
type Usage struct {
	Images []ImageUsage
	// LayersSize is the bytes of all unpacked layers, each counted once.
	LayersSize int64
	// BlobsSize is the bytes of the content store (compressed layers, configs, manifests).
	BlobsSize int64
}

// DiskUsage reports the store's usage per image, counting shared layers once.
func (s *Store) DiskUsage() (Usage, error) {
	imgs, err := s.List()
	if err != nil {
		return Usage{}, err
	}
	users := map[digest.Digest]int{}
	chainsOf := make([][]digest.Digest, len(imgs))
	for i, img := range imgs {
		chainsOf[i] = chainIDs(img.DiffIDs)
		for _, c := range chainsOf[i] {
			users[c]++
		}
	}
	sizes := map[digest.Digest]int64{}
	size := func(c digest.Digest) int64 {
		if n, ok := sizes[c]; ok {
			return n
		}
		n, _ := s.snaps.Size(c)
		sizes[c] = n
		return n
	}
	var u Usage
	for i, img := range imgs {
		iu := ImageUsage{Image: img}
		for _, c := range chainsOf[i] {
			n := size(c)
			iu.Size += n
			if users[c] > 1 {
				iu.Shared += n
			} else {
				iu.Unique += n
			}
		}
		u.Images = append(u.Images, iu)
	}
	chains, err := s.snaps.Chains()
	if err != nil {
		return u, err
	}
	for _, c := range chains {
		u.LayersSize += size(c)
	}
	err = s.content.Walk(func(info content.Info) error {
		u.BlobsSize += info.Size
		return nil
	})
	return u, err
}

// Prune removes the images inUse does not claim: dangling ones (without a tag) only, or
// all unused ones with all. It returns what rmi would report, and the bytes freed.
func (s *Store) Prune(all bool, inUse func(id string) bool) (untagged, deleted []string, freed int64, err error) {
	imgs, err := s.List()
	if err != nil {
		return nil, nil, 0, err
	}
	before, _ := s.DiskUsage()
	for _, img := range imgs {
		if (!all && len(img.RepoTags) > 0) || (inUse != nil && inUse(img.ID.String())) {
			continue
		}
		u, d, err := s.Remove(img.ID.String(), true, inUse)
		if err != nil {
			return untagged, deleted, 0, fmt.Errorf("prune %s: %w", img.ID, err)
		}
		untagged, deleted = append(untagged, u...), append(deleted, d...)
	}
	if _, err := s.GC(); err != nil {
		return untagged, deleted, 0, err
	}
	after, _ := s.DiskUsage()
	freed = before.LayersSize + before.BlobsSize - after.LayersSize - after.BlobsSize
	if freed < 0 {
		freed = 0
	}
	return untagged, deleted, freed, nil
}

// HistoryEntry is one step of an image's history, as `docker history` shows it.
type HistoryEntry struct {
	Created    string
	CreatedBy  string
	Comment    string
	EmptyLayer bool
	// Size is the unpacked size of the step's layer (0 for empty layers).
	Size int64
	// Layer is the step's chain ID ("" for empty layers).
	Layer digest.Digest
}

// History lists img's history, newest first, with each step's layer size. An image
// without history (imported) gets one entry per layer.
func (s *Store) History(img *Image) []HistoryEntry {
	chains := chainIDs(img.DiffIDs)
	var out []HistoryEntry
	li := 0
	nextLayer := func() (digest.Digest, int64) {
		if li >= len(chains) {
			return "", 0
		}
		c := chains[li]
		li++
		n, _ := s.snaps.Size(c)
		return c, n
	}
	for _, h := range img.Config.History {
		e := HistoryEntry{CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if h.Created != nil {
			e.Created = h.Created.Format("2006-01-02T15:04:05Z07:00")
		}
		if !h.EmptyLayer {
			e.Layer, e.Size = nextLayer()
		}
		out = append(out, e)
	}
	for li < len(chains) { // layers the history does not describe
		c, n := nextLayer()
		out = append(out, HistoryEntry{Layer: c, Size: n})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

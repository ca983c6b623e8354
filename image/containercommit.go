package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// CommitOptions describe the image made of a container's changes (docker commit).
type CommitOptions struct {
	// Config is the new image's config: the container's, with Changes applied.
	Config ImportOptions
	// Author and Comment go to the image and its new history entry; CreatedBy is the
	// container's command there.
	Author, Comment, CreatedBy string
	// Skip leaves paths of the container's layer out (slash-separated, relative to the
	// root): what the runtime put there, not the container.
	Skip func(rel string) bool
}

// CommitChanges makes an image of base's layers and one more: the changes in the
// container layer key (prepared on base's layers), which is left as it is, for the
// container to go on with. The image is named name, or stays unnamed when name is "".
// When it fails, nothing is named, and what was stored is unreferenced for GC.
func (s *Store) CommitChanges(ctx context.Context, key string, base *Image, o CommitOptions, name string) (*Image, error) {
	var names []string
	if name != "" {
		if _, err := parseNames([]string{name}, false); err != nil {
			return nil, err
		}
		names = []string{name}
	}
	cfg, err := o.Config.imageConfig()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.snaps.Diff(key, pw, o.Skip)) }()
	l, release, err := s.AddLayer(ctx, base.ChainID, pr)
	pr.CloseWithError(io.ErrClosedPipe) // ends the diff if the layer stopped early
	defer release()
	if err != nil {
		return nil, fmt.Errorf("commit the changes of %s: %w", key, err)
	}
	now := time.Now().UTC()
	config := base.Config
	config.Created, config.Author, config.Config = &now, o.Author, cfg
	config.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: append(slices.Clone(base.DiffIDs), l.DiffID)}
	config.History = append(slices.Clone(base.Config.History),
		ocispec.History{Created: &now, CreatedBy: o.CreatedBy, Author: o.Author, Comment: o.Comment})
	raw, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	img, err := s.CreateImage(ctx, raw, append(slices.Clone(base.Layers), l.Desc), names...)
	if err != nil {
		return nil, fmt.Errorf("commit the changes of %s: %w", key, err)
	}
	return img, nil
}

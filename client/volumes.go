package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/drover/drover/api"
)

// VolumeCreate makes a volume (or returns the existing one of that name).
func (c *Client) VolumeCreate(ctx context.Context, req api.VolumeCreate) (api.Volume, error) {
	var out api.Volume
	err := c.call(ctx, http.MethodPost, "/volumes", nil, req, &out)
	return out, err
}

// VolumeList lists every volume.
func (c *Client) VolumeList(ctx context.Context) ([]api.Volume, error) {
	var out []api.Volume
	err := c.call(ctx, http.MethodGet, "/volumes", nil, nil, &out)
	return out, err
}

// VolumeInspect returns one volume.
func (c *Client) VolumeInspect(ctx context.Context, name string) (api.Volume, error) {
	var out api.Volume
	err := c.call(ctx, http.MethodGet, "/volumes/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// VolumeRemove removes a volume no container uses; force ignores a missing one.
func (c *Client) VolumeRemove(ctx context.Context, name string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	return c.call(ctx, http.MethodDelete, "/volumes/"+url.PathEscape(name), q, nil, nil)
}

// VolumePrune removes unused anonymous volumes, or all unused ones with all.
func (c *Client) VolumePrune(ctx context.Context, all bool) (api.PruneResponse, error) {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	var out api.PruneResponse
	err := c.call(ctx, http.MethodPost, "/volumes/prune", q, nil, &out)
	return out, err
}

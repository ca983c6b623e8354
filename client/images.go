package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/drover/drover/api"
)

// ImageImport makes an image named ref from a rootfs tarball; changes are Dockerfile
// instructions (CMD, ENV ...) applied to its config.
func (c *Client) ImageImport(ctx context.Context, r io.Reader, ref string, changes []string) (api.Image, error) {
	q := url.Values{"ref": {ref}}
	for _, ch := range changes {
		q.Add("change", ch)
	}
	var out api.Image
	err := c.call(ctx, http.MethodPost, "/images/import", q, r, &out)
	return out, err
}

// ImageLoad loads a docker-save or OCI layout archive.
func (c *Client) ImageLoad(ctx context.Context, r io.Reader) ([]api.Image, error) {
	var out []api.Image
	err := c.call(ctx, http.MethodPost, "/images/load", nil, r, &out)
	return out, err
}

// ImageSave returns an archive of the named images.
func (c *Client) ImageSave(ctx context.Context, refs []string) (io.ReadCloser, error) {
	resp, err := c.do(ctx, http.MethodGet, "/images/save", url.Values{"name": refs}, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) ImageList(ctx context.Context) ([]api.Image, error) {
	var out []api.Image
	err := c.call(ctx, http.MethodGet, "/images", nil, nil, &out)
	return out, err
}

func (c *Client) ImageInspect(ctx context.Context, ref string) (api.Image, error) {
	var out api.Image
	err := c.call(ctx, http.MethodGet, "/images/"+url.PathEscape(ref), nil, nil, &out)
	return out, err
}

func (c *Client) ImageTag(ctx context.Context, src, ref string) error {
	return c.call(ctx, http.MethodPost, "/images/"+url.PathEscape(src)+"/tag", url.Values{"ref": {ref}}, nil, nil)
}

func (c *Client) ImageRemove(ctx context.Context, ref string, force bool) ([]api.ImageDeleteItem, error) {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	var out []api.ImageDeleteItem
	err := c.call(ctx, http.MethodDelete, "/images/"+url.PathEscape(ref), q, nil, &out)
	return out, err
}

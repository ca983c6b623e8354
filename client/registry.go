package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/drover/drover/api"
)

// authHeader carries the user's registry credentials (encoded by the caller with
// auth.EncodeHeader; "" for anonymous).
func authHeader(encoded string) http.Header {
	if encoded == "" {
		return nil
	}
	return http.Header{"X-Registry-Auth": {encoded}}
}

// ImagePull starts a pull of ref and returns its progress stream: JSON lines of
// api.Progress, the last one with Error set if the pull failed.
func (c *Client) ImagePull(ctx context.Context, ref, platform, encodedAuth string) (io.ReadCloser, error) {
	q := url.Values{"ref": {ref}}
	if platform != "" {
		q.Set("platform", platform)
	}
	resp, err := c.doHeader(ctx, http.MethodPost, "/images/pull", q, nil, authHeader(encodedAuth))
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ImagePush starts a push of ref and returns its progress stream (as ImagePull's).
func (c *Client) ImagePush(ctx context.Context, ref, encodedAuth string) (io.ReadCloser, error) {
	resp, err := c.doHeader(ctx, http.MethodPost, "/images/push", url.Values{"ref": {ref}}, nil, authHeader(encodedAuth))
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Login has the daemon check credentials against a registry.
func (c *Client) Login(ctx context.Context, a api.AuthConfig) (api.LoginResult, error) {
	var out api.LoginResult
	err := c.call(ctx, http.MethodPost, "/auth", nil, a, &out)
	return out, err
}

// DiskUsage reports what images, containers and volumes hold on disk.
func (c *Client) DiskUsage(ctx context.Context) (api.DiskUsage, error) {
	var out api.DiskUsage
	err := c.call(ctx, http.MethodGet, "/system/df", nil, nil, &out)
	return out, err
}

// SystemCheck verifies the image store; repair fixes what it can.
func (c *Client) SystemCheck(ctx context.Context, repair bool) ([]api.CheckProblem, error) {
	q := url.Values{}
	if repair {
		q.Set("repair", "1")
	}
	var out []api.CheckProblem
	err := c.call(ctx, http.MethodPost, "/system/check", q, nil, &out)
	return out, err
}

// ImagePrune removes dangling images (all unused ones with all).
func (c *Client) ImagePrune(ctx context.Context, all bool, f api.PruneFilter) (api.ImagePruneReport, error) {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	var out api.ImagePruneReport
	err := c.call(ctx, http.MethodPost, "/images/prune", q, f, &out)
	return out, err
}

// ImageHistory lists an image's history, newest first.
func (c *Client) ImageHistory(ctx context.Context, name string) ([]api.HistoryItem, error) {
	var out []api.HistoryItem
	err := c.call(ctx, http.MethodGet, "/images/history", url.Values{"name": {name}}, nil, &out)
	return out, err
}

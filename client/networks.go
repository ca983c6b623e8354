package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/drover/drover/api"
)

// NetworkCreate makes a user network.
func (c *Client) NetworkCreate(ctx context.Context, req api.NetworkCreate) (api.Network, error) {
	var out api.Network
	err := c.call(ctx, http.MethodPost, "/networks", nil, req, &out)
	return out, err
}

// NetworkList lists every network.
func (c *Client) NetworkList(ctx context.Context) ([]api.Network, error) {
	var out []api.Network
	err := c.call(ctx, http.MethodGet, "/networks", nil, nil, &out)
	return out, err
}

// NetworkInspect returns one network by name, ID or ID prefix.
func (c *Client) NetworkInspect(ctx context.Context, ref string) (api.Network, error) {
	var out api.Network
	err := c.call(ctx, http.MethodGet, "/networks/"+url.PathEscape(ref), nil, nil, &out)
	return out, err
}

// NetworkRemove removes a user network without endpoints.
func (c *Client) NetworkRemove(ctx context.Context, ref string) error {
	return c.call(ctx, http.MethodDelete, "/networks/"+url.PathEscape(ref), nil, nil, nil)
}

// NetworkPrune removes the user networks no container uses.
func (c *Client) NetworkPrune(ctx context.Context, f api.PruneFilter) (api.PruneResponse, error) {
	var out api.PruneResponse
	err := c.call(ctx, http.MethodPost, "/networks/prune", nil, f, &out)
	return out, err
}

// NetworkConnect attaches a container to a network.
func (c *Client) NetworkConnect(ctx context.Context, ref string, req api.NetworkConnect) error {
	return c.call(ctx, http.MethodPost, "/networks/"+url.PathEscape(ref)+"/connect", nil, req, nil)
}

// NetworkDisconnect detaches a container from a network.
func (c *Client) NetworkDisconnect(ctx context.Context, ref string, req api.NetworkConnect) error {
	return c.call(ctx, http.MethodPost, "/networks/"+url.PathEscape(ref)+"/disconnect", nil, req, nil)
}

// PodCreate makes a pod and starts its infra container.
func (c *Client) PodCreate(ctx context.Context, req api.PodCreate) (api.Pod, error) {
	var out api.Pod
	err := c.call(ctx, http.MethodPost, "/pods", nil, req, &out)
	return out, err
}

// PodList lists every pod.
func (c *Client) PodList(ctx context.Context) ([]api.Pod, error) {
	var out []api.Pod
	err := c.call(ctx, http.MethodGet, "/pods", nil, nil, &out)
	return out, err
}

// PodInspect returns one pod by name, ID or ID prefix.
func (c *Client) PodInspect(ctx context.Context, ref string) (api.Pod, error) {
	var out api.Pod
	err := c.call(ctx, http.MethodGet, "/pods/"+url.PathEscape(ref), nil, nil, &out)
	return out, err
}

// PodStart starts the pod's infra container and members.
func (c *Client) PodStart(ctx context.Context, ref string) error {
	return c.call(ctx, http.MethodPost, "/pods/"+url.PathEscape(ref)+"/start", nil, nil, nil)
}

// PodStop stops the members, then the infra container (timeout nil: each container's own).
func (c *Client) PodStop(ctx context.Context, ref string, timeout *time.Duration) error {
	q := url.Values{}
	durationQuery(q, "t", timeout)
	return c.call(ctx, http.MethodPost, "/pods/"+url.PathEscape(ref)+"/stop", q, nil, nil)
}

// PodRemove removes a pod; force removes running members too.
func (c *Client) PodRemove(ctx context.Context, ref string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	return c.call(ctx, http.MethodDelete, "/pods/"+url.PathEscape(ref), q, nil, nil)
}

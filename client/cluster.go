package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/drover/drover/api"
)

// ClusterInit makes this machine the first server of a new cluster.
func (c *Client) ClusterInit(ctx context.Context, req api.ClusterInit) (api.ClusterInitResult, error) {
	var out api.ClusterInitResult
	err := c.call(ctx, http.MethodPost, "/cluster/init", nil, req, &out)
	return out, err
}

// ClusterJoin adds this machine to a cluster.
func (c *Client) ClusterJoin(ctx context.Context, req api.ClusterJoin) (api.ClusterStatus, error) {
	var out api.ClusterStatus
	err := c.call(ctx, http.MethodPost, "/cluster/join", nil, req, &out)
	return out, err
}

// ClusterLeave takes this machine out of its cluster: its pods stop and its node goes.
func (c *Client) ClusterLeave(ctx context.Context, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	return c.call(ctx, http.MethodPost, "/cluster/leave", q, nil, nil)
}

// ClusterStatus reports this machine's view of its cluster.
func (c *Client) ClusterStatus(ctx context.Context) (api.ClusterStatus, error) {
	var out api.ClusterStatus
	err := c.call(ctx, http.MethodGet, "/cluster/status", nil, nil, &out)
	return out, err
}

// ClusterKubeconfig returns a kubeconfig with an admin client certificate (servers only).
func (c *Client) ClusterKubeconfig(ctx context.Context, server string) ([]byte, error) {
	q := url.Values{}
	if server != "" {
		q.Set("server", server)
	}
	var out struct {
		Kubeconfig []byte `json:"kubeconfig"`
	}
	err := c.call(ctx, http.MethodGet, "/cluster/kubeconfig", q, nil, &out)
	return out.Kubeconfig, err
}

// ClusterTokenCreate makes a new join token (servers only).
func (c *Client) ClusterTokenCreate(ctx context.Context, req api.ClusterTokenCreate) (api.ClusterToken, error) {
	var out api.ClusterToken
	err := c.call(ctx, http.MethodPost, "/cluster/tokens", nil, req, &out)
	return out, err
}

// NodeList lists the cluster's nodes.
func (c *Client) NodeList(ctx context.Context) ([]api.ClusterNode, error) {
	var out []api.ClusterNode
	err := c.call(ctx, http.MethodGet, "/cluster/nodes", nil, nil, &out)
	return out, err
}

// NodeCordon marks a node unschedulable (or schedulable again with cordon false).
func (c *Client) NodeCordon(ctx context.Context, name string, cordon bool) error {
	verb := "/uncordon"
	if cordon {
		verb = "/cordon"
	}
	return c.call(ctx, http.MethodPost, "/cluster/nodes/"+url.PathEscape(name)+verb, nil, nil, nil)
}

// NodeDrain cordons a node and evicts its pods, waiting until they are gone.
func (c *Client) NodeDrain(ctx context.Context, name string, req api.NodeDrain) error {
	return c.call(ctx, http.MethodPost, "/cluster/nodes/"+url.PathEscape(name)+"/drain", nil, req, nil)
}

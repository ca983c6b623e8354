package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/drover/drover/api"
)

// ListOptions select containers for ps.
type ListOptions struct {
	All     bool
	Filters []string // "key=value" as docker ps --filter
}

func (c *Client) ContainerCreate(ctx context.Context, cfg api.ContainerConfig) (api.CreateResponse, error) {
	var out api.CreateResponse
	err := c.call(ctx, http.MethodPost, "/containers", nil, cfg, &out)
	return out, err
}

// ContainerRun creates a container, starts it and attaches to its stdio in one request
// (Start is implied); the stream's ContainerID names the new container.
func (c *Client) ContainerRun(ctx context.Context, cfg api.ContainerConfig, opts AttachOptions) (*Hijacked, error) {
	q := url.Values{"start": {"1"}}
	if opts.Stdin {
		q.Set("stdin", "1")
	}
	return c.hijack(ctx, http.MethodPost, "/containers", q, cfg)
}

func (c *Client) ContainerList(ctx context.Context, opts ListOptions) ([]api.Container, error) {
	q := url.Values{}
	if opts.All {
		q.Set("all", "1")
	}
	for _, f := range opts.Filters {
		q.Add("filter", f)
	}
	var out []api.Container
	err := c.call(ctx, http.MethodGet, "/containers", q, nil, &out)
	return out, err
}

func (c *Client) ContainerInspect(ctx context.Context, id string) (api.Container, error) {
	var out api.Container
	err := c.call(ctx, http.MethodGet, "/containers/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// ContainerStart starts a created or stopped container.
func (c *Client) ContainerStart(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/start", nil, nil, nil)
}

// AttachOptions choose the streams of an attach.
type AttachOptions struct {
	Stdin bool
	// Start starts the container once the stream is wired, so no output is lost.
	Start bool
}

// ContainerAttach streams a container's stdio; with Start it also starts the container.
// The stream ends with an Exit frame carrying the exit code (after --rm removal).
func (c *Client) ContainerAttach(ctx context.Context, id string, opts AttachOptions) (*Hijacked, error) {
	q := url.Values{}
	if opts.Stdin {
		q.Set("stdin", "1")
	}
	if opts.Start {
		q.Set("start", "1")
	}
	return c.hijack(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/attach", q, nil)
}

func durationQuery(q url.Values, name string, d *time.Duration) {
	if d != nil {
		q.Set(name, strconv.Itoa(int(d.Seconds())))
	}
}

// ContainerStop sends the stop signal, then SIGKILL after timeout (nil: the container's own).
func (c *Client) ContainerStop(ctx context.Context, id string, timeout *time.Duration, signal string) error {
	q := url.Values{}
	durationQuery(q, "t", timeout)
	if signal != "" {
		q.Set("signal", signal)
	}
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/stop", q, nil, nil)
}

func (c *Client) ContainerRestart(ctx context.Context, id string, timeout *time.Duration) error {
	q := url.Values{}
	durationQuery(q, "t", timeout)
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/restart", q, nil, nil)
}

func (c *Client) ContainerKill(ctx context.Context, id, signal string) error {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/kill", q, nil, nil)
}

// RemoveOptions for rm.
type RemoveOptions struct {
	Force, Volumes bool
}

func (c *Client) ContainerRemove(ctx context.Context, id string, opts RemoveOptions) error {
	q := url.Values{}
	if opts.Force {
		q.Set("force", "1")
	}
	if opts.Volumes {
		q.Set("volumes", "1")
	}
	return c.call(ctx, http.MethodDelete, "/containers/"+url.PathEscape(id), q, nil, nil)
}

// ContainerWait waits for condition "not-running" (default), "next-exit" or "removed".
func (c *Client) ContainerWait(ctx context.Context, id, condition string) (api.WaitResponse, error) {
	q := url.Values{}
	if condition != "" {
		q.Set("condition", condition)
	}
	var out api.WaitResponse
	err := c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/wait", q, nil, &out)
	return out, err
}

// LogsOptions select log lines.
type LogsOptions struct {
	Follow     bool
	Tail       string // "all" or a number
	Since      string // RFC3339, Unix seconds or a Go duration ago
	Until      string
	Timestamps bool
}

// ContainerLogs streams the log as frames (stdout/stderr), ending when done.
func (c *Client) ContainerLogs(ctx context.Context, id string, opts LogsOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "1")
	}
	if opts.Tail != "" {
		q.Set("tail", opts.Tail)
	}
	if opts.Since != "" {
		q.Set("since", opts.Since)
	}
	if opts.Until != "" {
		q.Set("until", opts.Until)
	}
	if opts.Timestamps {
		q.Set("timestamps", "1")
	}
	resp, err := c.do(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/logs", q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ContainerExec runs a process in the container; the stream ends with its exit code.
func (c *Client) ContainerExec(ctx context.Context, id string, cfg api.ExecConfig) (*Hijacked, error) {
	return c.hijack(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/exec", nil, cfg)
}

func (c *Client) ContainerResize(ctx context.Context, id string, width, height uint16) error {
	q := url.Values{"w": {strconv.Itoa(int(width))}, "h": {strconv.Itoa(int(height))}}
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/resize", q, nil, nil)
}

func (c *Client) ContainerTop(ctx context.Context, id, psArgs string) (api.TopResponse, error) {
	q := url.Values{}
	if psArgs != "" {
		q.Set("ps_args", psArgs)
	}
	var out api.TopResponse
	err := c.call(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/top", q, nil, &out)
	return out, err
}

func (c *Client) ContainerStats(ctx context.Context, id string) (api.Stats, error) {
	var out api.Stats
	err := c.call(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/stats", nil, nil, &out)
	return out, err
}

func (c *Client) ContainerRename(ctx context.Context, id, name string) error {
	q := url.Values{"name": {name}}
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/rename", q, nil, nil)
}

// ContainerChanges lists what a container changed in its root filesystem.
func (c *Client) ContainerChanges(ctx context.Context, id string) ([]api.Change, error) {
	var out []api.Change
	err := c.call(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/changes", nil, nil, &out)
	return out, err
}

// ContainerCommit makes an image of a container's changes.
func (c *Client) ContainerCommit(ctx context.Context, id string, req api.CommitRequest) (api.Image, error) {
	var out api.Image
	err := c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/commit", nil, req, &out)
	return out, err
}

func (c *Client) ContainerPause(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/pause", nil, nil, nil)
}

func (c *Client) ContainerUnpause(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/unpause", nil, nil, nil)
}

// CopyFromContainer returns a tar stream of path inside the container.
func (c *Client) CopyFromContainer(ctx context.Context, id, path string) (io.ReadCloser, error) {
	resp, err := c.do(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/archive", url.Values{"path": {path}}, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// CopyToContainer extracts the tar stream r into directory path inside the container.
func (c *Client) CopyToContainer(ctx context.Context, id, path string, r io.Reader) error {
	return c.call(ctx, http.MethodPut, "/containers/"+url.PathEscape(id)+"/archive", url.Values{"path": {path}}, r, nil)
}

// ContainersPrune removes the stopped containers f matches.
func (c *Client) ContainersPrune(ctx context.Context, f api.PruneFilter) (api.PruneResponse, error) {
	var out api.PruneResponse
	err := c.call(ctx, http.MethodPost, "/containers/prune", nil, f, &out)
	return out, err
}

func (c *Client) Info(ctx context.Context) (api.Info, error) {
	var out api.Info
	err := c.call(ctx, http.MethodGet, "/info", nil, nil, &out)
	return out, err
}

package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/drover/drover/api"
)

// BuildOptions are the options of a build (drover build's flags).
type BuildOptions struct {
	Tags []string
	// Dockerfile is the Dockerfile's name (for messages, and to find it in the context
	// when DockerfileContent is empty).
	Dockerfile string
	// DockerfileContent is the Dockerfile itself, sent beside the context so that
	// .dockerignore may exclude it from what COPY sees.
	DockerfileContent []byte
	BuildArgs         map[string]string
	Labels            map[string]string
	Target            string
	NoCache, Pull     bool
	Platform          string
	Network           string
	// ContextSize is the bytes of file content in the context, when known: the daemon
	// unpacks a small context in memory.
	ContextSize int64
	// NoContext builds without a context (a Dockerfile alone on stdin); buildContext is
	// then ignored.
	NoContext bool
}

// maxDockerfileHeader keeps the Dockerfile's header (base64) under the daemon's 1 MiB
// limit of request headers.
const maxDockerfileHeader = 700 << 10

// Build sends buildContext (a tar stream) and returns the build's progress: JSON lines
// of api.BuildMessage, the last one with the image ID or an error.
func (c *Client) Build(ctx context.Context, buildContext io.Reader, o BuildOptions) (io.ReadCloser, error) {
	q := url.Values{}
	for _, t := range o.Tags {
		q.Add("t", t)
	}
	if o.Dockerfile != "" {
		q.Set("dockerfile", o.Dockerfile)
	}
	for k, v := range o.BuildArgs {
		q.Add("buildarg", k+"="+v)
	}
	for k, v := range o.Labels {
		q.Add("label", k+"="+v)
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("target", o.Target)
	set("platform", o.Platform)
	set("network", o.Network)
	if o.NoCache {
		q.Set("nocache", "1")
	}
	if o.Pull {
		q.Set("pull", "1")
	}
	hdr := http.Header{}
	if len(o.DockerfileContent) > maxDockerfileHeader {
		return nil, fmt.Errorf("the Dockerfile is larger than %d KiB, more than a request header carries: put it in the build context", maxDockerfileHeader>>10)
	}
	if len(o.DockerfileContent) > 0 {
		hdr.Set(api.DockerfileHeader, base64.StdEncoding.EncodeToString(o.DockerfileContent))
	}
	if o.ContextSize > 0 {
		hdr.Set(api.ContextSizeHeader, strconv.FormatInt(o.ContextSize, 10))
	}
	var body any
	if o.NoContext {
		q.Set("nocontext", "1")
	} else {
		body = buildContext
	}
	resp, err := c.doHeader(ctx, http.MethodPost, "/build", q, body, hdr)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// BuildCachePrune forgets the build cache and frees the layers only it kept.
func (c *Client) BuildCachePrune(ctx context.Context) (api.BuildCachePruneReport, error) {
	var out api.BuildCachePruneReport
	err := c.call(ctx, http.MethodPost, "/build/prune", nil, nil, &out)
	return out, err
}

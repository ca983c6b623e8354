package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
	"github.com/drover/drover/image/signature"
	"github.com/drover/drover/internal/errdefs"
)

// PushOptions are the choices of one push.
type PushOptions struct {
	Auth     api.AuthConfig
	Progress func(api.Progress)
}

// Push uploads the image named ref to the registry ref names: the blobs the registry lacks
// (Concurrency at a time), then the manifest under ref's tag. It returns the manifest's
// digest.
func (c *Client) Push(ctx context.Context, refStr string, o PushOptions) (digest.Digest, error) {
	ref, err := image.ParseReference(refStr)
	if err != nil {
		return "", err
	}
	if o.Progress == nil {
		o.Progress = func(api.Progress) {}
	}
	img, err := c.store.Get(ref.String())
	if err != nil {
		return "", err
	}
	hold := c.store.Hold(append(imageBlobs(img), img.Manifest)...) // no rmi/prune under our feet
	defer hold()
	raw, err := c.readBlob(img.Manifest, image.MaxManifestSize)
	if err != nil {
		return "", fmt.Errorf("push %s: manifest: %w", ref.Familiar(), err)
	}
	mt := manifestType("", raw)
	if !image.IsManifest(mt) {
		mt = ocispec.MediaTypeImageManifest
	}
	host := apiHost(ref.Domain)
	o.Progress(api.Progress{Status: "The push refers to repository [" + ref.Name() + "]"})
	repo, err := c.open(ctx, host, ref.Path, o.Auth, "pull", "push")
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref.Familiar(), err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("push %s: manifest: %w", ref.Familiar(), err)
	}
	blobs := append([]ocispec.Descriptor{m.Config}, m.Layers...)
	if err := c.pushBlobs(ctx, repo, blobs, o.Progress); err != nil {
		return "", fmt.Errorf("push %s: %w", ref.Familiar(), err)
	}
	tag := ref.Tag
	if ref.Digest != "" {
		tag = img.Manifest.String()
	}
	if err := repo.putManifest(ctx, tag, mt, raw); err != nil {
		return "", fmt.Errorf("push %s: %w", ref.Familiar(), err)
	}
	// Signatures pulled with the image go with it, under cosign's tag beside it.
	sigs, err := c.store.Signatures(img.Manifest)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref.Familiar(), err)
	}
	for _, sg := range sigs {
		if err := repo.pushSignature(ctx, img.Manifest, sg); err != nil {
			return "", fmt.Errorf("push %s: %w", ref.Familiar(), err)
		}
	}
	if len(sigs) > 0 {
		o.Progress(api.Progress{Status: fmt.Sprintf("%s: %d signature(s)", signature.Tag(img.Manifest), len(sigs))})
	}
	o.Progress(api.Progress{Status: fmt.Sprintf("%s: digest: %s size: %d", tag, img.Manifest, len(raw))})
	return img.Manifest, nil
}

func imageBlobs(img *image.Image) []digest.Digest {
	ds := []digest.Digest{img.ID}
	for _, l := range img.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}

func (c *Client) readBlob(d digest.Digest, max int64) ([]byte, error) {
	rc, err := c.store.Content().Open(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, max))
}

// pushBlobs uploads what the registry does not have. The config is not shown as a layer.
func (c *Client) pushBlobs(ctx context.Context, repo *repository, blobs []ocispec.Descriptor, report func(api.Progress)) error {
	for _, b := range blobs[1:] {
		report(api.Progress{ID: shortID(b.Digest), Status: "Preparing"})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, c.opts.Concurrency)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for i, b := range blobs {
		wg.Add(1)
		go func(b ocispec.Descriptor, layer bool) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			rep := func(p api.Progress) {
				if layer {
					report(p)
				}
			}
			if err := c.pushBlob(ctx, repo, b, rep); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}(b, i > 0)
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

func (c *Client) pushBlob(ctx context.Context, repo *repository, b ocispec.Descriptor, report func(api.Progress)) error {
	id := shortID(b.Digest)
	exists, err := repo.hasBlob(ctx, b.Digest)
	if err != nil {
		return err
	}
	if exists {
		report(api.Progress{ID: id, Status: "Layer already exists"})
		return nil
	}
	rc, err := c.store.Content().Open(b.Digest)
	if err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, err)
	}
	defer rc.Close()
	var last time.Time
	body := &countingReader{r: rc, report: func(n int64) {
		if now := time.Now(); now.Sub(last) >= 100*time.Millisecond {
			last = now
			report(api.Progress{ID: id, Status: "Pushing", Current: n, Total: b.Size})
		}
	}}
	if err := repo.upload(ctx, b, body); err != nil {
		return fmt.Errorf("blob %s: %w", b.Digest, err)
	}
	report(api.Progress{ID: id, Status: "Pushed"})
	return nil
}

func (r *repository) hasBlob(ctx context.Context, d digest.Digest) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, r.url("blobs/"+d.String()), nil)
	if err != nil {
		return false, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return false, registryError(r.host, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, checkResponse(r.host, resp, http.StatusOK)
}

// upload sends a blob in one request after opening an upload session (the monolithic
// flow every registry supports).
func (r *repository) upload(ctx context.Context, b ocispec.Descriptor, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url("blobs/uploads/"), nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return registryError(r.host, err)
	}
	resp.Body.Close()
	if err := checkResponse(r.host, resp, http.StatusAccepted); err != nil {
		return err
	}
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		return fmt.Errorf("registry %s started an upload without a valid Location", r.host)
	}
	q := loc.Query()
	q.Set("digest", b.Digest.String())
	loc.RawQuery = q.Encode()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), body)
	if err != nil {
		return err
	}
	req.ContentLength = b.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Length", strconv.FormatInt(b.Size, 10))
	resp, err = r.client.Do(req)
	if err != nil {
		return registryError(r.host, err)
	}
	defer resp.Body.Close()
	return checkResponse(r.host, resp, http.StatusCreated)
}

func (r *repository) putManifest(ctx context.Context, tag, mediaType string, raw []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, r.url("manifests/"+url.PathEscape(tag)), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := r.client.Do(req)
	if err != nil {
		return registryError(r.host, err)
	}
	defer resp.Body.Close()
	if err := checkResponse(r.host, resp, http.StatusCreated, http.StatusOK); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}

// Login checks credentials against a registry (as `docker login` does): anonymous
// access is not enough, the registry must accept these credentials.
func (c *Client) Login(ctx context.Context, server string, auth api.AuthConfig) error {
	host := apiHost(server)
	if auth.Username == "" && auth.IdentityToken == "" && auth.RegistryToken == "" {
		return fmt.Errorf("login %s: a username is required: %w", server, errdefs.ErrInvalidArgument)
	}
	reg, err := c.registry(host)
	if err != nil {
		return err
	}
	base, err := c.baseTransport(host)
	if err != nil {
		return err
	}
	rt, err := transport.NewWithContext(ctx, reg, authenticator(auth), base, nil)
	if err != nil {
		return fmt.Errorf("login %s: %w", server, registryError(host, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return fmt.Errorf("login %s: %w", server, registryError(host, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("login %s: the registry refused the username or password: %w", server, errdefs.ErrUnauthorized)
	}
	if err := checkResponse(host, resp, http.StatusOK); err != nil {
		return fmt.Errorf("login %s: %w", server, err)
	}
	return nil
}

// countingReader reports how much of an upload was read.
type countingReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.report(c.n)
	return n, err
}

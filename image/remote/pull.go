package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
	"github.com/drover/drover/image/signature"
	"github.com/drover/drover/internal/errdefs"
)

// PullOptions are the choices of one pull.
type PullOptions struct {
	// Platform is "os/arch[/variant]"; "" is the host's.
	Platform string
	// Auth is the user's credentials for the registry (empty: anonymous).
	Auth api.AuthConfig
	// Progress receives Docker-style progress lines; nil drops them.
	Progress func(api.Progress)
}

// manifestAccept is every manifest kind drover understands.
var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest,
	image.MediaTypeDockerManifestList, image.MediaTypeDockerManifest,
}, ", ")

// layerAttempts is how often a layer download is tried, each try resuming the last.
const layerAttempts = 4

// Pull fetches ref (the host's platform or o.Platform's image of an index), stores and
// unpacks it, and names it ref. Layers download in parallel and unpack as they arrive;
// what is already stored is not fetched again; an interrupted download resumes.
func (c *Client) Pull(ctx context.Context, refStr string, o PullOptions) (*image.Image, error) {
	ref, err := image.ParseReference(refStr)
	if err != nil {
		return nil, err
	}
	platform, err := image.ParsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	if o.Progress == nil {
		o.Progress = func(api.Progress) {}
	}
	hosts := append(c.mirrors(ref.Domain), apiHost(ref.Domain))
	var errs []error
	for i, host := range hosts {
		auth := o.Auth
		if host != apiHost(ref.Domain) {
			auth = api.AuthConfig{} // the user's Hub credentials are not the mirror's
		}
		img, err := c.pullFrom(ctx, host, ref, platform, auth, o.Progress)
		if err == nil {
			return img, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil || i == len(hosts)-1 || errors.Is(err, image.ErrCorrupt) {
			break
		}
	}
	return nil, fmt.Errorf("pull %s: %w", ref.Familiar(), errors.Join(errs...))
}

func (c *Client) pullFrom(ctx context.Context, host string, ref image.Reference, platform ocispec.Platform, auth api.AuthConfig, report func(api.Progress)) (*image.Image, error) {
	repo, err := c.open(ctx, host, ref.Path, auth, "pull")
	if err != nil {
		return nil, err
	}
	tagOrDigest := ref.Tag
	if ref.Digest != "" {
		tagOrDigest = ref.Digest.String()
	}
	report(api.Progress{ID: shortTag(tagOrDigest), Status: "Pulling from " + strings.TrimPrefix(ref.Path, "")})
	top, raw, err := repo.manifest(ctx, tagOrDigest, ref.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Familiar(), err)
	}
	// The image's cosign signatures come with it (one request; none is the usual case),
	// for the trust policy and for a later push to carry on.
	sigs, sigErr := repo.signatures(ctx, top.Digest)
	if p := c.opts.Policy; p != nil {
		if err := p.Check(ref, top.Digest, func() ([]signature.Signature, error) { return sigs, sigErr }); err != nil {
			return nil, err
		}
	}
	var before digest.Digest
	if old, err := c.store.Get(ref.String()); err == nil {
		before = old.ID
	}
	in := c.store.NewIngest()
	defer in.Close()
	if err := in.WriteBlob(raw, top); err != nil {
		return nil, err
	}
	mdesc, mraw := top, raw
	for depth := 0; image.IsIndex(mdesc.MediaType); depth++ {
		if depth >= 4 {
			return nil, fmt.Errorf("%s: indexes nested more than 4 deep: %w", ref.Familiar(), errdefs.ErrInvalidArgument)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(mraw, &idx); err != nil {
			return nil, fmt.Errorf("%s: index %s is not valid JSON: %v: %w", ref.Familiar(), mdesc.Digest, err, errdefs.ErrInvalidArgument)
		}
		child, err := image.PickPlatform(idx.Manifests, platform)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref.Familiar(), err)
		}
		if mdesc, mraw, err = repo.manifest(ctx, child.Digest.String(), child.Digest); err != nil {
			return nil, fmt.Errorf("%s: %w", ref.Familiar(), err)
		}
		if err := in.WriteBlob(mraw, mdesc); err != nil {
			return nil, err
		}
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mraw, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest %s is not valid JSON: %v: %w", ref.Familiar(), mdesc.Digest, err, errdefs.ErrInvalidArgument)
	}
	if !image.IsManifest(mdesc.MediaType) || m.SchemaVersion != 2 {
		return nil, fmt.Errorf("%s: manifest %s has media type %q (schema %d): only OCI and Docker schema 2 images can be pulled: %w", ref.Familiar(), mdesc.Digest, mdesc.MediaType, m.SchemaVersion, errdefs.ErrInvalidArgument)
	}
	if len(m.Layers) > 500 {
		return nil, fmt.Errorf("%s: %d layers: at most 500 are supported: %w", ref.Familiar(), len(m.Layers), errdefs.ErrInvalidArgument)
	}
	diffIDs, err := c.fetchConfig(ctx, repo, in, m.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Familiar(), err)
	}
	if len(diffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%s: manifest lists %d layers, its config %d: %w", ref.Familiar(), len(m.Layers), len(diffIDs), errdefs.ErrInvalidArgument)
	}
	if err := c.fetchLayers(ctx, repo, in, m.Layers, diffIDs, report); err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Familiar(), err)
	}
	names := []string{ref.Name() + "@" + top.Digest.String()}
	if ref.Digest == "" {
		names = append(names, ref.String())
	}
	img, err := in.Commit(ctx, mdesc, names...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Familiar(), err)
	}
	if sigErr == nil && top.Digest == mdesc.Digest {
		// Kept only for a single manifest: a push sends that manifest, not an index.
		if err := c.store.AddSignatures(top.Digest, sigs); err != nil {
			return nil, fmt.Errorf("%s: %w", ref.Familiar(), err)
		}
	}
	for _, l := range m.Layers {
		report(api.Progress{ID: shortID(l.Digest), Status: "Pull complete"})
	}
	report(api.Progress{Status: "Digest: " + top.Digest.String()})
	if before == img.ID {
		report(api.Progress{Status: "Status: Image is up to date for " + ref.Familiar()})
	} else {
		report(api.Progress{Status: "Status: Downloaded newer image for " + ref.Familiar()})
	}
	return img, nil
}

// fetchConfig stores the image config (unless stored) and returns its diff IDs.
func (c *Client) fetchConfig(ctx context.Context, repo *repository, in *image.Ingest, desc ocispec.Descriptor) ([]digest.Digest, error) {
	if desc.Size > image.MaxConfigSize {
		return nil, fmt.Errorf("config %s is %d bytes, more than the %d allowed: %w", desc.Digest, desc.Size, image.MaxConfigSize, errdefs.ErrInvalidArgument)
	}
	var raw []byte
	if in.Has(desc.Digest) {
		rc, err := c.store.Content().Open(desc.Digest)
		if err != nil {
			return nil, err
		}
		raw, err = io.ReadAll(io.LimitReader(rc, image.MaxConfigSize))
		rc.Close()
		if err != nil {
			return nil, err
		}
	} else {
		var err error
		if raw, err = repo.smallBlob(ctx, desc); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := in.WriteBlob(raw, desc); err != nil {
			return nil, err
		}
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("config %s is not valid JSON: %v: %w", desc.Digest, err, errdefs.ErrInvalidArgument)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("config %s: diff ID %q: %v: %w", desc.Digest, d, err, errdefs.ErrInvalidArgument)
		}
	}
	return cfg.RootFS.DiffIDs, nil
}

// fetchLayers downloads the missing layers, Concurrency at a time.
func (c *Client) fetchLayers(ctx context.Context, repo *repository, in *image.Ingest, layers []ocispec.Descriptor, diffIDs []digest.Digest, report func(api.Progress)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var todo []int
	for i, l := range layers {
		if err := l.Digest.Validate(); err != nil {
			return fmt.Errorf("layer %d: digest %q: %v: %w", i+1, l.Digest, err, errdefs.ErrInvalidArgument)
		}
		if in.Has(l.Digest) {
			report(api.Progress{ID: shortID(l.Digest), Status: "Already exists"})
			continue
		}
		report(api.Progress{ID: shortID(l.Digest), Status: "Pulling fs layer"})
		todo = append(todo, i)
	}
	sem := make(chan struct{}, c.opts.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, i := range todo {
		wg.Add(1)
		go func(l ocispec.Descriptor, diffID digest.Digest) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := c.fetchLayer(ctx, repo, in, l, diffID, report); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				cancel()
			}
		}(layers[i], diffIDs[i])
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// fetchLayer downloads one layer, retrying network failures from where they stopped.
func (c *Client) fetchLayer(ctx context.Context, repo *repository, in *image.Ingest, l ocispec.Descriptor, diffID digest.Digest, report func(api.Progress)) error {
	id := shortID(l.Digest)
	var last time.Time
	progress := func(n int64) {
		if now := time.Now(); now.Sub(last) >= 100*time.Millisecond || n == l.Size {
			last = now
			report(api.Progress{ID: id, Status: "Downloading", Current: n, Total: l.Size})
		}
	}
	var err error
	for attempt := 1; attempt <= layerAttempts; attempt++ {
		err = in.FetchLayer(ctx, l, diffID, repo.blobFetch(l.Digest), progress)
		if err == nil || errors.Is(err, image.ErrCorrupt) || ctx.Err() != nil || errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrUnauthorized) {
			break
		}
		wait := time.Duration(attempt) * time.Second
		report(api.Progress{ID: id, Status: fmt.Sprintf("Retrying in %d seconds", int(wait.Seconds()))})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	report(api.Progress{ID: id, Status: "Download complete"})
	return nil
}

// manifest fetches a manifest or index by tag or digest; want, when set, must be its
// digest.
func (r *repository) manifest(ctx context.Context, tagOrDigest string, want digest.Digest) (ocispec.Descriptor, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("manifests/"+tagOrDigest), nil)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := r.client.Do(req)
	if err != nil {
		return ocispec.Descriptor{}, nil, registryError(r.host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest %s not found in %s/%s: check the name and tag: %w", tagOrDigest, r.host, r.path, errdefs.ErrNotFound)
	}
	if err := checkResponse(r.host, resp, http.StatusOK); err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, image.MaxManifestSize+1))
	if err != nil {
		return ocispec.Descriptor{}, nil, registryError(r.host, err)
	}
	if len(raw) > image.MaxManifestSize {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest %s is larger than %d bytes, the most the distribution spec allows: %w", tagOrDigest, image.MaxManifestSize, errdefs.ErrInvalidArgument)
	}
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
		if !alg.Available() {
			return ocispec.Descriptor{}, nil, fmt.Errorf("digest %s: unsupported algorithm: %w", want, errdefs.ErrInvalidArgument)
		}
	}
	d := alg.FromBytes(raw)
	if want != "" && d != want {
		return ocispec.Descriptor{}, nil, fmt.Errorf("manifest %s: the registry sent content with digest %s: %w", want, d, image.ErrCorrupt)
	}
	return ocispec.Descriptor{MediaType: manifestType(resp.Header.Get("Content-Type"), raw), Digest: d, Size: int64(len(raw))}, raw, nil
}

// manifestType is the media type of a manifest: the document's own field when it has
// one, else the Content-Type the registry sent.
func manifestType(contentType string, raw []byte) string {
	var probe struct {
		MediaType     string            `json:"mediaType"`
		SchemaVersion int               `json:"schemaVersion"`
		Manifests     []json.RawMessage `json:"manifests"`
		Config        json.RawMessage   `json:"config"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.MediaType != "" {
		return probe.MediaType
	}
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt != "application/json" && mt != "text/plain" {
		return mt
	}
	switch {
	case probe.Manifests != nil:
		return ocispec.MediaTypeImageIndex
	case probe.Config != nil:
		return ocispec.MediaTypeImageManifest
	}
	return contentType
}

// smallBlob fetches a blob whole (a config), checking its size and digest.
func (r *repository) smallBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	body, _, err := r.blobFetch(desc.Digest)(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, desc.Size+1))
	if err != nil {
		return nil, registryError(r.host, err)
	}
	if int64(len(raw)) != desc.Size || desc.Digest.Algorithm().FromBytes(raw) != desc.Digest {
		return nil, fmt.Errorf("blob %s: the registry sent %d bytes that do not match the digest and size (%d) the manifest gives: %w", desc.Digest, len(raw), desc.Size, image.ErrCorrupt)
	}
	return raw, nil
}

// blobFetch opens blob d from an offset with a range request; registries that ignore the
// range send it all (start 0).
func (r *repository) blobFetch(d digest.Digest) image.Fetch {
	return func(ctx context.Context, offset int64) (io.ReadCloser, int64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("blobs/"+d.String()), nil)
		if err != nil {
			return nil, 0, err
		}
		if offset > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, 0, registryError(r.host, err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return resp.Body, 0, nil
		case http.StatusPartialContent:
			var start int64
			if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-", &start); err != nil {
				resp.Body.Close()
				return nil, 0, fmt.Errorf("blob %s: bad Content-Range %q from the registry", d, resp.Header.Get("Content-Range"))
			}
			return resp.Body, start, nil
		case http.StatusRequestedRangeNotSatisfiable:
			resp.Body.Close()
			return nil, 0, fmt.Errorf("blob %s: the registry refused to resume at byte %d: %w", d, offset, image.ErrCorrupt)
		case http.StatusNotFound:
			resp.Body.Close()
			return nil, 0, fmt.Errorf("blob %s not found in %s/%s: %w", d, r.host, r.path, errdefs.ErrNotFound)
		}
		defer resp.Body.Close()
		return nil, 0, checkResponse(r.host, resp, http.StatusOK)
	}
}

// shortID is how Docker names a layer in progress output.
func shortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

func shortTag(tagOrDigest string) string {
	if d, err := digest.Parse(tagOrDigest); err == nil {
		return shortID(d)
	}
	return tagOrDigest
}

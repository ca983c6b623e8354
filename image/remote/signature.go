package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
	"github.com/drover/drover/image/signature"
	"github.com/drover/drover/internal/errdefs"
)

// Resolve returns the digest of the manifest ref names on its registry (an index for a
// multi-platform image): what a signature signs.
func (c *Client) Resolve(ctx context.Context, refStr string, auth api.AuthConfig) (image.Reference, digest.Digest, error) {
	ref, err := image.ParseReference(refStr)
	if err != nil {
		return image.Reference{}, "", err
	}
	repo, err := c.open(ctx, apiHost(ref.Domain), ref.Path, auth, "pull")
	if err != nil {
		return ref, "", err
	}
	tagOrDigest := ref.Tag
	if ref.Digest != "" {
		tagOrDigest = ref.Digest.String()
	}
	desc, _, err := repo.manifest(ctx, tagOrDigest, ref.Digest)
	if err != nil {
		return ref, "", fmt.Errorf("%s: %w", ref.Familiar(), err)
	}
	return ref, desc.Digest, nil
}

// Signatures fetches the cosign signatures stored for manifest d in ref's repository
// (none: an empty list). Each payload is checked against its layer's digest.
func (c *Client) Signatures(ctx context.Context, ref image.Reference, d digest.Digest, auth api.AuthConfig) ([]signature.Signature, error) {
	repo, err := c.open(ctx, apiHost(ref.Domain), ref.Path, auth, "pull")
	if err != nil {
		return nil, err
	}
	return repo.signatures(ctx, d)
}

func (r *repository) signatures(ctx context.Context, d digest.Digest) ([]signature.Signature, error) {
	// HEAD first: most images have no signatures, and registries that limit pulls
	// (Docker Hub) count manifest GETs but not HEADs.
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, r.url("manifests/"+signature.Tag(d)), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, registryError(r.host, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err := checkResponse(r.host, resp, http.StatusOK); err != nil {
		return nil, fmt.Errorf("signatures of %s: %w", d, err)
	}
	_, raw, err := r.manifest(ctx, signature.Tag(d), "")
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signatures of %s: %w", d, err)
	}
	layers, err := signature.Layers(raw)
	if err != nil {
		return nil, err
	}
	var sigs []signature.Signature
	for _, l := range layers {
		payload, err := r.smallBlob(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("signature payload %s: %w", l.Digest, err)
		}
		sigs = append(sigs, signature.Signature{Payload: payload, Signature: l.Annotations[signature.SignatureAnnotation]})
	}
	return sigs, nil
}

// PushSignature adds sig to the signatures of manifest d in ref's repository, keeping
// those already there.
func (c *Client) PushSignature(ctx context.Context, ref image.Reference, d digest.Digest, sig signature.Signature, auth api.AuthConfig) error {
	repo, err := c.open(ctx, apiHost(ref.Domain), ref.Path, auth, "pull", "push")
	if err != nil {
		return err
	}
	return repo.pushSignature(ctx, d, sig)
}

func (r *repository) pushSignature(ctx context.Context, d digest.Digest, sig signature.Signature) error {
	repo := r
	sigs, err := repo.signatures(ctx, d)
	if err != nil {
		return err
	}
	for _, s := range sigs {
		if s.Signature == sig.Signature && bytes.Equal(s.Payload, sig.Payload) {
			return nil
		}
	}
	sigs = append(sigs, sig)
	manifest, config, blobs := signature.Manifest(sigs)
	blobs[digest.FromBytes(config)] = config
	for bd, data := range blobs {
		has, err := repo.hasBlob(ctx, bd)
		if err != nil {
			return err
		}
		if !has {
			if err := repo.upload(ctx, ocispec.Descriptor{Digest: bd, Size: int64(len(data))}, bytes.NewReader(data)); err != nil {
				return fmt.Errorf("push signature blob: %w", err)
			}
		}
	}
	if err := repo.putManifest(ctx, signature.Tag(d), ocispec.MediaTypeImageManifest, manifest); err != nil {
		return fmt.Errorf("push signature: %w", err)
	}
	return nil
}

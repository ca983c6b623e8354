package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/errdefs"
)

// HealthConfig is Docker's health check in an image config ("Healthcheck"), which the
// OCI image spec does not have. Durations are nanoseconds in the JSON, as Docker writes.
type HealthConfig struct {
	Test        []string      `json:"Test,omitempty"`
	Interval    time.Duration `json:"Interval,omitempty"`
	Timeout     time.Duration `json:"Timeout,omitempty"`
	StartPeriod time.Duration `json:"StartPeriod,omitempty"`
	Retries     int           `json:"Retries,omitempty"`
}

// Image is one stored image.
type Image struct {
	// ID is the digest of the image config.
	ID digest.Digest
	// RepoTags are the image's names with a tag, in familiar form (busybox:latest).
	RepoTags []string
	// RepoDigests are its names pinned by digest (busybox@sha256:...).
	RepoDigests []string
	// Manifest is the digest of the image manifest in the content store.
	Manifest digest.Digest
	// Layers are the manifest's layer blobs as stored (compressed or not).
	Layers []ocispec.Descriptor
	// DiffIDs are the digests of the uncompressed layers, base first.
	DiffIDs []digest.Digest
	// ChainID names the top snapshot of the unpacked layers ("" for no layers).
	ChainID digest.Digest
	// Created is the config's creation time.
	Created time.Time
	// Size is the bytes of file content of all layers, unpacked.
	Size int64
	// Config is the parsed image config.
	Config ocispec.Image
	// RawConfig is the config blob as stored: fields that ocispec.Image drops live here.
	RawConfig []byte
	// Healthcheck is Docker's health check from the config, nil without one.
	Healthcheck *HealthConfig
}

// record is what the metadata database keeps per image; the config is in the content
// store.
type record struct {
	Manifest ocispec.Descriptor   `json:"manifest"`
	Layers   []ocispec.Descriptor `json:"layers"`
	DiffIDs  []digest.Digest      `json:"diffIds"`
	Created  time.Time            `json:"created"`
	Size     int64                `json:"size"`
}

// Config and manifest JSON comes from hostile archives and registries: these bound what
// is read of them (the distribution spec allows manifests of 4 MiB).
const (
	MaxConfigSize   = 8 << 20
	MaxManifestSize = 4 << 20
	maxLayers       = 500 // overlayfs stacks at most 500 lowerdirs
)

// dockerConfig is the part of the config JSON that ocispec.Image leaves out.
type dockerConfig struct {
	Config struct {
		Healthcheck *HealthConfig `json:"Healthcheck"`
	} `json:"config"`
}

// parseConfig decodes and checks an image config.
func parseConfig(raw []byte) (ocispec.Image, *HealthConfig, error) {
	var cfg ocispec.Image
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, nil, fmt.Errorf("image config is not valid JSON: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	var extra dockerConfig
	_ = json.Unmarshal(raw, &extra) // a malformed Healthcheck is ignored, as Docker does
	if cfg.OS != "" && cfg.OS != "linux" {
		return cfg, nil, fmt.Errorf("image is for %s, this host runs linux: %w", cfg.OS, errdefs.ErrInvalidArgument)
	}
	if cfg.RootFS.Type != "layers" {
		return cfg, nil, fmt.Errorf("image config rootfs type is %q, want \"layers\": %w", cfg.RootFS.Type, errdefs.ErrInvalidArgument)
	}
	if len(cfg.RootFS.DiffIDs) > maxLayers {
		return cfg, nil, fmt.Errorf("image has %d layers, more than the %d overlayfs can stack: %w", len(cfg.RootFS.DiffIDs), maxLayers, errdefs.ErrInvalidArgument)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
			return cfg, nil, fmt.Errorf("image config has a bad diff ID %q: %w", truncate(string(d), 100), errdefs.ErrInvalidArgument)
		}
	}
	return cfg, extra.Config.Healthcheck, nil
}

// chainIDs computes the chain IDs of diff IDs (OCI image spec).
func chainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	var parent digest.Digest
	for i, d := range diffIDs {
		if parent == "" {
			out[i] = d
		} else {
			out[i] = digest.FromString(parent.String() + " " + d.String())
		}
		parent = out[i]
	}
	return out
}

// ChainID is the chain ID of the whole diff ID list ("" for none).
func ChainID(diffIDs []digest.Digest) digest.Digest {
	if len(diffIDs) == 0 {
		return ""
	}
	c := chainIDs(diffIDs)
	return c[len(c)-1]
}

// canonicalJSON marshals v without HTML escaping, as registries and Docker write.
func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

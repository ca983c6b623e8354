// Package signature signs and verifies images in cosign's key-based format: a "simple
// signing" JSON payload naming the repository and the manifest digest, signed with an
// ECDSA P-256 or Ed25519 key, stored in the image's repository as the layers of an OCI
// manifest tagged "sha256-<hex>.sig" (ADR 0008).
package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/errdefs"
)

const (
	// PayloadMediaType is the media type of a signature's payload layer.
	PayloadMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation holds the base64 signature of the payload on its layer.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// payloadType is the "type" cosign writes into the payload.
	payloadType = "cosign container image signature"
	maxPayload  = 64 << 10
	// MaxSignatures is how many signatures of one manifest are read.
	MaxSignatures = 64
)

// ErrInvalid: a signature does not verify (wrong key, altered payload or image).
var ErrInvalid = errors.New("signature does not verify")

// Tag is the tag under which the signatures of manifest d are stored.
func Tag(d digest.Digest) string { return d.Algorithm().String() + "-" + d.Encoded() + ".sig" }

// Signature is one signed payload.
type Signature struct {
	Payload   []byte
	Signature string // base64
}

// Payload is cosign's simple signing payload.
type Payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest digest.Digest `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// NewPayload is the payload that signs manifest d of repository repo ("host/path").
func NewPayload(repo string, d digest.Digest) []byte {
	var p Payload
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = d
	p.Critical.Type = payloadType
	b, _ := json.Marshal(p)
	return b
}

// Sign signs payload with key (ECDSA P-256 over its SHA-256, or Ed25519).
func Sign(key crypto.Signer, payload []byte) (Signature, error) {
	var sig []byte
	var err error
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(payload)
		sig, err = ecdsa.SignASN1(rand.Reader, k, h[:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, payload)
	default:
		return Signature{}, fmt.Errorf("key type %T: use an ECDSA P-256 or Ed25519 key: %w", key, errdefs.ErrInvalidArgument)
	}
	if err != nil {
		return Signature{}, fmt.Errorf("sign: %w", err)
	}
	return Signature{Payload: payload, Signature: base64.StdEncoding.EncodeToString(sig)}, nil
}

// Verify checks s with pub and that it signs manifest d of repository repo. An
// altered payload, a signature by another key, or a payload for other content fail
// with ErrInvalid.
func Verify(pub crypto.PublicKey, s Signature, repo string, d digest.Digest) error {
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil {
		return fmt.Errorf("signature is not base64: %w", ErrInvalid)
	}
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(s.Payload)
		ok = ecdsa.VerifyASN1(k, h[:], sig)
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, s.Payload, sig)
	default:
		return fmt.Errorf("public key type %T: use an ECDSA P-256 or Ed25519 key: %w", pub, errdefs.ErrInvalidArgument)
	}
	if !ok {
		return fmt.Errorf("the signature was not made by this key, or its payload was altered: %w", ErrInvalid)
	}
	var p Payload
	if err := json.Unmarshal(s.Payload, &p); err != nil {
		return fmt.Errorf("payload is not JSON: %w", ErrInvalid)
	}
	if p.Critical.Type != payloadType {
		return fmt.Errorf("payload type %q is not %q: %w", p.Critical.Type, payloadType, ErrInvalid)
	}
	if p.Critical.Image.DockerManifestDigest != d {
		return fmt.Errorf("the signature is for %s, the image is %s (changed after signing?): %w", p.Critical.Image.DockerManifestDigest, d, ErrInvalid)
	}
	if repo != "" && p.Critical.Identity.DockerReference != repo {
		return fmt.Errorf("the signature is for repository %s, not %s: %w", p.Critical.Identity.DockerReference, repo, ErrInvalid)
	}
	return nil
}

// Manifest is the signature image for a set of signatures: an OCI manifest whose
// layers are the payloads, each with its signature in an annotation. It returns the
// manifest, its config and the payload blobs by digest.
func Manifest(sigs []Signature) (manifest, config []byte, blobs map[digest.Digest][]byte) {
	blobs = map[digest.Digest][]byte{}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest}
	m.SchemaVersion = 2
	var diffIDs []digest.Digest
	for _, s := range sigs {
		d := digest.FromBytes(s.Payload)
		blobs[d] = s.Payload
		diffIDs = append(diffIDs, d)
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: PayloadMediaType, Digest: d, Size: int64(len(s.Payload)),
			Annotations: map[string]string{SignatureAnnotation: s.Signature}})
	}
	config, _ = json.Marshal(ocispec.Image{RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}})
	m.Config = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))}
	manifest, _ = json.Marshal(m)
	return manifest, config, blobs
}

// Layers reads the payload descriptors of a signature manifest.
func Layers(manifest []byte) ([]ocispec.Descriptor, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("signature manifest: %w", err)
	}
	var out []ocispec.Descriptor
	for _, l := range m.Layers {
		if len(out) == MaxSignatures {
			break // a hostile manifest cannot make a reader fetch without end
		}
		if l.MediaType == PayloadMediaType && l.Annotations[SignatureAnnotation] != "" && l.Size <= maxPayload {
			out = append(out, l)
		}
	}
	return out, nil
}

// Generate makes an ECDSA P-256 key pair as PEM: PKCS#8 private key, PKIX public key
// (the formats openssl and cosign read).
func Generate() (private, public []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), nil
}

// LoadPrivateKey reads a PEM private key: PKCS#8 ("PRIVATE KEY", as openssl genpkey
// writes) or SEC 1 ("EC PRIVATE KEY", openssl ecparam -genkey), ECDSA P-256 or Ed25519.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return k, nil
}

// ParsePrivateKey parses the PEM of LoadPrivateKey.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("no PEM private key found: %w", errdefs.ErrInvalidArgument)
		}
		var key any
		var err error
		switch {
		case b.Type == "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case b.Type == "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case strings.HasPrefix(b.Type, "ENCRYPTED"):
			return nil, fmt.Errorf("%s: encrypted keys are not supported: export it unencrypted (openssl pkcs8 -nocrypt): %w", b.Type, errdefs.ErrInvalidArgument)
		default:
			continue // EC PARAMETERS and the like
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v: %w", b.Type, err, errdefs.ErrInvalidArgument)
		}
		return checkPrivate(key)
	}
}

func checkPrivate(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA curve %s: only P-256 is supported: %w", k.Curve.Params().Name, errdefs.ErrInvalidArgument)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("key type %T: use an ECDSA P-256 or Ed25519 key: %w", key, errdefs.ErrInvalidArgument)
}

// LoadPublicKey reads a PEM public key ("PUBLIC KEY", PKIX), ECDSA P-256 or Ed25519.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// ParsePublicKey parses the PEM of LoadPublicKey.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("no PEM \"PUBLIC KEY\" found (openssl pkey -pubout writes one): %w", errdefs.ErrInvalidArgument)
	}
	key, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA curve %s: only P-256 is supported: %w", k.Curve.Params().Name, errdefs.ErrInvalidArgument)
		}
		return k, nil
	case ed25519.PublicKey:
		return k, nil
	}
	return nil, fmt.Errorf("key type %T: use an ECDSA P-256 or Ed25519 key: %w", key, errdefs.ErrInvalidArgument)
}

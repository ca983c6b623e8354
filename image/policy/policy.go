// Package policy evaluates a trust policy in the format of containers-policy.json(5)
// (/etc/containers/policy.json) for images pulled from registries: per registry,
// namespace or repository scopes of the "docker" transport, each a list of requirements
// that must all hold: insecureAcceptAnything, reject, or sigstoreSigned with public keys
// (signatures in cosign's format, see image/signature).
package policy

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image"
	"github.com/drover/drover/image/signature"
	"github.com/drover/drover/internal/errdefs"
)

// ErrRejected: the policy refuses the image.
var ErrRejected = errors.New("rejected by the trust policy")

// Policy is a parsed policy file.
type Policy struct {
	path   string
	def    []requirement
	scopes map[string][]requirement // the "docker" transport's scopes
}

type requirement struct {
	Type           string          `json:"type"`
	KeyType        string          `json:"keyType"`
	KeyPath        string          `json:"keyPath"`
	KeyPaths       []string        `json:"keyPaths"`
	KeyData        string          `json:"keyData"`
	SignedIdentity *signedIdentity `json:"signedIdentity"`

	keys     []crypto.PublicKey
	keyNames []string
}

type signedIdentity struct {
	Type             string `json:"type"`
	DockerReference  string `json:"dockerReference"`
	DockerRepository string `json:"dockerRepository"`
	Prefix           string `json:"prefix"`
	SignedPrefix     string `json:"signedPrefix"`
}

// Load reads and checks a policy file: unknown requirement types, unreadable keys and a
// missing default are errors now, not at pull time.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trust policy: %w", err)
	}
	p, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("trust policy %s: %w", path, err)
	}
	p.path = path
	return p, nil
}

// Parse parses a policy; relative key paths are resolved against dir.
func Parse(data []byte, dir string) (*Policy, error) {
	var raw struct {
		Default    []requirement                       `json:"default"`
		Transports map[string]map[string][]requirement `json:"transports"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if raw.Default == nil {
		return nil, fmt.Errorf(`no "default" requirements (containers-policy.json requires them; [{"type":"reject"}] is the safe choice): %w`, errdefs.ErrInvalidArgument)
	}
	p := &Policy{path: "policy", def: raw.Default, scopes: raw.Transports["docker"]}
	if err := prepare(p.def, dir, "default"); err != nil {
		return nil, err
	}
	for scope, reqs := range p.scopes {
		if err := prepare(reqs, dir, "docker scope "+scope); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func prepare(reqs []requirement, dir, where string) error {
	if len(reqs) == 0 {
		return fmt.Errorf("%s: an empty list of requirements (use insecureAcceptAnything or reject): %w", where, errdefs.ErrInvalidArgument)
	}
	for i := range reqs {
		r := &reqs[i]
		switch r.Type {
		case "insecureAcceptAnything", "reject":
		case "signedBy":
			// GPG simple signing needs OpenPGP and signature storage drover does not have;
			// such a rule refuses everything it scopes, and says so.
		case "sigstoreSigned":
			paths := r.KeyPaths
			if r.KeyPath != "" {
				paths = append(paths, r.KeyPath)
			}
			for _, kp := range paths {
				if !filepath.IsAbs(kp) {
					kp = filepath.Join(dir, kp)
				}
				k, err := signature.LoadPublicKey(kp)
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				r.keys, r.keyNames = append(r.keys, k), append(r.keyNames, kp)
			}
			if r.KeyData != "" {
				pemData, err := base64.StdEncoding.DecodeString(r.KeyData)
				if err != nil {
					return fmt.Errorf("%s: keyData is not base64: %w", where, errdefs.ErrInvalidArgument)
				}
				k, err := signature.ParsePublicKey(pemData)
				if err != nil {
					return fmt.Errorf("%s: keyData: %w", where, err)
				}
				r.keys, r.keyNames = append(r.keys, k), append(r.keyNames, "keyData")
			}
			if len(r.keys) == 0 {
				return fmt.Errorf("%s: sigstoreSigned needs keyPath, keyPaths or keyData (keyless signing is not supported): %w", where, errdefs.ErrInvalidArgument)
			}
			if si := r.SignedIdentity; si != nil {
				switch si.Type {
				case "matchRepoDigestOrExact", "matchRepository", "matchExact", "exactReference", "exactRepository":
				default:
					return fmt.Errorf("%s: signedIdentity type %q is not supported: %w", where, si.Type, errdefs.ErrInvalidArgument)
				}
			}
		default:
			return fmt.Errorf("%s: requirement type %q: want insecureAcceptAnything, reject, signedBy or sigstoreSigned: %w", where, r.Type, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// scopeFor finds the most specific scope for ref: the reference itself, its
// repository, each parent namespace, the registry, then "*.domain" wildcards; "" when
// only the default applies.
func (p *Policy) scopeFor(ref image.Reference) (string, []requirement) {
	var candidates []string
	if ref.Digest != "" {
		candidates = append(candidates, ref.Name()+"@"+ref.Digest.String())
	}
	if ref.Tag != "" {
		candidates = append(candidates, ref.Name()+":"+ref.Tag)
	}
	for name := ref.Name(); ; {
		candidates = append(candidates, name)
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			break
		}
		name = name[:i]
	}
	host := ref.Domain
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	for labels := strings.Split(host, "."); len(labels) > 1; labels = labels[1:] {
		candidates = append(candidates, "*."+strings.Join(labels[1:], "."))
	}
	for _, c := range candidates {
		if reqs, ok := p.scopes[c]; ok {
			return c, reqs
		}
	}
	if reqs, ok := p.scopes[""]; ok {
		return `""`, reqs
	}
	return "", p.def
}

// Signatures fetches the signatures of a manifest (only when a rule needs them).
type Signatures func() ([]signature.Signature, error)

// Check decides whether the image ref, whose manifest has digest d, may be pulled. A
// refusal (ErrRejected) names the scope and the requirement that refused it.
func (p *Policy) Check(ref image.Reference, d digest.Digest, sigs Signatures) error {
	scope, reqs := p.scopeFor(ref)
	where := "the default requirements"
	if scope != "" {
		where = "docker scope " + scope
	}
	var fetched []signature.Signature
	var fetchErr error
	haveSigs := false
	for i, r := range reqs {
		rule := fmt.Sprintf("%s, requirement %d (%s)", where, i+1, r.Type)
		switch r.Type {
		case "insecureAcceptAnything":
			continue
		case "reject":
			return fmt.Errorf("%s refuses %s: %s: %w", p.path, ref.String(), rule, ErrRejected)
		case "signedBy":
			return fmt.Errorf("%s refuses %s: %s: GPG signatures are not supported, use sigstoreSigned: %w", p.path, ref.String(), rule, ErrRejected)
		case "sigstoreSigned":
			if !haveSigs {
				fetched, fetchErr = sigs()
				haveSigs = true
			}
			if fetchErr != nil {
				return fmt.Errorf("%s refuses %s: %s: reading signatures: %v: %w", p.path, ref.String(), rule, fetchErr, ErrRejected)
			}
			if err := r.verify(ref, d, fetched); err != nil {
				return fmt.Errorf("%s refuses %s: %s: %v: %w", p.path, ref.String(), rule, err, ErrRejected)
			}
		}
	}
	return nil
}

// verify wants one signature that one of the keys verifies for d, naming an identity
// the rule accepts. Signatures in cosign's format name a repository, so the
// repository-matching identities compare repositories.
func (r *requirement) verify(ref image.Reference, d digest.Digest, sigs []signature.Signature) error {
	if len(sigs) == 0 {
		return fmt.Errorf("no signatures for %s", d)
	}
	want := ref.Name()
	if si := r.SignedIdentity; si != nil {
		switch si.Type {
		case "exactRepository":
			want = si.DockerRepository
		case "exactReference":
			if er, err := image.ParseReference(si.DockerReference); err == nil {
				want = er.Name()
			}
		}
	}
	var errs []string
	for _, s := range sigs {
		for i, k := range r.keys {
			err := signature.Verify(k, s, want, d)
			if err == nil {
				return nil
			}
			errs = append(errs, fmt.Sprintf("%s: %v", r.keyNames[i], err))
		}
	}
	return fmt.Errorf("none of %d signatures verifies with the rule's keys (%s)", len(sigs), strings.Join(errs, "; "))
}

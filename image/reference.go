// Package image is drover's local image store: references normalised as Docker does,
// image metadata in bbolt, blobs in image/content and unpacked layers in image/snapshot.
// Archives, manifests and configs are hostile input: every digest is verified, every
// size bounded, and layers are unpacked by the snapshotter's never-follow code.
package image

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/internal/errdefs"
)

const (
	// DefaultDomain is the registry of names without one.
	DefaultDomain = "docker.io"
	// legacyDomain is Docker Hub's old name, normalised to DefaultDomain.
	legacyDomain = "index.docker.io"
	// officialRepo is the path prefix of Docker Hub's official images.
	officialRepo = "library/"
	// maxNameLen bounds domain/path, as the distribution spec does.
	maxNameLen = 255
)

// Reference is a normalised image name: Domain/Path[:Tag][@Digest].
type Reference struct {
	Domain string
	Path   string
	Tag    string
	Digest digest.Digest
}

// The patterns compile on first use: every drover process (shim and container init too)
// links this package, and compiling them at start-up would cost each of them.
var (
	pathComponentRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	})
	tagRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) })
	domainRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$`)
	})
	hex64RE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-f0-9]{64}$`) })
)

// ParseReference parses and normalises an image reference as Docker does:
// "busybox" is docker.io/library/busybox:latest, "user/app:v1" is docker.io/user/app:v1,
// "localhost:5000/x" keeps its registry, "name@sha256:..." pins a digest.
func ParseReference(s string) (Reference, error) {
	bad := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("invalid reference %q: %s: %w", truncate(s, 300), why, errdefs.ErrInvalidArgument)
	}
	if s == "" {
		return bad("empty name")
	}
	if len(s) > 512 {
		return bad("longer than 512 characters")
	}
	var r Reference
	name := s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		d, err := digest.Parse(name[i+1:])
		if err != nil {
			return bad("the part after '@' is not a digest like sha256:<64 hex digits>")
		}
		r.Digest = d
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.Contains(name[i:], "/") {
		r.Tag = name[i+1:]
		name = name[:i]
		if !tagRE().MatchString(r.Tag) {
			return bad("a tag is up to 128 letters, digits, '_', '.' or '-' and does not start with '.' or '-'")
		}
	}
	// The first component is a registry when it looks like a host: it has a '.' or a
	// port, is "localhost", or has capitals (never valid in a repository path).
	first, rest, hasSlash := strings.Cut(name, "/")
	if hasSlash && (strings.ContainsAny(first, ".:[") || first == "localhost" || strings.ToLower(first) != first) {
		if !domainRE().MatchString(first) {
			return bad("the registry part is not a host name with an optional port")
		}
		r.Domain, r.Path = first, rest
	} else {
		r.Domain, r.Path = DefaultDomain, name
	}
	if r.Domain == legacyDomain {
		r.Domain = DefaultDomain
	}
	if r.Domain == DefaultDomain && !strings.Contains(r.Path, "/") {
		r.Path = officialRepo + r.Path
	}
	if r.Path == "" {
		return bad("no repository name")
	}
	for _, c := range strings.Split(r.Path, "/") {
		if !pathComponentRE().MatchString(c) {
			return bad("repository names are lowercase letters and digits separated by '.', '_', '__' or '-', in parts joined by '/'")
		}
	}
	if len(r.Name()) > maxNameLen {
		return bad(fmt.Sprintf("the name is longer than %d characters", maxNameLen))
	}
	if r.Domain == DefaultDomain && hex64RE().MatchString(strings.TrimPrefix(r.Path, officialRepo)) && r.Tag == "" && r.Digest == "" {
		return bad("a 64-character hexadecimal name is an image ID, not a name")
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Name is domain/path.
func (r Reference) Name() string { return r.Domain + "/" + r.Path }

// String is the full normalised form: docker.io/library/busybox:latest.
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// FamiliarName is the short repository name Docker shows: busybox, user/app, ghcr.io/x/y.
func (r Reference) FamiliarName() string {
	if r.Domain != DefaultDomain {
		return r.Name()
	}
	return strings.TrimPrefix(r.Path, officialRepo)
}

// Familiar is the short form Docker shows: busybox:latest, user/app:v1.
func (r Reference) Familiar() string {
	s := r.FamiliarName()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// isImageID says whether s is written like an image ID: sha256:<hex> or bare hex.
func isImageID(s string) bool {
	hex := strings.TrimPrefix(s, "sha256:")
	if hex == "" || len(hex) > 64 {
		return false
	}
	for _, c := range hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Package image is drover's local image store: references as Docker normalises them,
// image metadata in bbolt, blobs in image/content and unpacked layers in image/snapshot.
package image

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/internal/errdefs"
)

// DefaultDomain is the registry of names without one.
const DefaultDomain = "docker.io"

// Reference is a normalised image name: domain/path[:tag][@digest].
type Reference struct {
	Domain string
	Path   string
	Tag    string
	Digest digest.Digest
}

// The patterns compile on first use: every drover process (shim and container init too)
// links this package, and compiling them at start-up would cost each of them.
var (
	pathComponent = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	})
	tagRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w][\w.-]{0,127}$`) })
	domainRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$`)
	})
)

// ParseReference normalises s as Docker does: "busybox" is docker.io/library/busybox:latest.
func ParseReference(s string) (Reference, error) {
	bad := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("invalid reference %q: %s: %w", s, why, errdefs.ErrInvalidArgument)
	}
	if s == "" || len(s) > 512 {
		return bad("empty or too long")
	}
	var r Reference
	name := s
	if i := strings.Index(name, "@"); i >= 0 {
		d, err := digest.Parse(name[i+1:])
		if err != nil {
			return bad("bad digest")
		}
		r.Digest = d
		name = name[:i]
	}
	if i := strings.LastIndex(name, ":"); i >= 0 && !strings.Contains(name[i:], "/") {
		r.Tag = name[i+1:]
		name = name[:i]
		if !tagRE().MatchString(r.Tag) {
			return bad("bad tag")
		}
	}
	first, rest, hasSlash := strings.Cut(name, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost" || strings.HasPrefix(first, "[")) {
		if !domainRE().MatchString(first) {
			return bad("bad registry")
		}
		r.Domain, r.Path = first, rest
	} else {
		r.Domain, r.Path = DefaultDomain, name
	}
	if r.Domain == DefaultDomain && !strings.Contains(r.Path, "/") {
		r.Path = "library/" + r.Path
	}
	if r.Path == "" {
		return bad("no name")
	}
	for _, c := range strings.Split(r.Path, "/") {
		if !pathComponent().MatchString(c) {
			return bad("names are lowercase letters, digits and separators")
		}
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// Name is domain/path.
func (r Reference) Name() string { return r.Domain + "/" + r.Path }

// String is the full normalised form.
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

// Familiar is the short form Docker shows: busybox:latest, user/app:v1.
func (r Reference) Familiar() string {
	s := r.String()
	if r.Domain == DefaultDomain {
		s = strings.TrimPrefix(s, DefaultDomain+"/")
		s = strings.TrimPrefix(s, "library/")
	}
	return s
}

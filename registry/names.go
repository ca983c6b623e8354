package registry

import (
	"strings"

	"github.com/opencontainers/go-digest"
)

// The grammar of the distribution spec, checked by hand (no regexp to compile at start-up,
// and a parser simple enough to fuzz): names are path components of lowercase letters and
// digits joined by '.', '_', '__' or runs of '-'; no component may be empty, "." or "..",
// so a name never walks out of anything it is joined to.

const (
	maxNameLength = 255
	maxTagLength  = 128
)

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// validName reports whether name follows the spec's repository name grammar.
func validName(name string) bool {
	if name == "" || len(name) > maxNameLength {
		return false
	}
	for _, comp := range strings.Split(name, "/") {
		if !validComponent(comp) {
			return false
		}
	}
	return true
}

func validComponent(c string) bool {
	if c == "" || !isLowerAlnum(c[0]) || !isLowerAlnum(c[len(c)-1]) {
		return false
	}
	for i := 1; i < len(c); i++ {
		if isLowerAlnum(c[i]) {
			continue
		}
		// A separator: '.', '_', '__' or '-'+, always between alphanumerics.
		switch c[i] {
		case '.':
			if !isLowerAlnum(c[i+1]) {
				return false
			}
		case '_':
			if c[i+1] == '_' {
				i++
			}
			if !isLowerAlnum(c[i+1]) {
				return false
			}
		case '-':
			for c[i+1] == '-' {
				i++
			}
			if !isLowerAlnum(c[i+1]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validTag reports whether tag follows [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func validTag(tag string) bool {
	if tag == "" || len(tag) > maxTagLength {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if i > 0 {
			ok = ok || c == '.' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

// parseDigest accepts the digests the content store keeps (sha256, sha512).
func parseDigest(s string) (digest.Digest, bool) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", false
	}
	if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return "", false
	}
	return d, true
}

type routeKind int

const (
	routeNone routeKind = iota
	routeBase
	routeCatalog
	routeTags
	routeManifest
	routeBlob
	routeUploadStart
	routeUpload
	routeReferrers
)

type route struct {
	kind routeKind
	name string // repository
	ref  string // tag or digest (manifests), digest (blobs, referrers), upload ID
}

// parseRoute maps a request path (as sent, still escaped) to the API's endpoints. The
// repository name may itself hold "blobs" or "manifests" as components, so the path is
// read from its end. Anything escaped is refused: no name or reference needs it.
func parseRoute(path string) (route, bool) {
	if strings.ContainsAny(path, "%\\") {
		return route{}, false
	}
	switch path {
	case "/v2", "/v2/":
		return route{kind: routeBase}, true
	case "/v2/_catalog":
		return route{kind: routeCatalog}, true
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{}, false
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return checked(route{kind: routeTags, name: name})
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return route{}, false
	}
	last, before := rest[i+1:], rest[:i]
	j := strings.LastIndexByte(before, '/')
	if j < 0 {
		return route{}, false
	}
	kind, name := before[j+1:], before[:j]
	switch kind {
	case "manifests":
		return checked(route{kind: routeManifest, name: name, ref: last})
	case "referrers":
		return checked(route{kind: routeReferrers, name: name, ref: last})
	case "blobs":
		if last == "uploads" {
			return checked(route{kind: routeUploadStart, name: name})
		}
		return checked(route{kind: routeBlob, name: name, ref: last})
	case "uploads":
		name, ok := strings.CutSuffix(name, "/blobs")
		if !ok {
			return route{}, false
		}
		if last == "" {
			return checked(route{kind: routeUploadStart, name: name})
		}
		return checked(route{kind: routeUpload, name: name, ref: last})
	}
	return route{}, false
}

// checked keeps a route only when its name is valid; references are checked by each
// handler, which answers with the error code that fits.
func checked(r route) (route, bool) {
	if !validName(r.name) {
		return route{kind: r.kind, name: r.name}, false
	}
	return r, true
}

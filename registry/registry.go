// Package registry is drover's embedded OCI distribution server (distribution spec v1.1).
//
// Blobs live in a content store (image/content: hashed while they stream, checked, fsynced
// and renamed into place), so a blob is visible only once it is whole and verified.
// Uploads in progress are the content store's ingests, never served. Which repository
// holds which blobs and manifests, its tags and its referrers are kept in a bbolt file
// beside the store (meta.go). A crash at any point leaves at most blobs that nothing
// references, which GC removes.
package registry

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image/content"
)

const (
	// MaxManifestSize is the largest manifest accepted (the limit other registries use).
	MaxManifestSize      = 4 << 20
	defaultUploadTimeout = time.Hour
)

// Options configure a Registry.
type Options struct {
	// Auth, when set, requires credentials and checks access per repository.
	Auth *Auth
	// MaxBlobSize bounds one blob (0: no bound but the disk's).
	MaxBlobSize int64
	// UploadTimeout drops uploads idle for longer (default one hour).
	UploadTimeout time.Duration
	// MaxUploads bounds the uploads in progress, each an open file (default 1024); more
	// are refused with 429 TOOMANYREQUESTS.
	MaxUploads int
	// Logf, when set, logs server errors.
	Logf func(format string, args ...any)
	// Source, when set, adds read-only images kept elsewhere (the daemon's).
	Source *Source
}

// Registry serves the OCI distribution API over a content store.
type Registry struct {
	store *content.Store
	meta  *meta
	opts  Options

	// gcMu: requests that link blobs or record manifests hold it shared; GC holds it
	// alone while it decides and deletes, so it never deletes what a push just linked.
	gcMu sync.RWMutex

	upMu    sync.Mutex
	uploads map[string]*upload

	cache  manifestCache
	source *sourceView // nil without Options.Source

	stop chan struct{}
	done chan struct{}
}

// Open opens (creating if needed) a registry under root: blobs in root/content, metadata
// in root/registry.db. Uploads left by a previous run are discarded: their clients
// start over.
func Open(root string, opts Options) (*Registry, error) {
	if opts.UploadTimeout <= 0 {
		opts.UploadTimeout = defaultUploadTimeout
	}
	if opts.MaxUploads <= 0 {
		opts.MaxUploads = 1024
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("registry root: %w", err)
	}
	store, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	m, err := openMeta(filepath.Join(root, "registry.db"))
	if err != nil {
		return nil, err
	}
	if err := store.PruneIngests(0); err != nil {
		m.close()
		return nil, fmt.Errorf("discard stale uploads: %w", err)
	}
	r := &Registry{store: store, meta: m, opts: opts, uploads: map[string]*upload{}, stop: make(chan struct{}), done: make(chan struct{})}
	r.cache.max = 32 << 20
	if opts.Source != nil {
		r.source = &sourceView{src: opts.Source}
	}
	go r.expireUploads()
	return r, nil
}

// Close stops the background work, drops uploads in progress and closes the metadata.
func (r *Registry) Close() error {
	close(r.stop)
	<-r.done
	r.upMu.Lock()
	open := r.uploads
	r.uploads = map[string]*upload{}
	r.upMu.Unlock()
	// Not under upMu: a request that still holds an upload takes upMu to end it.
	for _, u := range open {
		u.mu.Lock()
		if !u.finished {
			_ = u.w.Abort()
			u.finished = true
		}
		u.mu.Unlock()
	}
	return r.meta.close()
}

func (r *Registry) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

// ServeHTTP routes a request of the distribution API.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if a := r.opts.Auth; a != nil && a.tokens() && req.URL.Path == "/token" {
		a.serveToken(w, req)
		return
	}
	rt, ok := parseRoute(req.URL.EscapedPath())
	if !ok {
		if rt.kind != routeNone {
			writeError(w, errNameInvalid(fmt.Sprintf("invalid repository name %q", rt.name)))
			return
		}
		writeError(w, &apiError{http.StatusNotFound, "NOT_FOUND", "no such endpoint of the distribution API", nil})
		return
	}
	if a := r.opts.Auth; a != nil && !r.authorize(w, req, rt) {
		return
	}
	if err := r.dispatch(w, req, rt); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			r.logf("registry: %s %s: %v", req.Method, req.URL.Path, err)
		}
		writeError(w, err)
	}
}

// identity is who a request is and what it may do to a repository.
type identity struct {
	user    string
	bearer  *tokenClaims // set when a token authenticated the request
	access  func(name string) Access
	catalog bool
}

// identify reads the request's credentials: a bearer token (token flow), basic auth,
// or none (anonymous). ok is false when credentials were given and are wrong.
func (r *Registry) identify(req *http.Request) (identity, bool) {
	a := r.opts.Auth
	if h := req.Header.Get("Authorization"); a.tokens() && strings.HasPrefix(h, "Bearer ") {
		c, err := a.parseToken(strings.TrimPrefix(h, "Bearer "))
		if err != nil {
			return identity{}, false
		}
		return identity{user: c.Subject, bearer: &c, access: c.grants, catalog: c.catalog()}, true
	}
	user, ok := a.authenticate(req)
	if !ok {
		return identity{}, false
	}
	return identity{user: user, access: func(name string) Access { return a.access(user, name) },
		catalog: user != anonymous || a.AnonymousPull}, true
}

// challenge answers 401 with the challenge of the configured scheme.
func (r *Registry) challenge(w http.ResponseWriter, req *http.Request, scope, errCode string) {
	a := r.opts.Auth
	if a.tokens() {
		a.bearerChallenge(w, req, scope, errCode)
	} else {
		a.challenge(w)
	}
	writeError(w, errUnauthorized())
}

// authorize answers 401 or 403 and returns false when the request may not go on. The
// decision is taken before anything is looked up, so a refusal says nothing about
// whether the repository exists.
func (r *Registry) authorize(w http.ResponseWriter, req *http.Request, rt route) bool {
	id, ok := r.identify(req)
	if !ok {
		r.challenge(w, req, "", "invalid_token")
		return false
	}
	switch rt.kind {
	case routeBase:
		// Anonymous pings are challenged even when anonymous pull is allowed: clients
		// decide from this answer whether to send their credentials at all, and one that
		// has some must send them to push.
		if id.user == anonymous {
			r.challenge(w, req, "", "")
			return false
		}
		return true
	case routeCatalog:
		if !id.catalog {
			r.challenge(w, req, "registry:catalog:*", "insufficient_scope")
			return false
		}
		return true
	}
	need, actions := Push, "pull,push"
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		need, actions = Pull, "pull"
	}
	if req.Method == http.MethodDelete {
		actions = "delete"
	}
	if id.access(rt.name) >= need {
		return true
	}
	if id.user == anonymous || id.bearer != nil {
		r.challenge(w, req, "repository:"+rt.name+":"+actions, "insufficient_scope")
	} else {
		writeError(w, errDenied())
	}
	return false
}

// canPull says whether the request may read the repository (cross-repository mounts
// and the catalog ask this of other repositories than the route's).
func (r *Registry) canPull(req *http.Request, name string) bool {
	if r.opts.Auth == nil {
		return true
	}
	id, ok := r.identify(req)
	return ok && id.access(name) >= Pull
}

func (r *Registry) dispatch(w http.ResponseWriter, req *http.Request, rt route) error {
	m := req.Method
	switch rt.kind {
	case routeBase:
		if m == http.MethodGet || m == http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "2")
			w.WriteHeader(http.StatusOK)
			if m == http.MethodGet {
				_, _ = w.Write([]byte("{}"))
			}
			return nil
		}
	case routeCatalog:
		if m == http.MethodGet {
			return r.catalog(w, req)
		}
	case routeTags:
		if m == http.MethodGet {
			return r.tagsList(w, req, rt.name)
		}
	case routeManifest:
		switch m {
		case http.MethodGet, http.MethodHead:
			return r.getManifest(w, req, rt.name, rt.ref)
		case http.MethodPut:
			return r.putManifest(w, req, rt.name, rt.ref)
		case http.MethodDelete:
			return r.deleteManifest(w, rt.name, rt.ref)
		}
	case routeBlob:
		switch m {
		case http.MethodGet, http.MethodHead:
			return r.getBlob(w, req, rt.name, rt.ref)
		case http.MethodDelete:
			return r.deleteBlob(w, rt.name, rt.ref)
		}
	case routeUploadStart:
		if m == http.MethodPost {
			return r.startUpload(w, req, rt.name)
		}
	case routeUpload:
		switch m {
		case http.MethodGet:
			return r.uploadStatus(w, rt.name, rt.ref)
		case http.MethodPatch:
			return r.patchUpload(w, req, rt.name, rt.ref)
		case http.MethodPut:
			return r.finishUpload(w, req, rt.name, rt.ref)
		case http.MethodDelete:
			return r.cancelUpload(w, rt.name, rt.ref)
		}
	case routeReferrers:
		if m == http.MethodGet {
			return r.listReferrers(w, req, rt.name, rt.ref)
		}
	}
	return errUnsupported(fmt.Sprintf("method %s is not allowed here", m))
}

// pageParams reads the n and last query parameters of tags list and catalog.
func pageParams(req *http.Request) (n int, last string, err error) {
	q := req.URL.Query()
	n = -1
	if s := q.Get("n"); s != "" {
		n, err = strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, "", &apiError{http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", fmt.Sprintf("n=%q: want a number >= 0", s), nil}
		}
	}
	return n, q.Get("last"), nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parseDigestParam reads a digest from a query parameter.
func parseDigestParam(s string) (digest.Digest, error) {
	if s == "" {
		return "", errDigestInvalid("the digest query parameter is missing")
	}
	d, ok := parseDigest(s)
	if !ok {
		return "", errDigestInvalid(fmt.Sprintf("digest %q is not a sha256 or sha512 digest", s))
	}
	return d, nil
}

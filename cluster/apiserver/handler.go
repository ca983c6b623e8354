package apiserver

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/store"
)

// maxBody caps request bodies, as Kubernetes does (3 MiB).
const maxBody = 3 << 20

// request is a resource request, parsed from its path and method.
type request struct {
	kind        *kinds.Kind
	gr          schema.GroupResource
	namespace   string
	name        string
	subresource string
	verb        string
	// allNamespaces is a list/watch of a namespaced kind across namespaces.
	allNamespaces bool
	user          User
	body          []byte
}

// trackingWriter remembers whether a response has started, so a request
// that met a follower's store can still be forwarded to the leader.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (t *trackingWriter) WriteHeader(code int) { t.started = true; t.ResponseWriter.WriteHeader(code) }
func (t *trackingWriter) Write(b []byte) (int, error) {
	t.started = true
	return t.ResponseWriter.Write(b)
}
func (t *trackingWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (s *server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch path {
	case "/healthz", "/livez", "/readyz":
		w := rw
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
		return
	case "/version":
		s.serveVersion(rw, r)
		return
	}
	u, ok := s.cfg.Authenticate(r)
	if !ok {
		writeError(rw, r, apierrors.NewUnauthorized("Unauthorized"))
		return
	}
	// A request another server forwarded is not forwarded again: leadership
	// moved meanwhile, and the caller retries.
	forwarded := r.Header.Get(HeaderUser) != "" && u.InGroup(GroupServers)
	u = trustForwarded(r, u)

	var body []byte
	if r.Body != nil && r.Method != http.MethodGet {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			writeError(rw, r, badRequest("read request body: %v", err))
			return
		}
		if len(b) > maxBody {
			writeError(rw, r, apierrors.NewRequestEntityTooLargeError("limit is 3145728"))
			return
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}

	w := &trackingWriter{ResponseWriter: rw}
	err := s.route(w, r, path, u, body)
	if err == nil {
		return
	}
	if errors.Is(err, store.ErrNotLeader) && !w.started && s.cfg.Forward != nil && !forwarded {
		if s.forward(rw, r, u, body) {
			return
		}
	}
	if w.started {
		return // the response is under way; nothing more can be said
	}
	writeError(w, r, err)
}

// route dispatches non-resource paths and parses resource paths.
func (s *server) route(w http.ResponseWriter, r *http.Request, path string, u User, body []byte) error {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var group, version string
	var rest []string
	switch {
	case path == "/api":
		return s.nonResource(w, r, u, s.serveCoreVersions)
	case path == "/apis":
		return s.nonResource(w, r, u, s.serveGroups)
	case strings.HasPrefix(path, "/openapi/"):
		return s.nonResource(w, r, u, s.serveOpenAPI)
	case parts[0] == "api" && len(parts) >= 2:
		version, rest = parts[1], parts[2:]
	case parts[0] == "apis" && len(parts) == 2:
		return s.nonResource(w, r, u, func(w http.ResponseWriter, r *http.Request) error {
			return s.serveGroup(w, r, parts[1])
		})
	case parts[0] == "apis" && len(parts) >= 3:
		group, version, rest = parts[1], parts[2], parts[3:]
	default:
		return apierrors.NewNotFound(schema.GroupResource{}, "")
	}
	if len(rest) == 0 {
		return s.nonResource(w, r, u, func(w http.ResponseWriter, r *http.Request) error {
			return s.serveResources(w, r, group, version)
		})
	}
	req, err := s.parse(r, group, version, rest)
	if err != nil {
		return err
	}
	req.user, req.body = u, body
	return s.serveResource(w, r, req)
}

// parse resolves the resource path below /api/v1 or /apis/g/v.
func (s *server) parse(r *http.Request, group, version string, parts []string) (*request, error) {
	req := &request{}
	watchPrefix := false
	if parts[0] == "watch" {
		watchPrefix, parts = true, parts[1:]
	}
	if len(parts) >= 3 && parts[0] == "namespaces" && parts[2] != "status" && parts[2] != "finalize" {
		req.namespace, parts = parts[1], parts[2:]
	}
	if len(parts) == 0 || len(parts) > 3 {
		return nil, apierrors.NewNotFound(schema.GroupResource{}, "")
	}
	k := s.kindFor(group, version, parts[0])
	if k == nil {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: parts[0]}, "")
	}
	req.kind = k
	req.gr = schema.GroupResource{Group: group, Resource: k.Resource}
	if len(parts) > 1 {
		req.name = parts[1]
	}
	if len(parts) > 2 {
		req.subresource = parts[2]
	}
	if k.Namespaced && req.namespace == "" {
		if req.name != "" {
			return nil, apierrors.NewNotFound(req.gr, req.name)
		}
		req.allNamespaces = true
	}
	if !k.Namespaced && req.namespace != "" {
		return nil, apierrors.NewNotFound(req.gr, req.name)
	}
	q := r.URL.Query()
	isWatch := watchPrefix || q.Get("watch") == "true" || q.Get("watch") == "1"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case isWatch:
			req.verb = "watch"
		case req.name == "":
			req.verb = "list"
		default:
			req.verb = "get"
		}
	case http.MethodPost:
		req.verb = "create"
	case http.MethodPut:
		req.verb = "update"
	case http.MethodPatch:
		req.verb = "patch"
	case http.MethodDelete:
		req.verb = "delete"
		if req.name == "" {
			req.verb = "deletecollection"
		}
	default:
		return nil, methodNotAllowed(req.gr, r.Method)
	}
	if req.allNamespaces && req.verb != "list" && req.verb != "watch" && req.verb != "create" && req.verb != "deletecollection" {
		return nil, methodNotAllowed(req.gr, req.verb)
	}
	if req.allNamespaces && (req.verb == "create" || req.verb == "deletecollection") {
		return nil, apierrors.NewNotFound(req.gr, "")
	}
	return req, nil
}

// nonResource authorizes and serves discovery-like paths; any
// authenticated caller may read them, as system:discovery allows.
func (s *server) nonResource(w http.ResponseWriter, r *http.Request, u User, serve func(http.ResponseWriter, *http.Request) error) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(schema.GroupResource{}, r.Method)
	}
	return serve(w, r)
}

// serveResource authorizes a resource request and runs its verb.
func (s *server) serveResource(w http.ResponseWriter, r *http.Request, req *request) error {
	if err := s.authorize(r, req); err != nil {
		return err
	}
	switch req.subresource {
	case "":
	case "status":
		if !req.kind.HasStatus {
			return apierrors.NewNotFound(req.gr, req.name)
		}
	case "finalize":
		if !isNamespaces(req.kind) {
			return apierrors.NewNotFound(req.gr, req.name)
		}
		if req.verb != "update" {
			return methodNotAllowed(schema.GroupResource{Resource: "namespaces/finalize"}, req.verb)
		}
	default:
		return s.serveSubresource(w, r, req)
	}
	switch req.verb {
	case "get":
		return s.get(w, r, req)
	case "list":
		return s.list(w, r, req)
	case "watch":
		return s.watch(w, r, req)
	case "create":
		if req.subresource != "" || req.name != "" {
			return methodNotAllowed(req.gr, "create")
		}
		return s.create(w, r, req)
	case "update":
		if req.name == "" {
			return methodNotAllowed(req.gr, "update")
		}
		return s.update(w, r, req)
	case "patch":
		if req.name == "" {
			return methodNotAllowed(req.gr, "patch")
		}
		return s.patch(w, r, req)
	case "delete":
		if req.subresource != "" {
			return methodNotAllowed(req.gr, "delete")
		}
		return s.delete(w, r, req)
	case "deletecollection":
		if req.subresource != "" {
			return methodNotAllowed(req.gr, "deletecollection")
		}
		return s.deleteCollection(w, r, req)
	}
	return methodNotAllowed(req.gr, req.verb)
}

// Package apiserver serves the Kubernetes API over the cluster store: stock
// kubectl and client-go drive it. It is drover's own server, not
// k8s.io/apiserver: routing, discovery, the verbs, watches, tables and
// errors are written here over apimachinery's types, and every resource is
// described by a kinds.Kind so the machinery stays generic.
//
// Objects live in the store under "/<group or core>/<resource>/<ns>/<name>"
// as JSON without a resourceVersion; the store's revision of a key is its
// resourceVersion, and a list's revision is the list's. Writes are
// compare-and-swap on the revision read, retried when the client named
// none. Consistent reads and writes run on the leader: a follower's store
// answers ErrNotLeader and the request goes to the leader (Config.Forward)
// with the caller named in X-Drover-User/X-Drover-Group, headers trusted
// from drover:servers only. Watches, and reads at resourceVersion=0, are
// served from the local replica when the store offers one.
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/store"
)

// User is an authenticated caller.
type User struct {
	Name   string
	Groups []string
}

// InGroup says whether the user belongs to group g.
func (u User) InGroup(g string) bool {
	for _, x := range u.Groups {
		if x == g {
			return true
		}
	}
	return false
}

// Attributes describe a request for authorization.
type Attributes struct {
	// Verb is the Kubernetes verb: get, list, watch, create, update, patch,
	// delete, deletecollection; "" for non-resource requests.
	Verb        string
	APIGroup    string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	// Path is the URL path, for non-resource requests.
	Path string
	// Object is the stored object a named write acts on (nil when it does
	// not exist yet); a node's rights depend on it (a pod bound to it).
	Object any
	// NewNodeName is spec.nodeName of a pod the request writes, when known.
	NewNodeName string
}

// Config wires the server to the store and the rest of the cluster.
type Config struct {
	Store store.Store
	Kinds []*kinds.Kind

	// Authenticate names the caller; nil uses AuthenticateCert.
	Authenticate func(r *http.Request) (User, bool)
	// Authorize decides a request; nil uses AuthorizeDefault.
	Authorize func(u User, a Attributes) (allowed bool, reason string)

	// Forward names the leader to send a request to when the local store is
	// not the leader; ok is false when there is none to send it to.
	Forward func(r *http.Request) (leaderURL string, transport http.RoundTripper, ok bool)
	// NodeProxy names the node agent serving a node's pods' logs, exec,
	// attach and port-forward, on kubelet's paths.
	NodeProxy func(ctx context.Context, nodeName string) (baseURL string, transport http.RoundTripper, err error)

	// OpenAPIV3 returns group-version path ("api/v1", "apis/apps/v1") ->
	// OpenAPI v3 document; nil serves a minimal one made from Kinds.
	OpenAPIV3 func(ks []*kinds.Kind) map[string][]byte
	// OpenAPIV2 returns the swagger 2.0 document; nil serves none (404).
	OpenAPIV2 func(ks []*kinds.Kind) []byte

	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// BookmarkInterval is how often a watch that allows bookmarks gets one
	// (1 minute when zero).
	BookmarkInterval time.Duration
	// Version is what /version reports; zero uses the apimachinery version.
	Version string
}

// server is the handler New returns.
type server struct {
	cfg       Config
	now       func() time.Time
	bookmark  time.Duration
	byGVR     map[schema.GroupVersionResource]*kinds.Kind
	byGVK     map[schema.GroupVersionKind]*kinds.Kind
	groups    []groupVersions // non-core groups in first-seen order
	openapiV3 map[string][]byte
	openapiV2 []byte
	// openapiV2Proto is openapiV2 in the protobuf form client-go reads.
	openapiV2Proto []byte
	events         *eventCache
}

type groupVersions struct {
	group    string
	versions []string
}

// New builds the API handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("apiserver: no store configured")
	}
	s := &server{
		cfg:      cfg,
		now:      cfg.Now,
		bookmark: cfg.BookmarkInterval,
		byGVR:    map[schema.GroupVersionResource]*kinds.Kind{},
		byGVK:    map[schema.GroupVersionKind]*kinds.Kind{},
		events:   newEventCache(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.bookmark <= 0 {
		s.bookmark = time.Minute
	}
	if s.cfg.Authenticate == nil {
		s.cfg.Authenticate = AuthenticateCert
	}
	if s.cfg.Authorize == nil {
		s.cfg.Authorize = AuthorizeDefault
	}
	for _, k := range cfg.Kinds {
		if k.Resource == "" || k.New == nil || k.NewList == nil {
			return nil, fmt.Errorf("apiserver: kind %s lacks a resource name or constructors", k.GVK)
		}
		gvr := k.GVK.GroupVersion().WithResource(k.Resource)
		if _, dup := s.byGVR[gvr]; dup {
			return nil, fmt.Errorf("apiserver: resource %s served twice", gvr)
		}
		s.byGVR[gvr] = k
		s.byGVK[k.GVK] = k
		if k.GVK.Group != "" {
			s.addGroupVersion(k.GVK.Group, k.GVK.Version)
		}
	}
	if cfg.OpenAPIV3 != nil {
		s.openapiV3 = cfg.OpenAPIV3(cfg.Kinds)
	} else {
		s.openapiV3 = minimalOpenAPIV3(cfg.Kinds)
	}
	if cfg.OpenAPIV2 != nil {
		s.openapiV2 = cfg.OpenAPIV2(cfg.Kinds)
		if len(s.openapiV2) > 0 {
			pb, err := v2Proto(s.openapiV2)
			if err != nil {
				return nil, fmt.Errorf("apiserver: %w", err)
			}
			s.openapiV2Proto = pb
		}
	}
	return s, nil
}

func (s *server) addGroupVersion(group, version string) {
	for i := range s.groups {
		if s.groups[i].group == group {
			for _, v := range s.groups[i].versions {
				if v == version {
					return
				}
			}
			s.groups[i].versions = append(s.groups[i].versions, version)
			return
		}
	}
	s.groups = append(s.groups, groupVersions{group: group, versions: []string{version}})
}

// kindFor finds the kind serving resource in group/version.
func (s *server) kindFor(group, version, resource string) *kinds.Kind {
	return s.byGVR[schema.GroupVersionResource{Group: group, Version: version, Resource: resource}]
}

// kindByResource finds a served kind by group and resource in any version.
func (s *server) kindByResource(group, resource string) *kinds.Kind {
	for gvr, k := range s.byGVR {
		if gvr.Group == group && gvr.Resource == resource {
			return k
		}
	}
	return nil
}

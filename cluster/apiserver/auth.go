package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/yaml"

	"github.com/drover/drover/cluster/kube"
)

// Groups with fixed meaning.
const (
	GroupMasters       = "system:masters"
	GroupNodes         = "system:nodes"
	GroupAuthenticated = "system:authenticated"
	// GroupServers are drover's API servers; only they may name the caller
	// of a request they forward.
	GroupServers   = "drover:servers"
	nodeUserPrefix = "system:node:"
)

// Headers a forwarding server names the original caller in.
const (
	HeaderUser  = "X-Drover-User"
	HeaderGroup = "X-Drover-Group"
)

// AuthenticateCert names the caller by its verified TLS client
// certificate: the subject's CN is the user, its O entries the groups.
func AuthenticateCert(r *http.Request) (User, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return User{}, false
	}
	cert := r.TLS.VerifiedChains[0][0]
	if cert.Subject.CommonName == "" {
		return User{}, false
	}
	groups := append([]string{}, cert.Subject.Organization...)
	groups = append(groups, GroupAuthenticated)
	return User{Name: cert.Subject.CommonName, Groups: groups}, true
}

// trustForwarded takes the caller named by a forwarding server, and strips
// the headers from anyone else's request so no client can claim a name.
func trustForwarded(r *http.Request, u User) User {
	name := r.Header.Get(HeaderUser)
	groups := r.Header.Values(HeaderGroup)
	r.Header.Del(HeaderUser)
	r.Header.Del(HeaderGroup)
	if name == "" || !u.InGroup(GroupServers) {
		return u
	}
	return User{Name: name, Groups: groups}
}

// authorize asks the configured authorizer about a resource request.
func (s *server) authorize(r *http.Request, req *request) error {
	a := Attributes{
		Verb: req.verb, APIGroup: req.kind.GVK.Group, Resource: req.kind.Resource,
		Subresource: req.subresource, Namespace: req.namespace, Name: req.name, Path: r.URL.Path,
	}
	if req.verb == "create" && req.name == "" {
		a.Name = bodyName(req.body)
	}
	// A node's rights over a pod depend on where the stored pod is bound.
	if req.name != "" && (req.verb == "update" || req.verb == "patch" || req.verb == "delete" || req.verb == "create") && req.user.InGroup(GroupNodes) {
		if obj, _, err := s.load(r, req); err == nil {
			a.Object = obj
		}
	}
	ok, reason := s.cfg.Authorize(req.user, a)
	if ok {
		return nil
	}
	return forbidden(req, a, reason)
}

func forbidden(req *request, a Attributes, reason string) error {
	gr := req.gr
	if a.Subresource != "" {
		gr.Resource += "/" + a.Subresource
	}
	msg := fmt.Sprintf("User %q cannot %s resource %q in API group %q", req.user.Name, a.Verb, gr.Resource, a.APIGroup)
	if a.Namespace != "" {
		msg += fmt.Sprintf(" in the namespace %q", a.Namespace)
	} else {
		msg += " at the cluster scope"
	}
	if reason != "" {
		msg += ": " + reason
	}
	return forbiddenErr(gr, a.Name, errors.New(msg))
}

// bodyName is metadata.name of a JSON or YAML body ("" when unreadable).
func bodyName(body []byte) string {
	if obj, _, err := kube.Codecs().UniversalDeserializer().Decode(body, nil, nil); err == nil {
		if m, err := meta.Accessor(obj); err == nil {
			return m.GetName()
		}
	}
	var m struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if json.Unmarshal(body, &m) != nil {
		_ = yaml.Unmarshal(body, &m)
	}
	return m.Metadata.Name
}

// AuthorizeDefault is the cluster's fixed policy: system:masters may do
// anything; a node (system:node:NAME in system:nodes) may read what its
// agent needs and write only its own Node, Lease and bound pods' status.
func AuthorizeDefault(u User, a Attributes) (bool, string) {
	if u.InGroup(GroupMasters) {
		return true, ""
	}
	if u.InGroup(GroupNodes) && strings.HasPrefix(u.Name, nodeUserPrefix) {
		return authorizeNode(strings.TrimPrefix(u.Name, nodeUserPrefix), a)
	}
	return false, ""
}

func authorizeNode(node string, a Attributes) (bool, string) {
	core := a.APIGroup == ""
	switch a.Verb {
	case "get", "list", "watch":
		switch {
		case core && (a.Resource == "pods" || a.Resource == "nodes" || a.Resource == "namespaces" || a.Resource == "events"),
			a.APIGroup == "coordination.k8s.io" && a.Resource == "leases",
			a.APIGroup == "events.k8s.io" && a.Resource == "events":
			if a.Subresource == "" || a.Subresource == "status" {
				return true, ""
			}
		}
	}
	switch {
	case (core || a.APIGroup == "events.k8s.io") && a.Resource == "events":
		if a.Verb == "create" || a.Verb == "patch" {
			return true, ""
		}
	case core && a.Resource == "nodes":
		// delete: a node leaving the cluster removes itself.
		if a.Verb == "create" || a.Verb == "update" || a.Verb == "patch" || a.Verb == "delete" && a.Subresource == "" {
			if a.Subresource != "" && a.Subresource != "status" {
				break
			}
			if a.Name == node {
				return true, ""
			}
			return false, fmt.Sprintf("node %q cannot modify node %q", node, a.Name)
		}
	case core && a.Resource == "pods":
		pod, _ := a.Object.(*corev1.Pod)
		bound := pod != nil && pod.Spec.NodeName == node
		if (a.Verb == "update" || a.Verb == "patch") && a.Subresource == "status" || a.Verb == "delete" && a.Subresource == "" {
			if bound {
				return true, ""
			}
			return false, fmt.Sprintf("node %q can only modify pods bound to it", node)
		}
	case a.APIGroup == "coordination.k8s.io" && a.Resource == "leases":
		if a.Verb == "create" || a.Verb == "update" || a.Verb == "patch" {
			if a.Namespace == corev1.NamespaceNodeLease && a.Name == node {
				return true, ""
			}
			return false, fmt.Sprintf("node %q can only write its own lease in %s", node, corev1.NamespaceNodeLease)
		}
	}
	return false, ""
}

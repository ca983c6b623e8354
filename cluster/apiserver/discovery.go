package apiserver

import (
	"encoding/json"
	"mime"
	"net/http"
	"runtime"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// aggregatedMedia is the Content-Type of aggregated discovery documents.
const aggregatedMedia = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// resourceVerbs are what every served resource supports.
var resourceVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// subresource is one served subresource of a kind.
type subresource struct {
	name  string
	kind  schema.GroupVersionKind
	verbs metav1.Verbs
}

// subresourcesOf lists a kind's subresources for discovery.
func subresourcesOf(k *kinds.Kind) []subresource {
	var out []subresource
	if k.HasStatus {
		out = append(out, subresource{"status", k.GVK, metav1.Verbs{"get", "patch", "update"}})
	}
	if k.Scale != nil {
		out = append(out, subresource{"scale", scaleGVK, metav1.Verbs{"get", "patch", "update"}})
	}
	if isNamespaces(k) {
		out = append(out, subresource{"finalize", k.GVK, metav1.Verbs{"update"}})
	}
	if k.GVK.Group == "" && k.Resource == "pods" {
		out = append(out,
			subresource{"attach", schema.GroupVersionKind{Version: "v1", Kind: "PodAttachOptions"}, metav1.Verbs{"create", "get"}},
			subresource{"binding", bindingGVK, metav1.Verbs{"create"}},
			subresource{"eviction", evictionGVK, metav1.Verbs{"create"}},
			subresource{"exec", schema.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}, metav1.Verbs{"create", "get"}},
			subresource{"log", k.GVK, metav1.Verbs{"get"}},
			subresource{"portforward", schema.GroupVersionKind{Version: "v1", Kind: "PodPortForwardOptions"}, metav1.Verbs{"create", "get"}},
		)
	}
	return out
}

// wantsAggregated says whether the client asks for aggregated discovery
// first, as kubectl does (falling back to the legacy documents).
func wantsAggregated(r *http.Request) bool {
	first := strings.TrimSpace(strings.Split(r.Header.Get("Accept"), ",")[0])
	mt, params, err := mime.ParseMediaType(first)
	return err == nil && mt == mediaJSON && params["as"] == "APIGroupDiscoveryList" &&
		params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2"
}

func (s *server) serveCoreVersions(w http.ResponseWriter, r *http.Request) error {
	if wantsAggregated(r) {
		return s.serveAggregated(w, r, true)
	}
	writeObject(w, r, http.StatusOK, &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
		},
	})
	return nil
}

func (s *server) apiGroup(g groupVersions) metav1.APIGroup {
	ag := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: g.group}
	for _, v := range g.versions {
		ag.Versions = append(ag.Versions, metav1.GroupVersionForDiscovery{GroupVersion: g.group + "/" + v, Version: v})
	}
	ag.PreferredVersion = ag.Versions[0]
	return ag
}

func (s *server) serveGroups(w http.ResponseWriter, r *http.Request) error {
	if wantsAggregated(r) {
		return s.serveAggregated(w, r, false)
	}
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
	for _, g := range s.groups {
		ag := s.apiGroup(g)
		ag.TypeMeta = metav1.TypeMeta{}
		list.Groups = append(list.Groups, ag)
	}
	writeObject(w, r, http.StatusOK, list)
	return nil
}

func (s *server) serveGroup(w http.ResponseWriter, r *http.Request, group string) error {
	for _, g := range s.groups {
		if g.group == group {
			ag := s.apiGroup(g)
			writeObject(w, r, http.StatusOK, &ag)
			return nil
		}
	}
	return apierrors.NewNotFound(schema.GroupResource{}, "")
}

// kindsOf lists the kinds served in a group version, by resource name.
func (s *server) kindsOf(group, version string) []*kinds.Kind {
	var out []*kinds.Kind
	for gvr, k := range s.byGVR {
		if gvr.Group == group && gvr.Version == version {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

func (s *server) serveResources(w http.ResponseWriter, r *http.Request, group, version string) error {
	ks := s.kindsOf(group, version)
	if len(ks) == 0 {
		return apierrors.NewNotFound(schema.GroupResource{}, "")
	}
	gv := schema.GroupVersion{Group: group, Version: version}
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: gv.String(),
	}
	for _, k := range ks {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: k.Resource, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.GVK.Kind,
			Verbs: resourceVerbs, ShortNames: k.ShortNames, Categories: k.Categories,
		})
		for _, sub := range subresourcesOf(k) {
			ar := metav1.APIResource{Name: k.Resource + "/" + sub.name, Namespaced: k.Namespaced, Kind: sub.kind.Kind, Verbs: sub.verbs}
			if sub.kind.GroupVersion() != gv {
				ar.Group, ar.Version = sub.kind.Group, sub.kind.Version
			}
			list.APIResources = append(list.APIResources, ar)
		}
	}
	writeObject(w, r, http.StatusOK, list)
	return nil
}

// serveAggregated writes every group's resources in one document: the
// core group for /api, the named groups for /apis.
func (s *server) serveAggregated(w http.ResponseWriter, r *http.Request, core bool) error {
	list := &apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"},
		Items:    []apidiscoveryv2.APIGroupDiscovery{},
	}
	groups := s.groups
	if core {
		groups = []groupVersions{{group: "", versions: []string{"v1"}}}
	}
	for _, g := range groups {
		item := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.group}}
		for _, v := range g.versions {
			vd := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
			for _, k := range s.kindsOf(g.group, v) {
				scope := apidiscoveryv2.ScopeCluster
				if k.Namespaced {
					scope = apidiscoveryv2.ScopeNamespace
				}
				rd := apidiscoveryv2.APIResourceDiscovery{
					Resource: k.Resource, SingularResource: k.Singular, Scope: scope,
					ResponseKind: &metav1.GroupVersionKind{Group: k.GVK.Group, Version: k.GVK.Version, Kind: k.GVK.Kind},
					Verbs:        resourceVerbs, ShortNames: k.ShortNames, Categories: k.Categories,
				}
				for _, sub := range subresourcesOf(k) {
					rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
						Subresource:  sub.name,
						ResponseKind: &metav1.GroupVersionKind{Group: sub.kind.Group, Version: sub.kind.Version, Kind: sub.kind.Kind},
						Verbs:        sub.verbs,
					})
				}
				vd.Resources = append(vd.Resources, rd)
			}
			item.Versions = append(item.Versions, vd)
		}
		list.Items = append(list.Items, item)
	}
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", aggregatedMedia)
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(b)
	return nil
}

// serveVersion reports the Kubernetes version whose API is served: that of
// the apimachinery types in use.
func (s *server) serveVersion(w http.ResponseWriter, r *http.Request) {
	v := s.cfg.Version
	if v == "" {
		v = "v1.37.2"
	}
	major, minor := "1", "37"
	if parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	writeObject(w, r, http.StatusOK, &version.Info{
		Major: major, Minor: minor, GitVersion: v + "+drover", GoVersion: runtime.Version(),
		Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH,
	})
}

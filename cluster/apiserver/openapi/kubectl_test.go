package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

const kubectlPath = "/usr/bin/kubectl"

// discoveryServer serves the legacy discovery documents and our OpenAPI
// v3 documents: all kubectl explain reads.
func discoveryServer(t *testing.T, ks []*kinds.Kind) *httptest.Server {
	t.Helper()
	resources := map[string]*metav1.APIResourceList{}
	groups := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, k := range ks {
		gv := k.GVK.GroupVersion()
		key := "/" + groupVersionPath(gv)
		list, ok := resources[key]
		if !ok {
			list = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
			resources[key] = list
			if gv.Group != "" {
				v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
				groups.Groups = append(groups.Groups, metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
			}
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: k.Resource, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.GVK.Kind,
			ShortNames: k.ShortNames, Categories: k.Categories,
			Verbs: metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		})
	}
	docs := V3(ks)
	index := V3Index(docs)
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, v interface{}) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	})
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, groups) })
	mux.HandleFunc("/openapi/v3", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(index)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if key, ok := strings.CutPrefix(r.URL.Path, "/openapi/v3/"); ok && docs[key] != nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(docs[key])
			return
		}
		if list, ok := resources[r.URL.Path]; ok {
			writeJSON(w, list)
			return
		}
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// kubectl explain, the real binary, reads our schemas: field types,
// descriptions and nested fields of served kinds.
func TestKubectlExplain(t *testing.T) {
	if _, err := os.Stat(kubectlPath); err != nil {
		t.Skipf("kubectl not installed at %s", kubectlPath)
	}
	srv := discoveryServer(t, kinds.All())
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	config := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + srv.URL +
		"\ncontexts:\n- name: c\n  context:\n    cluster: c\ncurrent-context: c\n"
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"pod.spec.containers"}, []string{"KIND:       Pod", "FIELD: containers <[]Container>", "image\t<string>", "livenessProbe\t<Probe>", "name\t<string> -required-"}},
		{[]string{"deploy.spec.strategy.rollingUpdate"}, []string{"GROUP:      apps", "maxSurge\t<IntOrString>"}},
		{[]string{"jobs.spec"}, []string{"GROUP:      batch", "backoffLimit\t<integer>", "template\t<PodTemplateSpec> -required-"}},
		{[]string{"pc"}, []string{"PriorityClass", "preemptionPolicy\t<string>"}},
		{[]string{"lease.spec.renewTime"}, []string{"renewTime <string>"}},
		{[]string{"node.status.capacity"}, []string{"capacity <map[string]Quantity>"}},
	}
	for _, tt := range tests {
		cmd := exec.Command(kubectlPath, append([]string{"--kubeconfig", kubeconfig, "explain"}, tt.args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECACHEDIR="+filepath.Join(dir, "cache"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("kubectl explain %v: %v\n%s", tt.args, err, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(normalizeSpaces(string(out)), w) {
				t.Errorf("kubectl explain %v: output lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
}

// normalizeSpaces turns kubectl's column padding between a field and its
// type into one tab, so expectations need not count spaces.
func normalizeSpaces(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "\t"); i >= 0 {
			line = line[:i] + "\t" + strings.TrimSpace(line[i:])
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const podWeb = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: c
    image: busybox
`

const deployV1 = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {tier: backend}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: nginx:1
`

func TestKubectlGet(t *testing.T) {
	ts := startServer(t)
	ts.mustKubectl(podWeb, "create", "-f", "-")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"get", "pods", "-A"}, []string{"NAMESPACE", "NAME", "STATUS", "default", "web", "Pending"}},
		{[]string{"get", "pods", "-o", "wide"}, []string{"NODE", "<none>", "web"}},
		{[]string{"get", "po", "web", "-o", "yaml"}, []string{"kind: Pod", "name: web", "resourceVersion:", "uid:", "creationTimestamp:"}},
		{[]string{"get", "pod", "web", "-o", "json"}, []string{`"kind": "Pod"`, `"image": "busybox"`}},
		{[]string{"get", "pods", "-o", "name"}, []string{"pod/web"}},
		{[]string{"get", "namespaces"}, []string{"default", "kube-node-lease", "Active"}},
		{[]string{"get", "all"}, []string{"pod/web"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			out := ts.mustKubectl("", tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("kubectl %v: missing %q in\n%s", tc.args, w, out)
				}
			}
		})
	}
	// The table without -o wide hides the priority-1 column.
	if out := ts.mustKubectl("", "get", "pods"); strings.Contains(out, "NODE") {
		t.Errorf("plain get shows the wide column:\n%s", out)
	}
}

func TestKubectlErrors(t *testing.T) {
	ts := startServer(t)
	badDeploy := strings.Replace(deployV1, "  selector: {matchLabels: {app: api}}\n", "", 1)
	unknown := strings.Replace(podWeb, "spec:\n", "spec:\n  foo: bar\n", 1)
	wrongNS := strings.Replace(podWeb, "  name: web\n", "  name: web\n  namespace: other\n", 1)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"not found", "", []string{"get", "pod", "nope"}, `Error from server (NotFound): pods "nope" not found`},
		{"invalid", badDeploy, []string{"create", "-f", "-"}, `The Deployment "api" is invalid: spec.selector: Required value`},
		{"unknown field", unknown, []string{"create", "-f", "-"}, `strict decoding error: unknown field "spec.foo"`},
		{"namespace missing", wrongNS, []string{"create", "-f", "-"}, `namespaces "other" not found`},
		{"bad field selector", "", []string{"get", "pods", "--field-selector", "spec.foo=x"}, `field label not supported: spec.foo`},
		{"server-side apply", podWeb, []string{"apply", "--server-side", "-f", "-"}, "use kubectl apply without --server-side"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ts.kubectl(tc.stdin, tc.args...)
			if err == nil {
				t.Fatalf("kubectl %v succeeded:\n%s", tc.args, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("kubectl %v: want %q in\n%s", tc.args, tc.want, out)
			}
		})
	}
	out := ts.mustKubectl(podWeb, "create", "-f", "-")
	if out, err := ts.kubectl(podWeb, "create", "-f", "-"); err == nil || !strings.Contains(out, `pods "web" already exists`) {
		t.Errorf("second create: %v\n%s", err, out)
	}
	_ = out
}

func TestKubectlApplyTwice(t *testing.T) {
	ts := startServer(t)
	if out := ts.mustKubectl(deployV1, "apply", "-f", "-"); !strings.Contains(out, "deployment.apps/api created") {
		t.Fatalf("first apply: %s", out)
	}
	deployV2 := strings.Replace(deployV1, "image: nginx:1", "image: nginx:2", 1)
	if out := ts.mustKubectl(deployV2, "apply", "-f", "-"); !strings.Contains(out, "deployment.apps/api configured") {
		t.Fatalf("second apply: %s", out)
	}
	if out := ts.mustKubectl(deployV2, "apply", "-f", "-"); !strings.Contains(out, "deployment.apps/api unchanged") {
		t.Fatalf("third apply: %s", out)
	}
	d, err := ts.client().AppsV1().Deployments("default").Get(context.Background(), "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:2" {
		t.Errorf("image after apply = %s, want nginx:2", img)
	}
	if d.Generation != 2 {
		t.Errorf("generation = %d, want 2 (one spec change)", d.Generation)
	}
}

func TestKubectlPatch(t *testing.T) {
	ts := startServer(t)
	ts.mustKubectl(deployV1, "create", "-f", "-")
	tests := []struct {
		typ, patch string
		check      string // jsonpath
		want       string
	}{
		{"merge", `{"metadata":{"labels":{"m":"1"}}}`, "{.metadata.labels.m}", "1"},
		{"json", `[{"op":"replace","path":"/spec/replicas","value":4}]`, "{.spec.replicas}", "4"},
		{"strategic", `{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}`, "{.spec.template.spec.containers[*].name}", "side api"},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			ts.mustKubectl("", "patch", "deployment", "api", "--type="+tc.typ, "-p", tc.patch)
			out := ts.mustKubectl("", "get", "deploy", "api", "-o", "jsonpath="+tc.check)
			if out != tc.want {
				t.Errorf("after %s patch %s = %q, want %q", tc.typ, tc.check, out, tc.want)
			}
		})
	}
	out, err := ts.kubectl("", "patch", "deployment", "api", "--type=json", "-p", `[{"op":"test","path":"/spec/replicas","value":99}]`)
	if err == nil || !strings.Contains(out, "Invalid") && !strings.Contains(out, "invalid") {
		t.Errorf("failing json patch test op: %v %s", err, out)
	}
}

func TestKubectlDelete(t *testing.T) {
	ts := startServer(t)
	ts.mustKubectl(podWeb, "create", "-f", "-")
	if out := ts.mustKubectl("", "delete", "pod", "web", "--wait"); !strings.Contains(out, `pod "web" deleted`) {
		t.Fatalf("delete: %s", out)
	}
	if out, err := ts.kubectl("", "get", "pod", "web"); err == nil || !strings.Contains(out, "NotFound") {
		t.Fatalf("pod still there: %s", out)
	}

	// A finalizer holds the object: it is marked and stays until removed.
	held := strings.Replace(podWeb, "  labels: {app: web}\n", "  labels: {app: web}\n  finalizers: [example.com/hold]\n", 1)
	ts.mustKubectl(held, "create", "-f", "-")
	ts.mustKubectl("", "delete", "pod", "web", "--wait=false")
	out := ts.mustKubectl("", "get", "pod", "web", "-o", "jsonpath={.metadata.deletionTimestamp}")
	if out == "" {
		t.Fatal("deleted pod with a finalizer has no deletionTimestamp")
	}
	ts.mustKubectl("", "patch", "pod", "web", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
	if out, err := ts.kubectl("", "get", "pod", "web"); err == nil || !strings.Contains(out, "NotFound") {
		t.Fatalf("pod stayed after its finalizer went: %s", out)
	}
}

func TestKubectlWatch(t *testing.T) {
	ts := startServer(t)
	ts.mustKubectl(podWeb, "create", "-f", "-")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectlPath, "--kubeconfig", ts.kubeconfig, "--cache-dir", filepath.Join(ts.dir, "cache"), "get", "pods", "-w")
	cmd.Env = append(cmd.Environ(), "HOME="+ts.dir)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitFor(t, ctx, func() bool { return strings.Contains(out.String(), "web") }, "initial pod in watch output", &out)
	second := strings.Replace(podWeb, "name: web", "name: second", 1)
	ts.mustKubectl(second, "create", "-f", "-")
	waitFor(t, ctx, func() bool { return strings.Contains(out.String(), "second") }, "created pod in watch output", &out)
	ts.mustKubectl("", "delete", "pod", "second", "--wait=false")
	waitFor(t, ctx, func() bool { return strings.Count(out.String(), "second") >= 2 }, "deleted pod in watch output", &out)
}

func TestKubectlSelectorsAndChunks(t *testing.T) {
	ts := startServer(t)
	var manifests []string
	for i := 0; i < 7; i++ {
		manifests = append(manifests, fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p%d\n  labels: {parity: p%d}\nspec:\n  containers: [{name: c, image: busybox}]\n", i, i%2))
	}
	ts.mustKubectl(strings.Join(manifests, "---\n"), "create", "-f", "-")
	out := ts.mustKubectl("", "get", "pods", "--chunk-size=2", "-o", "name")
	for i := 0; i < 7; i++ {
		if !strings.Contains(out, fmt.Sprintf("pod/p%d\n", i)) {
			t.Errorf("chunked list lacks p%d:\n%s", i, out)
		}
	}
	out = ts.mustKubectl("", "get", "pods", "-l", "parity=p1", "--chunk-size=2", "-o", "name")
	if got := strings.Count(out, "pod/"); got != 3 {
		t.Errorf("-l parity=p1 listed %d, want 3:\n%s", got, out)
	}
	out = ts.mustKubectl("", "get", "pods", "--field-selector", "metadata.name=p4", "-o", "name")
	if strings.TrimSpace(out) != "pod/p4" {
		t.Errorf("field selector: %q", out)
	}
	// The raw API pages with continue tokens that all read one revision.
	resp, body := ts.do("GET", "/api/v1/namespaces/default/pods?limit=3", "", "", nil)
	var l metav1.List
	if err := json.Unmarshal(body, &l); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list: %d %v %s", resp.StatusCode, err, body)
	}
	if len(l.Items) != 3 || l.Continue == "" {
		t.Fatalf("first page: %d items, continue %q", len(l.Items), l.Continue)
	}
	rv := l.ResourceVersion
	ts.mustKubectl("", "delete", "pod", "p6")
	_, body = ts.do("GET", "/api/v1/namespaces/default/pods?limit=10&continue="+l.Continue, "", "", nil)
	var l2 metav1.List
	if err := json.Unmarshal(body, &l2); err != nil {
		t.Fatal(err)
	}
	if len(l2.Items) != 4 || l2.ResourceVersion != rv || l2.Continue != "" {
		t.Errorf("second page: %d items (want 4: it reads the first page's revision), rv %s want %s, continue %q", len(l2.Items), l2.ResourceVersion, rv, l2.Continue)
	}
}

func TestKubectlAPIResourcesAndScale(t *testing.T) {
	ts := startServer(t)
	out := ts.mustKubectl("", "api-resources")
	for _, w := range []string{"pods", "po", "deployments", "deploy", "apps/v1", "namespaces", "ns", "leases", "coordination.k8s.io/v1"} {
		if !strings.Contains(out, w) {
			t.Errorf("api-resources lacks %q:\n%s", w, out)
		}
	}
	out = ts.mustKubectl("", "api-resources", "--categories=all", "-o", "name")
	if !strings.Contains(out, "pods") || !strings.Contains(out, "deployments.apps") || strings.Contains(out, "namespaces") {
		t.Errorf("category all:\n%s", out)
	}
	ts.mustKubectl(deployV1, "create", "-f", "-")
	if out := ts.mustKubectl("", "scale", "deployment", "api", "--replicas=5"); !strings.Contains(out, "scaled") {
		t.Fatalf("scale: %s", out)
	}
	if out := ts.mustKubectl("", "get", "deploy", "api", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"); out != "5 2" {
		t.Errorf("after scale replicas/generation = %q, want \"5 2\"", out)
	}
	if out := ts.mustKubectl("", "version", "-o", "json"); !strings.Contains(out, "serverVersion") {
		t.Errorf("version: %s", out)
	}
}

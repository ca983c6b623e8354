package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"

	"github.com/drover/drover/cluster/apiserver/kinds"
)

// readEvents reads a watch stream's events until it ends.
func readEvents(t *testing.T, body []byte) []metav1.WatchEvent {
	t.Helper()
	var evs []metav1.WatchEvent
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev metav1.WatchEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("watch line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestWatchListInitialEvents(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	for _, n := range []string{"a", "b"} {
		if _, err := c.CoreV1().Pods("default").Create(ctx, newPod(n, ""), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := ts.do("GET", "/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1", "", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("watch: %d %s", resp.StatusCode, body)
	}
	evs := readEvents(t, body)
	if len(evs) != 3 || evs[0].Type != "ADDED" || evs[1].Type != "ADDED" || evs[2].Type != "BOOKMARK" {
		t.Fatalf("events %+v, want ADDED ADDED BOOKMARK", evs)
	}
	var bm metav1.PartialObjectMetadata
	if err := json.Unmarshal(evs[2].Object.Raw, &bm); err != nil {
		t.Fatal(err)
	}
	if bm.Annotations[initialEventsEnd] != "true" || bm.ResourceVersion == "" {
		t.Errorf("bookmark %s lacks the initial-events-end annotation or a resourceVersion", evs[2].Object.Raw)
	}
	resp, body = ts.do("GET", "/api/v1/pods?watch=true&sendInitialEvents=true", "", "", nil)
	if resp.StatusCode != 400 {
		t.Errorf("sendInitialEvents without NotOlderThan: %d %s", resp.StatusCode, body)
	}
}

func TestWatchSelectorLeaves(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := c.CoreV1().Pods("default").Create(ctx, newPod("a", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{LabelSelector: "app=a", ResourceVersion: p.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := c.CoreV1().Pods("default").Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"other"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods("default").Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"a"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case ev := <-w.ResultChan():
			got = append(got, string(ev.Type))
		case <-ctx.Done():
			t.Fatalf("events so far %v", got)
		}
	}
	if got[0] != "DELETED" || got[1] != "ADDED" {
		t.Errorf("leaving and re-entering the selector: %v, want [DELETED ADDED]", got)
	}
}

func TestStatusSubresource(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	p, err := c.CoreV1().Pods("default").Create(ctx, newPod("s", ""), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A write to the object keeps the stored status.
	p.Status.Phase = corev1.PodRunning
	p.Labels["x"] = "1"
	p, err = c.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending || p.Labels["x"] != "1" {
		t.Fatalf("update of the object: phase %s labels %v", p.Status.Phase, p.Labels)
	}
	// A write to /status keeps everything else.
	p.Status.Phase = corev1.PodRunning
	p.Spec.Containers[0].Image = "changed"
	p, err = c.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodRunning || p.Spec.Containers[0].Image != "busybox" {
		t.Fatalf("update of status: phase %s image %s", p.Status.Phase, p.Spec.Containers[0].Image)
	}
}

func TestPodBindingEvictionGrace(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	if _, err := c.CoreV1().Pods("default").Create(ctx, newPod("p", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	if err := c.CoreV1().Pods("default").Bind(ctx, bind, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := c.CoreV1().Pods("default").Bind(ctx, bind, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `pod p is already assigned to node "n1"`) {
		t.Fatalf("second binding: %v", err)
	}
	// A bound pod's deletion waits for its node agent.
	if err := c.CoreV1().Pods("default").Delete(ctx, "p", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := c.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("bound pod went at once: %v", err)
	}
	if p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("bound pod's deletion: %v %v", p.DeletionTimestamp, p.DeletionGracePeriodSeconds)
	}
	zero := int64(0)
	if err := c.CoreV1().Pods("default").Delete(ctx, "p", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("grace 0 left the pod: %v", err)
	}
	// Eviction deletes with the eviction's options.
	if _, err := c.CoreV1().Pods("default").Create(ctx, newPod("e", "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: &zero}}
	if err := c.CoreV1().Pods("default").EvictV1(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "e", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("evicted pod remains: %v", err)
	}
}

func TestCreateSemantics(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	p := newPod("", "")
	p.GenerateName = "gen-"
	got, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.Name, "gen-") || len(got.Name) != len("gen-")+5 || got.UID == "" {
		t.Errorf("generated name %q uid %q", got.Name, got.UID)
	}
	dry, err := c.CoreV1().Pods("default").Create(ctx, newPod("dry", ""), metav1.CreateOptions{DryRun: []string{"All"}})
	if err != nil || dry.Name != "dry" {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry-run create stored the pod: %v", err)
	}
	if _, err := c.CoreV1().Pods("default").Create(ctx, newPod("Bad_Name", ""), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("bad name: %v", err)
	}
	// A terminating namespace takes no new content.
	fin := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "going", Finalizers: []string{"example.com/hold"}}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, fin, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Namespaces().Delete(ctx, "going", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CoreV1().Pods("going").Create(ctx, newPod("late", ""), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "because it is being terminated") {
		t.Errorf("create in a terminating namespace: %v", err)
	}
	// Warn mode names unknown fields in a Warning header and stores the rest.
	resp, body := ts.do("POST", "/api/v1/namespaces/default/pods?fieldValidation=Warn", "application/json", "",
		[]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"warned"},"spec":{"bogus":1,"containers":[{"name":"c","image":"x"}]}}`))
	if resp.StatusCode != 201 || !strings.Contains(resp.Header.Get("Warning"), `unknown field \"spec.bogus\"`) {
		t.Errorf("warn: %d %q %s", resp.StatusCode, resp.Header.Get("Warning"), body)
	}
	errorCases := []struct {
		method, path, body string
		code               int
		message            string
	}{
		{"POST", "/api/v1/namespaces/default/pods", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"}}`, 400,
			"the API version in the data (apps/v1) does not match the expected API version (v1)"},
		{"POST", "/apis/apps/v1/namespaces/default/deployments", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}}`, 422,
			`Deployment.apps "x" is invalid: spec.selector: Required value`},
		{"POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"foo":1}}`, 400,
			`Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo"`},
		{"POST", "/api/v1/namespaces/default/pods/x", `{}`, 405, ""},
		{"PUT", "/api/v1/namespaces/default/pods", `{}`, 405, ""},
		{"GET", "/api/v1/namespaces/default/pods/nope", "", 404, `pods "nope" not found`},
		{"GET", "/apis/nope/v1/things", "", 404, ""},
		{"PATCH", "/api/v1/namespaces/default/pods/warned", `{}`, 415, ""},
	}
	for _, tc := range errorCases {
		resp, body := ts.do(tc.method, tc.path, "application/json", "", []byte(tc.body))
		var st metav1.Status
		_ = json.Unmarshal(body, &st)
		if resp.StatusCode != tc.code || st.Kind != "Status" || int(st.Code) != tc.code || !strings.Contains(st.Message, tc.message) {
			t.Errorf("%s %s: %d %s, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.message)
		}
	}
}

func TestTablesAndDiscovery(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	if _, err := c.CoreV1().Pods("default").Create(context.Background(), newPod("t", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
	resp, body := ts.do("GET", "/api/v1/namespaces/default/pods", "", tableAccept, nil)
	var tbl metav1.Table
	if err := json.Unmarshal(body, &tbl); err != nil || resp.StatusCode != 200 {
		t.Fatalf("table: %d %v %s", resp.StatusCode, err, body)
	}
	if tbl.Kind != "Table" || len(tbl.Rows) != 1 || tbl.Rows[0].Cells[0] != "t" || len(tbl.ColumnDefinitions) < 2 || len(tbl.Rows[0].Cells) != len(tbl.ColumnDefinitions) {
		t.Fatalf("table %s", body)
	}
	var pom metav1.PartialObjectMetadata
	if err := json.Unmarshal(tbl.Rows[0].Object.Raw, &pom); err != nil || pom.Kind != "PartialObjectMetadata" || pom.Name != "t" {
		t.Errorf("row object %s", tbl.Rows[0].Object.Raw)
	}
	_, body = ts.do("GET", "/api/v1/namespaces/default/pods?includeObject=Object", "", tableAccept, nil)
	if !bytes.Contains(body, []byte(`"kind":"Pod"`)) {
		t.Errorf("includeObject=Object rows lack the pod: %s", body)
	}

	resp, body = ts.do("GET", "/apis", "", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", nil)
	if ct := resp.Header.Get("Content-Type"); ct != aggregatedMedia || !bytes.Contains(body, []byte(`"deployments"`)) {
		t.Errorf("aggregated discovery: %q %s", ct, body)
	}
	resp, body = ts.do("GET", "/api/v1", "", "", nil)
	var rl metav1.APIResourceList
	if err := json.Unmarshal(body, &rl); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range rl.APIResources {
		names[r.Name] = true
	}
	for _, n := range []string{"pods", "pods/status", "pods/binding", "pods/eviction", "pods/log", "pods/exec", "namespaces", "nodes/status"} {
		if !names[n] {
			t.Errorf("/api/v1 lacks %s", n)
		}
	}
	var groups metav1.APIGroupList
	_, body = ts.do("GET", "/apis", "", "application/json", nil)
	if err := json.Unmarshal(body, &groups); err != nil || groups.Kind != "APIGroupList" {
		t.Fatalf("legacy /apis: %v %s", err, body)
	}
	found := false
	for _, g := range groups.Groups {
		found = found || g.Name == "apps" && g.PreferredVersion.GroupVersion == "apps/v1"
	}
	if !found {
		t.Errorf("legacy /apis lacks apps/v1: %s", body)
	}
	_, body = ts.do("GET", "/apis/apps/v1", "", "", nil)
	var apps metav1.APIResourceList
	if err := json.Unmarshal(body, &apps); err != nil {
		t.Fatal(err)
	}
	var deploy, scale *metav1.APIResource
	for i := range apps.APIResources {
		switch apps.APIResources[i].Name {
		case "deployments":
			deploy = &apps.APIResources[i]
		case "deployments/scale":
			scale = &apps.APIResources[i]
		}
	}
	if deploy == nil || !deploy.Namespaced || deploy.Kind != "Deployment" || deploy.SingularName != "deployment" ||
		len(deploy.ShortNames) != 1 || deploy.ShortNames[0] != "deploy" || len(deploy.Categories) != 1 || len(deploy.Verbs) != 8 {
		t.Errorf("deployments in /apis/apps/v1: %+v", deploy)
	}
	if scale == nil || scale.Group != "autoscaling" || scale.Version != "v1" || scale.Kind != "Scale" {
		t.Errorf("deployments/scale in /apis/apps/v1: %+v", scale)
	}
	for _, p := range []string{"/healthz", "/readyz", "/livez", "/version", "/openapi/v3", "/openapi/v3/apis/apps/v1"} {
		if resp, body := ts.do("GET", p, "", "", nil); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
}

func TestUnauthenticated(t *testing.T) {
	ts := startServer(t)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: ts.srv.Client().Transport.(*http.Transport).TLSClientConfig}}
	resp, err := client.Get(ts.url + "/api/v1/pods")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("no client certificate: %d, want 401", resp.StatusCode)
	}
}

func TestMiscVerbs(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.BookmarkInterval = 20 * time.Millisecond })
	c := ts.client()
	ctx := context.Background()
	for _, n := range []string{"a", "b", "c"} {
		p := newPod(n, "")
		p.Labels["grp"] = map[bool]string{true: "x", false: "y"}[n != "c"]
		if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "grp=x"}); err != nil {
		t.Fatal(err)
	}
	left, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil || len(left.Items) != 1 || left.Items[0].Name != "c" {
		t.Fatalf("after deletecollection grp=x: %v %+v", err, left)
	}
	// YAML when asked.
	resp, body := ts.do("GET", "/api/v1/namespaces/default/pods/c", "", "application/yaml", nil)
	if resp.Header.Get("Content-Type") != "application/yaml" || !bytes.Contains(body, []byte("kind: Pod\n")) {
		t.Errorf("yaml: %q %s", resp.Header.Get("Content-Type"), body)
	}
	// The legacy /watch/ prefix, with bookmarks on a short interval.
	resp, body = ts.do("GET", "/api/v1/watch/namespaces/default/pods?allowWatchBookmarks=true&timeoutSeconds=1", "", "", nil)
	evs := readEvents(t, body)
	if resp.StatusCode != 200 || len(evs) < 2 || evs[0].Type != "ADDED" || evs[len(evs)-1].Type != "BOOKMARK" {
		t.Errorf("legacy watch: %d %+v", resp.StatusCode, evs)
	}
	// A follower with no leader to forward to answers 503.
	st := newMemStore()
	st.notLeader = true
	lone := startServerWith(t, ts.pki, st)
	_, err = lone.client().CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("list with no leader: %v, want 503", err)
	}
	// Watches and resourceVersion=0 lists read the replica, as a cache.
	lone.store.setLeader(true)
	if _, err := lone.client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "local"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lone.store.setLeader(false)
	for _, path := range []string{"/api/v1/namespaces/default/pods?resourceVersion=0", "/api/v1/pods?watch=true&timeoutSeconds=1", "/api/v1/namespaces/local?resourceVersion=0"} {
		if resp, body := lone.do("GET", path, "", "", nil); resp.StatusCode != 200 {
			t.Errorf("GET %s on a follower: %d %s", path, resp.StatusCode, body)
		}
	}
	if resp, body := lone.do("GET", "/api/v1/namespaces/local", "", "", nil); resp.StatusCode != 503 {
		t.Errorf("consistent GET on a follower without a leader: %d %s", resp.StatusCode, body)
	}
}

func TestOpenAPIV2Protobuf(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.OpenAPIV2 = func([]*kinds.Kind) []byte {
			return []byte(`{"swagger":"2.0","info":{"title":"drover","version":"v1"},"paths":{}}`)
		}
	})
	doc, err := ts.client().Discovery().OpenAPISchema()
	if err != nil {
		t.Fatalf("client-go reads /openapi/v2: %v", err)
	}
	if doc.Swagger != "2.0" || doc.Info.Title != "drover" {
		t.Errorf("document %v", doc)
	}
	resp, body := ts.do("GET", "/openapi/v2", "", "application/json", nil)
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte(`{"swagger"`)) {
		t.Errorf("json form: %d %s", resp.StatusCode, body)
	}
}

func TestMetadataClient(t *testing.T) {
	ts := startServer(t)
	if _, err := ts.client().CoreV1().Pods("default").Create(context.Background(), newPod("m", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mc, err := metadata.NewForConfig(ts.restConfig(ts.pki.adminCert, ts.pki.adminKey))
	if err != nil {
		t.Fatal(err)
	}
	pods := mc.Resource(corev1.SchemeGroupVersion.WithResource("pods")).Namespace("default")
	list, err := pods.List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "m" || list.Items[0].UID == "" {
		t.Fatalf("metadata list: %v %+v", err, list)
	}
	one, err := pods.Get(context.Background(), "m", metav1.GetOptions{})
	if err != nil || one.Labels["app"] != "m" {
		t.Fatalf("metadata get: %v %+v", err, one)
	}
	w, err := pods.Watch(context.Background(), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := ts.client().CoreV1().Pods("default").Delete(context.Background(), "m", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if pom, ok := ev.Object.(*metav1.PartialObjectMetadata); ev.Type != watch.Deleted || !ok || pom.Name != "m" {
			t.Fatalf("metadata watch event %s %T", ev.Type, ev.Object)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no metadata watch event")
	}
}

// A bound pod held by a finalizer: the node's grace-0 delete ends the grace
// period, and removing the finalizer then deletes it.
func TestPodFinalizerAfterGrace(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	p := newPod("f", "n1")
	p.Finalizers = []string{"batch.kubernetes.io/job-tracking"}
	if _, err := c.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().Pods("default").Delete(ctx, "f", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	if err := c.CoreV1().Pods("default").Delete(ctx, "f", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CoreV1().Pods("default").Get(ctx, "f", metav1.GetOptions{})
	if err != nil || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != 0 {
		t.Fatalf("after the grace-0 delete: %v %v", err, got.DeletionGracePeriodSeconds)
	}
	if got.Generation != 2 {
		t.Errorf("generation %d after deletion began, want 2", got.Generation)
	}
	if _, err := c.CoreV1().Pods("default").Patch(ctx, "f", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods("default").Get(ctx, "f", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod remains after its finalizer went: %v", err)
	}
}

// A JSON patch that doubles the object with every copy is refused before it
// exhausts memory.
func TestJSONPatchCopyBomb(t *testing.T) {
	ts := startServer(t)
	if _, err := ts.client().CoreV1().Pods("default").Create(context.Background(), newPod("b", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ops := []string{`{"op":"add","path":"/metadata/annotations","value":{"a":""}}`}
	for i := 0; i < 40; i++ {
		ops = append(ops, fmt.Sprintf(`{"op":"copy","from":"/metadata/annotations","path":"/metadata/annotations/x%d"}`, i))
	}
	resp, body := ts.do("PATCH", "/api/v1/namespaces/default/pods/b", "application/json-patch+json", "", []byte("["+strings.Join(ops, ",")+"]"))
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("copy bomb: %d %s", resp.StatusCode, body)
	}
}

func TestDeletePropagation(t *testing.T) {
	ts := startServer(t)
	c := ts.client()
	ctx := context.Background()
	tests := []struct {
		policy    metav1.DeletionPropagation
		finalizer string // "" = deleted at once
	}{
		{metav1.DeletePropagationForeground, "foregroundDeletion"},
		{metav1.DeletePropagationOrphan, "orphan"},
		{metav1.DeletePropagationBackground, ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			name := strings.ToLower(string(tc.policy))
			if _, err := c.CoreV1().Pods("default").Create(ctx, newPod(name, ""), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			p := tc.policy
			if err := c.CoreV1().Pods("default").Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &p}); err != nil {
				t.Fatal(err)
			}
			got, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if tc.finalizer == "" {
				if !apierrors.IsNotFound(err) {
					t.Fatalf("background delete left the pod: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DeletionTimestamp == nil || len(got.Finalizers) != 1 || got.Finalizers[0] != tc.finalizer {
				t.Fatalf("deletionTimestamp %v finalizers %v, want %s", got.DeletionTimestamp, got.Finalizers, tc.finalizer)
			}
		})
	}
	uid := types.UID("not-the-uid")
	if _, err := c.CoreV1().Pods("default").Create(ctx, newPod("pre", ""), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := c.CoreV1().Pods("default").Delete(ctx, "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "Precondition failed: UID in precondition: not-the-uid") {
		t.Fatalf("uid precondition: %v", err)
	}
}

func TestProtobufResponses(t *testing.T) {
	ts := startServer(t)
	const accept = "application/vnd.kubernetes.protobuf,application/json"
	for _, path := range []string{"/api/v1/namespaces/default", "/api/v1/namespaces", "/api/v1/namespaces/nope"} {
		resp, body := ts.do("GET", path, "", accept, nil)
		if resp.Header.Get("Content-Type") != mediaProtobuf || !bytes.HasPrefix(body, []byte("k8s\x00")) {
			t.Errorf("GET %s: %q %q", path, resp.Header.Get("Content-Type"), body)
		}
	}
	// Tables stay JSON whatever else is offered.
	resp, _ := ts.do("GET", "/api/v1/namespaces", "", "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io,application/json", nil)
	if resp.Header.Get("Content-Type") != mediaJSON {
		t.Errorf("table: %q", resp.Header.Get("Content-Type"))
	}
}

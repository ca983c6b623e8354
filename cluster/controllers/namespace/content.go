package namespace

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/drover/drover/cluster/kube"
)

// collection is one namespaced resource the controller empties: delete
// everything in the namespace, then count what is still there (pods
// terminating gracefully, objects held by finalizers).
type collection struct {
	name  string
	purge func(ctx context.Context, ns string) (left int, err error)
}

// purge makes a collection's purge from its typed client's List and
// Delete. It deletes item by item rather than with deletecollection, which
// not every API server (nor client-go's fake) implements.
func purge[L any](name string, list func(context.Context, metav1.ListOptions) (L, error),
	del func(context.Context, string, metav1.DeleteOptions) error) collection {
	bg := metav1.DeletePropagationBackground
	return collection{name: name, purge: func(ctx context.Context, ns string) (int, error) {
		l, err := list(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, fmt.Errorf("list %s: %w", name, err)
		}
		left := 0
		for _, it := range items(l) {
			left++
			if it.Metadata.DeletionTimestamp != nil {
				continue // already going
			}
			if err := del(ctx, it.Metadata.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
				if isNotFound(err) {
					left--
					continue
				}
				return 0, fmt.Errorf("delete %s %s: %w", name, it.Metadata.Name, err)
			}
		}
		if left == 0 {
			return 0, nil
		}
		// Count again: most deletions are immediate.
		if l, err = list(ctx, metav1.ListOptions{}); err != nil {
			return 0, fmt.Errorf("list %s: %w", name, err)
		}
		return len(items(l)), nil
	}}
}

// typed lists the namespaced resources the client knows, workload controllers first so
// they stop making pods; discovered covers whatever else the server serves.
func typed(c kube.Interface, ns string) []collection {
	core, apps, batch := c.CoreV1(), c.AppsV1(), c.BatchV1()
	return []collection{
		purge("deployments", apps.Deployments(ns).List, apps.Deployments(ns).Delete),
		purge("daemonsets", apps.DaemonSets(ns).List, apps.DaemonSets(ns).Delete),
		purge("replicasets", apps.ReplicaSets(ns).List, apps.ReplicaSets(ns).Delete),
		purge("jobs", batch.Jobs(ns).List, batch.Jobs(ns).Delete),
		purge("pods", core.Pods(ns).List, core.Pods(ns).Delete),
		purge("controllerrevisions", apps.ControllerRevisions(ns).List, apps.ControllerRevisions(ns).Delete),
		purge("services", core.Services(ns).List, core.Services(ns).Delete),
		purge("configmaps", core.ConfigMaps(ns).List, core.ConfigMaps(ns).Delete),
		purge("secrets", core.Secrets(ns).List, core.Secrets(ns).Delete),
		purge("leases", c.CoordinationV1().Leases(ns).List, c.CoordinationV1().Leases(ns).Delete),
		purge("poddisruptionbudgets", c.PolicyV1().PodDisruptionBudgets(ns).List, c.PolicyV1().PodDisruptionBudgets(ns).Delete),
		purge("events", core.Events(ns).List, core.Events(ns).Delete),
	}
}

type item struct {
	Metadata struct {
		Name              string       `json:"name"`
		DeletionTimestamp *metav1.Time `json:"deletionTimestamp"`
	} `json:"metadata"`
}

// items reads a list's item names through its JSON, which every list type
// shares (and so does a raw response), so one helper serves them all.
func items(l any) []item {
	b, ok := l.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(l); err != nil {
			return nil
		}
	}
	var v struct {
		Items []item `json:"items"`
	}
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v.Items
}

// discovered lists namespaced resources the typed set does not cover, for a generic
// purge over the REST client; empty when the client has none (the fake in tests).
func discovered(ctx context.Context, c kube.Interface, ns string, known map[string]bool) []collection {
	rc := c.CoreV1().RESTClient()
	if rc == nil {
		return nil
	}
	lists, err := kube.PreferredResources(ctx, rc)
	if err != nil && len(lists) == 0 {
		return nil
	}
	var out []collection
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if !r.Namespaced || known[r.Name] || strings.Contains(r.Name, "/") || !hasVerbs(r.Verbs, "list", "delete") {
				continue
			}
			path := "/apis/" + gv.Group + "/" + gv.Version
			if gv.Group == "" {
				path = "/api/" + gv.Version
			}
			path += "/namespaces/" + ns + "/" + r.Name
			name := r.Name + "." + gv.Group
			list := func(ctx context.Context, _ metav1.ListOptions) ([]byte, error) {
				return rc.Get().AbsPath(path).DoRaw(ctx)
			}
			del := func(ctx context.Context, n string, o metav1.DeleteOptions) error {
				body, err := json.Marshal(o)
				if err != nil {
					return err
				}
				return rc.Delete().AbsPath(path, n).SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
			}
			out = append(out, purge(name, list, del))
		}
	}
	return out
}

func hasVerbs(have metav1.Verbs, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

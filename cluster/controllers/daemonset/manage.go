package daemonset

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
)

func revisionHash(ds *appsv1.DaemonSet) string {
	return ctrlutil.TemplateHash(&ds.Spec.Template, ds.Status.CollisionCount)
}

// manage creates the missing daemon pods, deletes those that do not belong
// (wrong node, duplicates, failed, node gone), and replaces outdated ones
// within maxUnavailable.
func (c *Controller) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	var create []string
	var del []*corev1.Pod
	known := map[string]bool{}
	// The one kept pod per node that should have one, for the update.
	kept := map[string]*corev1.Pod{}
	missing := 0
	for _, n := range nodes {
		known[n.Name] = true
		run, cont := placement(ds, n)
		pods := byNode[n.Name]
		if !cont {
			del = append(del, pods...)
			continue
		}
		var ok []*corev1.Pod
		for _, p := range pods {
			if p.Status.Phase == corev1.PodFailed {
				del = append(del, p)
				continue
			}
			ok = append(ok, p)
		}
		if len(ok) == 0 {
			if run && len(pods) == 0 {
				create = append(create, n.Name)
			}
			if run {
				missing++
			}
			continue
		}
		sort.SliceStable(ok, func(i, j int) bool { return ok[i].CreationTimestamp.Before(&ok[j].CreationTimestamp) })
		del = append(del, ok[1:]...)
		kept[n.Name] = ok[0]
	}
	for node, pods := range byNode {
		if !known[node] {
			del = append(del, pods...)
		}
	}
	del = append(del, c.outdated(ds, kept, missing, hash)...)

	if err := c.deletePods(ctx, key, ds, del); err != nil {
		return err
	}
	return c.createPods(ctx, key, ds, create, hash)
}

// outdated picks old-revision pods to replace: all unavailable ones (they
// cost nothing), then available ones while the nodes without an available
// daemon stay within maxUnavailable.
func (c *Controller) outdated(ds *appsv1.DaemonSet, kept map[string]*corev1.Pod, missing int, hash string) []*corev1.Pod {
	if ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return nil
	}
	desired := len(kept) + missing
	mu := intstr.FromInt32(1)
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		mu = *ru.MaxUnavailable
	}
	maxUnavail, err := intstr.GetScaledValueFromIntOrPercent(&mu, desired, true)
	if err != nil || maxUnavail < 1 {
		maxUnavail = 1
	}
	now := c.now()
	unavailable := missing
	var oldAvailable, out []*corev1.Pod
	names := make([]string, 0, len(kept))
	for n := range kept {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := kept[n]
		avail := ctrlutil.IsPodAvailable(p, ds.Spec.MinReadySeconds, now)
		if !avail {
			unavailable++
		}
		if p.Labels[RevisionLabel] == hash {
			continue
		}
		if avail {
			oldAvailable = append(oldAvailable, p)
		} else {
			out = append(out, p)
		}
	}
	for _, p := range oldAvailable {
		if unavailable >= maxUnavail {
			break
		}
		out = append(out, p)
		unavailable++
	}
	return out
}

func (c *Controller) createPods(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []string, hash string) error {
	if len(nodes) == 0 {
		return nil
	}
	c.exp.ExpectCreations(key, len(nodes))
	ref := ctrlutil.ControllerRef(ds, gvk)
	next := make(chan string, len(nodes))
	for _, n := range nodes {
		next <- n
	}
	close(next)
	skipped, err := ctrlutil.SlowStartBatch(len(nodes), func() error {
		node := <-next
		p := ctrlutil.PodFromTemplate(&ds.Spec.Template, ds.Namespace, ds.Name+"-", ref)
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[RevisionLabel] = hash
		p.Labels[GenerationLabel] = fmt.Sprint(ds.Generation)
		addTolerations(&p.Spec)
		pinToNode(&p.Spec, node)
		np, err := ctrlutil.CreateWithRandomName(ctx, c.client, p)
		if err != nil {
			c.exp.CreationObserved(key)
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", np.Name)
		return nil
	})
	for i := 0; i < skipped; i++ {
		c.exp.CreationObserved(key)
	}
	return err
}

func (c *Controller) deletePods(ctx context.Context, key string, ds *appsv1.DaemonSet, pods []*corev1.Pod) error {
	var first error
	for _, p := range pods {
		podKey, _ := cache.MetaNamespaceKeyFunc(p)
		c.exp.ExpectDeletions(key, []string{podKey})
		err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
		if err != nil {
			c.exp.DeletionObserved(key, podKey)
			if !apierrors.IsNotFound(err) && first == nil {
				first = fmt.Errorf("delete daemon pod %s: %w", p.Name, err)
			}
			continue
		}
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
	}
	return first
}

package ctrlutil

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	"github.com/drover/drover/cluster/kube"
)

// IsPodActive: not finished and not being deleted, so it counts toward a
// controller's replicas.
func IsPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// PodReadyCondition returns the pod's Ready condition, or nil.
func PodReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports the Ready condition is True.
func IsPodReady(p *corev1.Pod) bool {
	c := PodReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsPodAvailable: ready for at least minReadySeconds.
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := PodReadyCondition(p)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

// UntilAvailable is how long until a ready pod becomes available, 0 when it
// is not ready or already available.
func UntilAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) time.Duration {
	c := PodReadyCondition(p)
	if minReadySeconds == 0 || c == nil || c.Status != corev1.ConditionTrue {
		return 0
	}
	d := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
	if d < 0 {
		return 0
	}
	return d + time.Second/10
}

// PodFromTemplate builds the pod a controller creates from its template.
func PodFromTemplate(t *corev1.PodTemplateSpec, namespace, prefix string, ref *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix,
			Namespace:    namespace,
			Labels:       copyMap(t.Labels),
			Annotations:  copyMap(t.Annotations),
			Finalizers:   append([]string(nil), t.Finalizers...),
		},
		Spec: *t.Spec.DeepCopy(),
	}
	if ref != nil {
		p.OwnerReferences = []metav1.OwnerReference{*ref}
	}
	return p
}

// CreateWithRandomName creates p named prefix plus five random characters.
// The name is chosen here rather than left to generateName on the server so
// that any API server (and client-go's fake tracker) gives the same names;
// a clash is retried with fresh characters.
func CreateWithRandomName(ctx context.Context, c kube.Interface, p *corev1.Pod) (*corev1.Pod, error) {
	var err error
	for i := 0; i < 5; i++ {
		p.Name = p.GenerateName + utilrand.String(5)
		var np *corev1.Pod
		np, err = c.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
		if err == nil {
			return np, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			break
		}
	}
	return nil, fmt.Errorf("create pod %s in %s: %w", p.GenerateName, p.Namespace, err)
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	o := make(map[string]string, len(m))
	for k, v := range m {
		o[k] = v
	}
	return o
}

// SlowStartBatch runs fn count times in growing batches (1, 2, 4, ...) and
// stops at the first batch with an error, so a failing create (quota, bad
// template) costs one call rather than count. It returns how many calls it
// never made.
func SlowStartBatch(count int, fn func() error) (int, error) {
	done, tried := 0, 0
	for batch := 1; done < count; batch *= 2 {
		if batch > count-done {
			batch = count - done
		}
		tried += batch
		errs := make(chan error, batch)
		for i := 0; i < batch; i++ {
			go func() { errs <- fn() }()
		}
		var first error
		ok := 0
		for i := 0; i < batch; i++ {
			if err := <-errs; err != nil {
				if first == nil {
					first = err
				}
			} else {
				ok++
			}
		}
		done += ok
		if first != nil {
			return count - tried, first
		}
	}
	return 0, nil
}

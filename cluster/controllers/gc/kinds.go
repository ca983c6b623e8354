package gc

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/drover/drover/cluster/kube"
)

// kind is one resource the collector covers: its informer for the graph,
// and live calls for the checks and writes that must not trust the cache.
type kind struct {
	gk       schema.GroupKind
	informer cache.SharedIndexInformer
	get      func(ctx context.Context, ns, name string) (metav1.Object, error)
	del      func(ctx context.Context, ns, name string, opts metav1.DeleteOptions) error
	patch    func(ctx context.Context, ns, name string, data []byte) error
}

// kinds is the fixed set of resources that own or are owned by the
// controllers here (ControllerRevisions: a DaemonSet's history). Owners of other kinds are never judged absent.
func kinds(c kube.Interface, f *kube.InformerFactory) []*kind {
	mp := types.MergePatchType
	po := metav1.PatchOptions{}
	return []*kind{
		{
			gk:       schema.GroupKind{Kind: "Pod"},
			informer: f.Pods().Informer(),
			get: func(ctx context.Context, ns, n string) (metav1.Object, error) {
				return c.CoreV1().Pods(ns).Get(ctx, n, metav1.GetOptions{})
			},
			del: func(ctx context.Context, ns, n string, o metav1.DeleteOptions) error {
				return c.CoreV1().Pods(ns).Delete(ctx, n, o)
			},
			patch: func(ctx context.Context, ns, n string, d []byte) error {
				_, err := c.CoreV1().Pods(ns).Patch(ctx, n, mp, d, po)
				return err
			},
		},
		{
			gk:       appsv1.SchemeGroupVersion.WithKind("ReplicaSet").GroupKind(),
			informer: f.ReplicaSets().Informer(),
			get: func(ctx context.Context, ns, n string) (metav1.Object, error) {
				return c.AppsV1().ReplicaSets(ns).Get(ctx, n, metav1.GetOptions{})
			},
			del: func(ctx context.Context, ns, n string, o metav1.DeleteOptions) error {
				return c.AppsV1().ReplicaSets(ns).Delete(ctx, n, o)
			},
			patch: func(ctx context.Context, ns, n string, d []byte) error {
				_, err := c.AppsV1().ReplicaSets(ns).Patch(ctx, n, mp, d, po)
				return err
			},
		},
		{
			gk:       appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind(),
			informer: f.Deployments().Informer(),
			get: func(ctx context.Context, ns, n string) (metav1.Object, error) {
				return c.AppsV1().Deployments(ns).Get(ctx, n, metav1.GetOptions{})
			},
			del: func(ctx context.Context, ns, n string, o metav1.DeleteOptions) error {
				return c.AppsV1().Deployments(ns).Delete(ctx, n, o)
			},
			patch: func(ctx context.Context, ns, n string, d []byte) error {
				_, err := c.AppsV1().Deployments(ns).Patch(ctx, n, mp, d, po)
				return err
			},
		},
		{
			gk:       appsv1.SchemeGroupVersion.WithKind("DaemonSet").GroupKind(),
			informer: f.DaemonSets().Informer(),
			get: func(ctx context.Context, ns, n string) (metav1.Object, error) {
				return c.AppsV1().DaemonSets(ns).Get(ctx, n, metav1.GetOptions{})
			},
			del: func(ctx context.Context, ns, n string, o metav1.DeleteOptions) error {
				return c.AppsV1().DaemonSets(ns).Delete(ctx, n, o)
			},
			patch: func(ctx context.Context, ns, n string, d []byte) error {
				_, err := c.AppsV1().DaemonSets(ns).Patch(ctx, n, mp, d, po)
				return err
			},
		},
		{
			gk:       batchv1.SchemeGroupVersion.WithKind("Job").GroupKind(),
			informer: f.Jobs().Informer(),
			get: func(ctx context.Context, ns, n string) (metav1.Object, error) {
				return c.BatchV1().Jobs(ns).Get(ctx, n, metav1.GetOptions{})
			},
			del: func(ctx context.Context, ns, n string, o metav1.DeleteOptions) error {
				return c.BatchV1().Jobs(ns).Delete(ctx, n, o)
			},
			patch: func(ctx context.Context, ns, n string, d []byte) error {
				_, err := c.BatchV1().Jobs(ns).Patch(ctx, n, mp, d, po)
				return err
			},
		},
		{
			gk:       appsv1.SchemeGroupVersion.WithKind("ControllerRevision").GroupKind(),
			informer: f.ControllerRevisions().Informer(),
			get: func(ctx context.Context, ns, n string) (metav1.Object, error) {
				return c.AppsV1().ControllerRevisions(ns).Get(ctx, n, metav1.GetOptions{})
			},
			del: func(ctx context.Context, ns, n string, o metav1.DeleteOptions) error {
				return c.AppsV1().ControllerRevisions(ns).Delete(ctx, n, o)
			},
			patch: func(ctx context.Context, ns, n string, d []byte) error {
				_, err := c.AppsV1().ControllerRevisions(ns).Patch(ctx, n, mp, d, po)
				return err
			},
		},
	}
}

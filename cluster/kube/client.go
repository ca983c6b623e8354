// Package kube is the Go client of the cluster's API for the kinds it serves: typed
// clients on client-go's generic ones (gentype, rest), shared informers and listers, an
// event sink, and a scheme of the served groups only. client-go's own clientset and
// informer factory register every Kubernetes group at init (2.7 ms and 270 packages in
// every drover process: the CLI, each container's init); this package links what the
// cluster uses. Its interfaces are subsets of client-go's typed ones, so client-go's fake
// clientset serves tests through kubefake.
package kube

import (
	"context"
	"fmt"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// Interface is the clientset: one accessor per API group, as client-go's.
type Interface interface {
	CoreV1() CoreV1Interface
	AppsV1() AppsV1Interface
	BatchV1() BatchV1Interface
	CoordinationV1() CoordinationV1Interface
	SchedulingV1() SchedulingV1Interface
	PolicyV1() PolicyV1Interface
}

// NoStatus is the typed client of a kind without a status subresource, T its object and
// L its list.
type NoStatus[T runtime.Object, L runtime.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// Resource is the typed client of a kind with a status subresource.
type Resource[T runtime.Object, L runtime.Object] interface {
	NoStatus[T, L]
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

type (
	PodInterface interface {
		Resource[*corev1.Pod, *corev1.PodList]
		DeleteCollection(ctx context.Context, opts metav1.DeleteOptions, listOpts metav1.ListOptions) error
		Bind(ctx context.Context, binding *corev1.Binding, opts metav1.CreateOptions) error
		EvictV1(ctx context.Context, eviction *policyv1.Eviction) error
	}
	NodeInterface      = Resource[*corev1.Node, *corev1.NodeList]
	NamespaceInterface interface {
		Resource[*corev1.Namespace, *corev1.NamespaceList]
		Finalize(ctx context.Context, item *corev1.Namespace, opts metav1.UpdateOptions) (*corev1.Namespace, error)
	}
	EventInterface               = NoStatus[*corev1.Event, *corev1.EventList]
	ConfigMapInterface           = NoStatus[*corev1.ConfigMap, *corev1.ConfigMapList]
	SecretInterface              = NoStatus[*corev1.Secret, *corev1.SecretList]
	ServiceInterface             = Resource[*corev1.Service, *corev1.ServiceList]
	DeploymentInterface          = Resource[*appsv1.Deployment, *appsv1.DeploymentList]
	ReplicaSetInterface          = Resource[*appsv1.ReplicaSet, *appsv1.ReplicaSetList]
	DaemonSetInterface           = Resource[*appsv1.DaemonSet, *appsv1.DaemonSetList]
	ControllerRevisionInterface  = NoStatus[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList]
	JobInterface                 = Resource[*batchv1.Job, *batchv1.JobList]
	LeaseInterface               = NoStatus[*coordinationv1.Lease, *coordinationv1.LeaseList]
	PriorityClassInterface       = NoStatus[*schedulingv1.PriorityClass, *schedulingv1.PriorityClassList]
	PodDisruptionBudgetInterface = Resource[*policyv1.PodDisruptionBudget, *policyv1.PodDisruptionBudgetList]
)

// CoreV1Interface is the core group ("" v1). RESTClient is for raw requests (nil in fakes).
type CoreV1Interface interface {
	RESTClient() rest.Interface
	Pods(namespace string) PodInterface
	Nodes() NodeInterface
	Namespaces() NamespaceInterface
	Events(namespace string) EventInterface
	ConfigMaps(namespace string) ConfigMapInterface
	Secrets(namespace string) SecretInterface
	Services(namespace string) ServiceInterface
}

type AppsV1Interface interface {
	Deployments(namespace string) DeploymentInterface
	ReplicaSets(namespace string) ReplicaSetInterface
	DaemonSets(namespace string) DaemonSetInterface
	ControllerRevisions(namespace string) ControllerRevisionInterface
}

type BatchV1Interface interface {
	Jobs(namespace string) JobInterface
}

type CoordinationV1Interface interface {
	Leases(namespace string) LeaseInterface
}

type SchedulingV1Interface interface {
	PriorityClasses() PriorityClassInterface
}

type PolicyV1Interface interface {
	PodDisruptionBudgets(namespace string) PodDisruptionBudgetInterface
}

// Clientset is the Interface over HTTP.
type Clientset struct {
	core, apps, batch, coordination, scheduling, policy *rest.RESTClient
}

var _ Interface = (*Clientset)(nil)

// NewForConfig makes a Clientset whose groups share one HTTP client and one rate limiter
// (cfg.QPS and Burst), as client-go's does.
func NewForConfig(cfg *rest.Config) (*Clientset, error) {
	c := *cfg
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	if c.RateLimiter == nil && c.QPS > 0 {
		if c.Burst <= 0 {
			return nil, fmt.Errorf("the cluster API client's burst must be positive when its QPS is (%v)", c.QPS)
		}
		c.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(c.QPS, c.Burst)
	}
	hc, err := rest.HTTPClientFor(&c)
	if err != nil {
		return nil, err
	}
	cs := &Clientset{}
	for _, g := range []struct {
		dst *(*rest.RESTClient)
		gv  schema.GroupVersion
	}{
		{&cs.core, corev1.SchemeGroupVersion}, {&cs.apps, appsv1.SchemeGroupVersion},
		{&cs.batch, batchv1.SchemeGroupVersion}, {&cs.coordination, coordinationv1.SchemeGroupVersion},
		{&cs.scheduling, schedulingv1.SchemeGroupVersion}, {&cs.policy, policyv1.SchemeGroupVersion},
	} {
		if *g.dst, err = restClient(c, g.gv, hc); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

func restClient(c rest.Config, gv schema.GroupVersion, hc *http.Client) (*rest.RESTClient, error) {
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	if gv.Group == "" {
		c.APIPath = "/api"
	}
	c.NegotiatedSerializer = rest.CodecFactoryForGeneratedClient(Scheme(), Codecs()).WithoutConversion()
	return rest.RESTClientForConfigAndClient(&c, hc)
}

func (c *Clientset) CoreV1() CoreV1Interface                 { return core{c.core} }
func (c *Clientset) AppsV1() AppsV1Interface                 { return apps{c.apps} }
func (c *Clientset) BatchV1() BatchV1Interface               { return batch{c.batch} }
func (c *Clientset) CoordinationV1() CoordinationV1Interface { return coordination{c.coordination} }
func (c *Clientset) SchedulingV1() SchedulingV1Interface     { return scheduling{c.scheduling} }
func (c *Clientset) PolicyV1() PolicyV1Interface             { return policy{c.policy} }

func client[T object, L runtime.Object](rc *rest.RESTClient, resource, ns string, newT func() T, newL func() L) *typed[T, L] {
	return newTyped(rc, resource, ns, newT, newL)
}

type core struct{ rc *rest.RESTClient }

func (c core) RESTClient() rest.Interface { return c.rc }

func (c core) Pods(ns string) PodInterface {
	return pods{client(c.rc, "pods", ns, func() *corev1.Pod { return &corev1.Pod{} }, func() *corev1.PodList { return &corev1.PodList{} })}
}

func (c core) Nodes() NodeInterface {
	return client(c.rc, "nodes", "", func() *corev1.Node { return &corev1.Node{} }, func() *corev1.NodeList { return &corev1.NodeList{} })
}

func (c core) Namespaces() NamespaceInterface {
	return namespaces{client(c.rc, "namespaces", "", func() *corev1.Namespace { return &corev1.Namespace{} }, func() *corev1.NamespaceList { return &corev1.NamespaceList{} })}
}

func (c core) Events(ns string) EventInterface {
	return client(c.rc, "events", ns, func() *corev1.Event { return &corev1.Event{} }, func() *corev1.EventList { return &corev1.EventList{} })
}

func (c core) ConfigMaps(ns string) ConfigMapInterface {
	return client(c.rc, "configmaps", ns, func() *corev1.ConfigMap { return &corev1.ConfigMap{} }, func() *corev1.ConfigMapList { return &corev1.ConfigMapList{} })
}

func (c core) Secrets(ns string) SecretInterface {
	return client(c.rc, "secrets", ns, func() *corev1.Secret { return &corev1.Secret{} }, func() *corev1.SecretList { return &corev1.SecretList{} })
}

func (c core) Services(ns string) ServiceInterface {
	return client(c.rc, "services", ns, func() *corev1.Service { return &corev1.Service{} }, func() *corev1.ServiceList { return &corev1.ServiceList{} })
}

type pods struct {
	*typed[*corev1.Pod, *corev1.PodList]
}

func (p pods) Bind(ctx context.Context, b *corev1.Binding, opts metav1.CreateOptions) error {
	return p.rc.Post().Namespace(p.ns).Resource("pods").Name(b.Name).
		VersionedParams(&opts, ParameterCodec()).SubResource("binding").Body(b).Do(ctx).Error()
}

func (p pods) EvictV1(ctx context.Context, e *policyv1.Eviction) error {
	return p.rc.Post().Namespace(p.ns).Resource("pods").Name(e.Name).
		SubResource("eviction").Body(e).Do(ctx).Error()
}

type namespaces struct {
	*typed[*corev1.Namespace, *corev1.NamespaceList]
}

func (n namespaces) Finalize(ctx context.Context, ns *corev1.Namespace, opts metav1.UpdateOptions) (*corev1.Namespace, error) {
	out := &corev1.Namespace{}
	err := n.rc.Put().Resource("namespaces").Name(ns.Name).VersionedParams(&opts, ParameterCodec()).
		SubResource("finalize").Body(ns).Do(ctx).Into(out)
	return out, err
}

type apps struct{ rc *rest.RESTClient }

func (c apps) Deployments(ns string) DeploymentInterface {
	return client(c.rc, "deployments", ns, func() *appsv1.Deployment { return &appsv1.Deployment{} }, func() *appsv1.DeploymentList { return &appsv1.DeploymentList{} })
}

func (c apps) ReplicaSets(ns string) ReplicaSetInterface {
	return client(c.rc, "replicasets", ns, func() *appsv1.ReplicaSet { return &appsv1.ReplicaSet{} }, func() *appsv1.ReplicaSetList { return &appsv1.ReplicaSetList{} })
}

func (c apps) DaemonSets(ns string) DaemonSetInterface {
	return client(c.rc, "daemonsets", ns, func() *appsv1.DaemonSet { return &appsv1.DaemonSet{} }, func() *appsv1.DaemonSetList { return &appsv1.DaemonSetList{} })
}

func (c apps) ControllerRevisions(ns string) ControllerRevisionInterface {
	return client(c.rc, "controllerrevisions", ns, func() *appsv1.ControllerRevision { return &appsv1.ControllerRevision{} }, func() *appsv1.ControllerRevisionList { return &appsv1.ControllerRevisionList{} })
}

type batch struct{ rc *rest.RESTClient }

func (c batch) Jobs(ns string) JobInterface {
	return client(c.rc, "jobs", ns, func() *batchv1.Job { return &batchv1.Job{} }, func() *batchv1.JobList { return &batchv1.JobList{} })
}

type coordination struct{ rc *rest.RESTClient }

func (c coordination) Leases(ns string) LeaseInterface {
	return client(c.rc, "leases", ns, func() *coordinationv1.Lease { return &coordinationv1.Lease{} }, func() *coordinationv1.LeaseList { return &coordinationv1.LeaseList{} })
}

type scheduling struct{ rc *rest.RESTClient }

func (c scheduling) PriorityClasses() PriorityClassInterface {
	return client(c.rc, "priorityclasses", "", func() *schedulingv1.PriorityClass { return &schedulingv1.PriorityClass{} }, func() *schedulingv1.PriorityClassList { return &schedulingv1.PriorityClassList{} })
}

type policy struct{ rc *rest.RESTClient }

func (c policy) PodDisruptionBudgets(ns string) PodDisruptionBudgetInterface {
	return client(c.rc, "poddisruptionbudgets", ns, func() *policyv1.PodDisruptionBudget { return &policyv1.PodDisruptionBudget{} }, func() *policyv1.PodDisruptionBudgetList { return &policyv1.PodDisruptionBudgetList{} })
}

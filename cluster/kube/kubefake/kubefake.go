// Package kubefake serves kube.Interface from client-go's fake clientset (its object
// tracker and watches) for tests; the drover binary never links it.
package kubefake

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/drover/drover/cluster/kube"
)

// New is a fake clientset holding objs, and the kube.Interface over it.
func New(objs ...runtime.Object) (*fake.Clientset, kube.Interface) {
	cs := fake.NewClientset(objs...)
	return cs, Wrap(cs)
}

// Wrap serves kube.Interface from any client-go clientset.
func Wrap(cs kubernetes.Interface) kube.Interface { return clientset{cs} }

type clientset struct{ cs kubernetes.Interface }

// IsWatchListSemanticsUnSupported: the fake sends no bookmarks, so informers must list.
func (clientset) IsWatchListSemanticsUnSupported() bool { return true }

func (c clientset) CoreV1() kube.CoreV1Interface                 { return core{c.cs} }
func (c clientset) AppsV1() kube.AppsV1Interface                 { return apps{c.cs} }
func (c clientset) BatchV1() kube.BatchV1Interface               { return batch{c.cs} }
func (c clientset) CoordinationV1() kube.CoordinationV1Interface { return coordination{c.cs} }
func (c clientset) SchedulingV1() kube.SchedulingV1Interface     { return scheduling{c.cs} }
func (c clientset) PolicyV1() kube.PolicyV1Interface             { return policy{c.cs} }

type core struct{ cs kubernetes.Interface }

// RESTClient is nil: the fake answers no raw requests.
func (c core) RESTClient() rest.Interface                   { return nil }
func (c core) Pods(ns string) kube.PodInterface             { return c.cs.CoreV1().Pods(ns) }
func (c core) Nodes() kube.NodeInterface                    { return c.cs.CoreV1().Nodes() }
func (c core) Namespaces() kube.NamespaceInterface          { return c.cs.CoreV1().Namespaces() }
func (c core) Events(ns string) kube.EventInterface         { return c.cs.CoreV1().Events(ns) }
func (c core) ConfigMaps(ns string) kube.ConfigMapInterface { return c.cs.CoreV1().ConfigMaps(ns) }
func (c core) Secrets(ns string) kube.SecretInterface       { return c.cs.CoreV1().Secrets(ns) }
func (c core) Services(ns string) kube.ServiceInterface     { return c.cs.CoreV1().Services(ns) }

type apps struct{ cs kubernetes.Interface }

func (c apps) Deployments(ns string) kube.DeploymentInterface { return c.cs.AppsV1().Deployments(ns) }
func (c apps) ReplicaSets(ns string) kube.ReplicaSetInterface { return c.cs.AppsV1().ReplicaSets(ns) }
func (c apps) DaemonSets(ns string) kube.DaemonSetInterface   { return c.cs.AppsV1().DaemonSets(ns) }
func (c apps) ControllerRevisions(ns string) kube.ControllerRevisionInterface {
	return c.cs.AppsV1().ControllerRevisions(ns)
}

type batch struct{ cs kubernetes.Interface }

func (c batch) Jobs(ns string) kube.JobInterface { return c.cs.BatchV1().Jobs(ns) }

type coordination struct{ cs kubernetes.Interface }

func (c coordination) Leases(ns string) kube.LeaseInterface { return c.cs.CoordinationV1().Leases(ns) }

type scheduling struct{ cs kubernetes.Interface }

func (c scheduling) PriorityClasses() kube.PriorityClassInterface {
	return c.cs.SchedulingV1().PriorityClasses()
}

type policy struct{ cs kubernetes.Interface }

func (c policy) PodDisruptionBudgets(ns string) kube.PodDisruptionBudgetInterface {
	return c.cs.PolicyV1().PodDisruptionBudgets(ns)
}

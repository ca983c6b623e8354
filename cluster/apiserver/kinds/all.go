package kinds

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// All returns a fresh description of every kind the cluster API serves,
// in the order discovery lists them.
func All() []*Kind {
	ks := []*Kind{
		namespaceKind(),
		nodeKind(),
		podKind(),
		eventKind(),
		deploymentKind(),
		replicaSetKind(),
		daemonSetKind(),
		jobKind(),
		priorityClassKind(),
		leaseKind(),
		controllerRevisionKind(),
	}
	for _, k := range ks {
		if k.Fields == nil {
			// Only metadata.name and metadata.namespace, which the
			// machinery adds itself.
			k.Fields = func(runtime.Object) fields.Set { return fields.Set{} }
		}
	}
	return ks
}

// ByResource indexes kinds by their resource name ("pods").
func ByResource(ks []*Kind) map[string]*Kind {
	m := make(map[string]*Kind, len(ks))
	for _, k := range ks {
		m[k.Resource] = k
	}
	return m
}

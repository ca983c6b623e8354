package apiserver

import (
	"context"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/store"
)

// Built-in priority classes, as kube-apiserver creates them; they resolve
// even when no object for them is stored.
var builtinPriorities = map[string]int32{
	"system-node-critical":    2000001000,
	"system-cluster-critical": 2000000000,
}

// admit runs what Kubernetes' admission plugins do on create, for the
// kinds that need it: a pod's priority comes from its PriorityClass.
func (s *server) admit(ctx context.Context, req *request, obj runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		return s.admitPriority(ctx, req, o)
	case *batchv1.Job:
		// The selector Kubernetes generates from the uid (set just before).
		kinds.GenerateJobSelector(o)
	}
	return nil
}

// admitPriority resolves spec.priorityClassName (or the global default
// class) to spec.priority and spec.preemptionPolicy.
func (s *server) admitPriority(ctx context.Context, req *request, pod *corev1.Pod) error {
	pk := s.kindByResource("scheduling.k8s.io", "priorityclasses")
	var value int32
	var policy *corev1.PreemptionPolicy
	name := pod.Spec.PriorityClassName
	switch {
	case name != "" && pk != nil:
		kv, err := s.cfg.Store.Get(ctx, objectKey(pk, "", name))
		if errors.Is(err, store.ErrNotFound) {
			v, ok := builtinPriorities[name]
			if !ok {
				return apierrors.NewForbidden(req.gr, pod.Name, fmt.Errorf("no PriorityClass with name %s was found", name))
			}
			value = v
			break
		}
		if err != nil {
			return storeErr(err, req.gr, pod.Name)
		}
		obj, err := decodeKV(pk, kv)
		if err != nil {
			return err
		}
		pc, ok := obj.(*schedulingv1.PriorityClass)
		if !ok {
			return fmt.Errorf("priority classes are served as %T", obj)
		}
		value, policy = pc.Value, pc.PreemptionPolicy
	case name != "":
		v, ok := builtinPriorities[name]
		if !ok {
			return apierrors.NewForbidden(req.gr, pod.Name, fmt.Errorf("no PriorityClass with name %s was found", name))
		}
		value = v
	case pk != nil:
		def, err := s.defaultPriorityClass(ctx, pk.Resource)
		if err != nil {
			return err
		}
		if def != nil {
			pod.Spec.PriorityClassName = def.Name
			value, policy = def.Value, def.PreemptionPolicy
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return apierrors.NewForbidden(req.gr, pod.Name, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))
	}
	pod.Spec.Priority = &value
	if policy != nil && pod.Spec.PreemptionPolicy == nil {
		p := *policy
		pod.Spec.PreemptionPolicy = &p
	}
	return nil
}

// defaultPriorityClass is the class marked globalDefault (the lowest
// valued one if several are), or nil.
func (s *server) defaultPriorityClass(ctx context.Context, resource string) (*schedulingv1.PriorityClass, error) {
	pk := s.kindByResource("scheduling.k8s.io", resource)
	res, err := s.cfg.Store.List(ctx, listPrefix(pk, ""), store.ListOptions{})
	if err != nil {
		return nil, storeErr(err, pk.GVK.GroupVersion().WithResource(resource).GroupResource(), "")
	}
	var best *schedulingv1.PriorityClass
	for _, kv := range res.KVs {
		obj, err := decodeKV(pk, kv)
		if err != nil {
			return nil, err
		}
		pc, ok := obj.(*schedulingv1.PriorityClass)
		if ok && pc.GlobalDefault && (best == nil || pc.Value < best.Value) {
			best = pc
		}
	}
	return best, nil
}

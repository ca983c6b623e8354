package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	bindingGVK  = corev1.SchemeGroupVersion.WithKind("Binding")
	evictionGVK = policyv1.SchemeGroupVersion.WithKind("Eviction")
	scaleGVK    = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
)

func isPods(req *request) bool { return req.kind.GVK.Group == "" && req.kind.Resource == "pods" }

// serveSubresource serves everything below an object but /status.
func (s *server) serveSubresource(w http.ResponseWriter, r *http.Request, req *request) error {
	switch {
	case isPods(req) && req.subresource == "binding":
		if req.verb != "create" {
			return methodNotAllowed(schema.GroupResource{Resource: "pods/binding"}, req.verb)
		}
		return s.bind(w, r, req)
	case isPods(req) && req.subresource == "eviction":
		if req.verb != "create" {
			return methodNotAllowed(schema.GroupResource{Resource: "pods/eviction"}, req.verb)
		}
		return s.evict(w, r, req)
	case isPods(req) && (req.subresource == "log" || req.subresource == "exec" || req.subresource == "attach" || req.subresource == "portforward"):
		return s.proxyNode(w, r, req)
	case req.kind.Scale != nil && req.subresource == "scale":
		switch req.verb {
		case "get":
			obj, _, err := s.load(r, req)
			if err != nil {
				return err
			}
			writeObject(w, r, http.StatusOK, s.scaleOf(req, obj))
			return nil
		case "update", "patch":
			return s.writeScale(w, r, req)
		}
		return methodNotAllowed(schema.GroupResource{Group: req.gr.Group, Resource: req.gr.Resource + "/scale"}, req.verb)
	}
	return apierrors.NewNotFound(req.gr, req.name)
}

// bind sets a pod's node, once, as the scheduler's Binding asks.
func (s *server) bind(w http.ResponseWriter, r *http.Request, req *request) error {
	obj, err := decodeBody(w, r, req.body, nil, bindingGVK, &corev1.Binding{})
	if err != nil {
		return err
	}
	b := obj.(*corev1.Binding)
	if b.Name != "" && b.Name != req.name {
		return badRequest("the name of the binding (%s) does not match the pod on the URL (%s)", b.Name, req.name)
	}
	if b.Target.Name == "" {
		return invalid(req.kind, req.name, nil)
	}
	bindingGR := schema.GroupResource{Resource: "pods/binding"}
	for attempt := 0; ; attempt++ {
		cur, rev, err := s.load(r, req)
		if err != nil {
			return err
		}
		pod := cur.DeepCopyObject().(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return apierrors.NewConflict(bindingGR, req.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", req.name))
		}
		if pod.Spec.NodeName != "" {
			return apierrors.NewConflict(bindingGR, req.name, fmt.Errorf("pod %s is already assigned to node %q", req.name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		for k, v := range b.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		// A binding is the one write that sets spec.nodeName, so the pod's
		// update validation (which holds the spec immutable) is not its.
		err = s.writeBinding(r.Context(), req, pod, rev)
		if apierrors.IsConflict(err) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return err
		}
		writeObject(w, r, http.StatusCreated, successStatus(http.StatusCreated, nil))
		return nil
	}
}

func (s *server) writeBinding(ctx context.Context, req *request, pod *corev1.Pod, rev uint64) error {
	val, err := encodeForStore(req.kind, pod)
	if err != nil {
		return err
	}
	_, err = s.cfg.Store.Update(ctx, objectKey(req.kind, pod.Namespace, pod.Name), val, rev)
	return storeErr(err, req.gr, pod.Name)
}

// evict deletes a pod with the eviction's options (no disruption budgets
// are served, so none can refuse it).
func (s *server) evict(w http.ResponseWriter, r *http.Request, req *request) error {
	gvk := evictionGVK
	var probe metav1.TypeMeta
	if json.Unmarshal(req.body, &probe) == nil && probe.APIVersion == "policy/v1beta1" {
		gvk = schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "Eviction"}
	}
	opts := &metav1.DeleteOptions{}
	if gvk.Version == "v1beta1" {
		var ev struct {
			DeleteOptions *metav1.DeleteOptions `json:"deleteOptions"`
		}
		if err := json.Unmarshal(req.body, &ev); err != nil {
			return badRequest("decode Eviction: %v", err)
		}
		if ev.DeleteOptions != nil {
			opts = ev.DeleteOptions
		}
	} else {
		obj, err := decodeBody(w, r, req.body, nil, gvk, &policyv1.Eviction{})
		if err != nil {
			return err
		}
		if ev := obj.(*policyv1.Eviction); ev.DeleteOptions != nil {
			opts = ev.DeleteOptions
		}
	}
	for attempt := 0; ; attempt++ {
		cur, rev, err := s.load(r, req)
		if err != nil {
			return err
		}
		_, err = s.deleteOne(r.Context(), req, cur, rev, opts)
		if apierrors.IsConflict(err) && opts.Preconditions == nil && attempt < maxRetries {
			continue
		}
		if err != nil {
			return err
		}
		writeObject(w, r, http.StatusCreated, successStatus(http.StatusCreated, nil))
		return nil
	}
}

// scaleOf renders an object's /scale.
func (s *server) scaleOf(req *request, obj runtime.Object) *autoscalingv1.Scale {
	m := accessor(obj)
	spec, status, sel := req.kind.Scale.Get(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: scaleGVK.Kind, APIVersion: scaleGVK.GroupVersion().String()},
		ObjectMeta: metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: sel},
	}
}

// writeScale serves PUT and PATCH of /scale: only the desired replica
// count moves, under the Scale's resourceVersion when it names one.
func (s *server) writeScale(w http.ResponseWriter, r *http.Request, req *request) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	scaleGR := schema.GroupResource{Group: req.gr.Group, Resource: req.gr.Resource + "/scale"}
	for attempt := 0; ; attempt++ {
		cur, rev, err := s.load(r, req)
		if err != nil {
			return err
		}
		sc, err := s.requestedScale(w, r, req, cur)
		if err != nil {
			return err
		}
		if sc.Name != "" && sc.Name != req.name {
			return badRequest("the name of the object (%s) does not match the name on the URL (%s)", sc.Name, req.name)
		}
		pinned := sc.ResourceVersion != "" && req.verb == "update"
		if pinned && sc.ResourceVersion != accessor(cur).GetResourceVersion() {
			return apierrors.NewConflict(scaleGR, req.name, errors.New(conflictMsg))
		}
		if sc.Spec.Replicas < 0 {
			return apierrors.NewInvalid(scaleGVK.GroupKind(), req.name, nil)
		}
		next := cur.DeepCopyObject()
		req.kind.Scale.Set(next, sc.Spec.Replicas)
		out, err := s.commit(r.Context(), req, cur, next, rev, dry)
		if apierrors.IsConflict(err) && !pinned && attempt < maxRetries {
			continue
		}
		if err != nil {
			return err
		}
		writeObject(w, r, http.StatusOK, s.scaleOf(req, out))
		return nil
	}
}

// requestedScale decodes a PUT's Scale, or applies a PATCH to the current one.
func (s *server) requestedScale(w http.ResponseWriter, r *http.Request, req *request, cur runtime.Object) (*autoscalingv1.Scale, error) {
	body := req.body
	if req.verb == "patch" {
		now, err := json.Marshal(s.scaleOf(req, cur))
		if err != nil {
			return nil, err
		}
		if body, err = applyPatch(r, now, req.body, &autoscalingv1.Scale{}); err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Header.Set("Content-Type", mediaJSON)
	}
	obj, err := decodeBody(w, r, body, nil, scaleGVK, &autoscalingv1.Scale{})
	if err != nil {
		return nil, err
	}
	return obj.(*autoscalingv1.Scale), nil
}

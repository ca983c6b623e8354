package apiserver

import (
	"context"
	"errors"
	"net/http"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/drover/drover/cluster/apiserver/kinds"
	"github.com/drover/drover/cluster/store"
)

// maxRetries bounds re-reads when a write without a precondition races
// another writer.
const maxRetries = 5

func dryRun(r *http.Request) (bool, error) {
	for _, v := range r.URL.Query()["dryRun"] {
		if v != "All" {
			return false, badRequest("dryRun must be All, not %q", v)
		}
		return true, nil
	}
	return false, nil
}

// nameFunc is the name rule of a kind: namespaces are DNS labels, services
// DNS-1035 labels, everything else DNS subdomains.
func nameFunc(k *kinds.Kind) apivalidation.ValidateNameFunc {
	switch {
	case k.GVK.Group == "" && k.Resource == "namespaces":
		return apivalidation.NameIsDNSLabel
	case k.GVK.Group == "" && k.Resource == "services":
		return apivalidation.NameIsDNS1035Label
	}
	return apivalidation.NameIsDNSSubdomain
}

// invalid builds the 422 Kubernetes returns for a failed validation.
func invalid(k *kinds.Kind, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(k.GVK.GroupKind(), name, errs)
}

// validate runs metadata validation and the kind's own.
func validate(k *kinds.Kind, obj, old runtime.Object) error {
	m := accessor(obj)
	errs := apivalidation.ValidateObjectMetaAccessor(m, k.Namespaced, nameFunc(k), field.NewPath("metadata"))
	if old != nil {
		errs = append(errs, apivalidation.ValidateObjectMetaAccessorUpdate(m, accessor(old), field.NewPath("metadata"))...)
	}
	if k.Validate != nil {
		errs = append(errs, k.Validate(obj, old)...)
	}
	if len(errs) > 0 {
		return invalid(k, m.GetName(), errs)
	}
	return nil
}

// checkNamespace refuses writes into a namespace that does not exist or is
// being deleted.
func (s *server) checkNamespace(ctx context.Context, req *request, name string) error {
	nsKind := s.kindFor("", "v1", "namespaces")
	if !req.kind.Namespaced || nsKind == nil {
		return nil
	}
	kv, err := s.cfg.Store.Get(ctx, objectKey(nsKind, "", req.namespace))
	if err != nil {
		return storeErr(err, nsKind.GVK.GroupVersion().WithResource("namespaces").GroupResource(), req.namespace)
	}
	obj, err := decodeKV(nsKind, kv)
	if err != nil {
		return err
	}
	terminating := accessor(obj).GetDeletionTimestamp() != nil
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceTerminating {
		terminating = true
	}
	if terminating {
		return apierrors.NewForbidden(req.gr, name, errors.New("unable to create new content in namespace "+req.namespace+" because it is being terminated"))
	}
	return nil
}

// hasSpec says whether a kind's objects carry a spec, which is what makes
// metadata.generation meaningful.
func hasSpec(m map[string]any) bool {
	_, ok := m["spec"]
	return ok
}

// create serves POST of a new object.
func (s *server) create(w http.ResponseWriter, r *http.Request, req *request) error {
	k := req.kind
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	obj, err := decodeBody(w, r, req.body, k, k.GVK, k.New())
	if err != nil {
		return err
	}
	m := accessor(obj)
	if k.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(req.namespace)
		} else if m.GetNamespace() != req.namespace {
			return badRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	if err := s.checkNamespace(r.Context(), req, m.GetName()); err != nil {
		return err
	}
	if err := s.prepareCreate(k, obj); err != nil {
		return err
	}
	// Admission before defaults: a pod's priority comes from its class,
	// and only then may defaults fill what is still unset.
	if err := s.admit(r.Context(), req, obj); err != nil {
		return err
	}
	if k.Default != nil {
		k.Default(obj)
	}
	for attempt := 0; ; attempt++ {
		if generated {
			m.SetName(m.GetGenerateName() + rand.String(5))
		}
		if err := validate(k, obj, nil); err != nil {
			return err
		}
		if dry {
			return s.respond(w, r, req, http.StatusCreated, obj)
		}
		val, err := encodeForStore(k, obj)
		if err != nil {
			return err
		}
		kv, err := s.cfg.Store.Create(r.Context(), objectKey(k, m.GetNamespace(), m.GetName()), val)
		if errors.Is(err, store.ErrExists) && generated && attempt < maxRetries {
			continue
		}
		if err != nil {
			return storeErr(err, req.gr, m.GetName())
		}
		setRV(obj, kv.Revision)
		return s.respond(w, r, req, http.StatusCreated, obj)
	}
}

// prepareCreate sets what the server owns on a new object: uid, creation
// time, generation 1 for objects with a spec, no deletion state, and an
// empty status where the status is written through /status (nodes report
// theirs when they register, so theirs is kept). Defaults come later,
// after admission.
func (s *server) prepareCreate(k *kinds.Kind, obj runtime.Object) error {
	m := accessor(obj)
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(metav1.NewTime(s.now()))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetGeneration(0)
	um, err := toMap(obj)
	if err != nil {
		return err
	}
	if k.HasStatus && !(k.GVK.Group == "" && k.Resource == "nodes") {
		if _, ok := um["status"]; ok {
			delete(um, "status")
			fresh, err := fromMap(k, um)
			if err != nil {
				return err
			}
			reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(fresh).Elem())
		}
	}
	if hasSpec(um) {
		accessor(obj).SetGeneration(1)
	}
	return nil
}

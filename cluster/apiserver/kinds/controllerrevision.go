package kinds

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// controllerRevisionKind is the DaemonSet controller's history of pod templates, which
// kubectl rollout history and undo read for DaemonSets.
func controllerRevisionKind() *Kind {
	return &Kind{
		GVK:        appsv1.SchemeGroupVersion.WithKind("ControllerRevision"),
		Resource:   "controllerrevisions",
		Singular:   "controllerrevision",
		Namespaced: true,
		New:        func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList:    func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Default:    func(runtime.Object) {},
		Validate:   validateControllerRevision,
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Controller", Type: "string", Description: "The controller that owns the revision."},
			{Name: "Revision", Type: "integer", Description: appsv1.ControllerRevision{}.SwaggerDoc()["revision"]},
			ageColumn,
		},
		Row: func(obj runtime.Object, now time.Time) []interface{} {
			r := obj.(*appsv1.ControllerRevision)
			controller := "<none>"
			if ref := metav1.GetControllerOf(r); ref != nil {
				controller = ref.Kind + "/" + ref.Name
			}
			return []interface{}{r.Name, controller, r.Revision, age(r.CreationTimestamp, now)}
		},
	}
}

func validateControllerRevision(obj, old runtime.Object) field.ErrorList {
	r, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return typeError("controllerrevision", obj)
	}
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		oldR, ok := old.(*appsv1.ControllerRevision)
		if !ok {
			return typeError("controllerrevision", old)
		}
		oldMeta = &oldR.ObjectMeta
		if string(oldR.Data.Raw) != string(r.Data.Raw) {
			return append(field.ErrorList{}, field.Forbidden(field.NewPath("data"), "field is immutable"))
		}
	}
	errs := validateMeta(&r.ObjectMeta, oldMeta, true, apivalidation.NameIsDNSSubdomain)
	return append(errs, validateNonNegative(r.Revision, field.NewPath("revision"))...)
}

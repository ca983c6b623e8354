package kinds

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func eventKind() *Kind {
	ev := corev1.Event{}.SwaggerDoc()
	return &Kind{
		GVK:        corev1.SchemeGroupVersion.WithKind("Event"),
		Resource:   "events",
		Singular:   "event",
		ShortNames: []string{"ev"},
		Namespaced: true,
		New:        func() runtime.Object { return &corev1.Event{} },
		NewList:    func() runtime.Object { return &corev1.EventList{} },
		Default:    func(runtime.Object) {},
		Validate:   validateEvent,
		Columns: []metav1.TableColumnDefinition{
			{Name: "Last Seen", Type: "string", Description: ev["lastTimestamp"]},
			{Name: "Type", Type: "string", Description: ev["type"]},
			{Name: "Reason", Type: "string", Description: ev["reason"]},
			{Name: "Object", Type: "string", Description: ev["involvedObject"]},
			{Name: "Subobject", Type: "string", Priority: 1, Description: corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]},
			{Name: "Source", Type: "string", Priority: 1, Description: ev["source"]},
			{Name: "Message", Type: "string", Description: ev["message"]},
			{Name: "First Seen", Type: "string", Priority: 1, Description: ev["firstTimestamp"]},
			{Name: "Count", Type: "string", Priority: 1, Description: ev["count"]},
			{Name: "Name", Type: "string", Priority: 1, Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		},
		Row:    func(obj runtime.Object, now time.Time) []interface{} { return eventRow(obj.(*corev1.Event), now) },
		Fields: func(obj runtime.Object) fields.Set { return eventFields(obj.(*corev1.Event)) },
	}
}

func validateEvent(obj, old runtime.Object) field.ErrorList {
	ev, ok := obj.(*corev1.Event)
	if !ok {
		return typeError("event", obj)
	}
	var oldMeta *metav1.ObjectMeta
	if old != nil {
		oldEv, ok := old.(*corev1.Event)
		if !ok {
			return typeError("event", old)
		}
		oldMeta = &oldEv.ObjectMeta
	}
	errs := validateMeta(&ev.ObjectMeta, oldMeta, true, apivalidation.NameIsDNSSubdomain)
	io := field.NewPath("involvedObject")
	if ns := ev.InvolvedObject.Namespace; ns != "" && ns != ev.Namespace {
		errs = append(errs, field.Invalid(io.Child("namespace"), ns, "does not match event.namespace"))
	}
	if ev.InvolvedObject.Kind == "" {
		errs = append(errs, field.Required(io.Child("kind"), ""))
	}
	switch ev.Type {
	case "", corev1.EventTypeNormal, corev1.EventTypeWarning:
	default:
		errs = append(errs, field.NotSupported(field.NewPath("type"), ev.Type, []string{corev1.EventTypeNormal, corev1.EventTypeWarning}))
	}
	if len(ev.Reason) > 128 {
		errs = append(errs, field.TooLong(field.NewPath("reason"), "", 128))
	}
	return errs
}

func eventFields(ev *corev1.Event) fields.Set {
	source := ev.Source.Component
	if source == "" {
		source = ev.ReportingController
	}
	return fields.Set{
		"involvedObject.kind":            ev.InvolvedObject.Kind,
		"involvedObject.namespace":       ev.InvolvedObject.Namespace,
		"involvedObject.name":            ev.InvolvedObject.Name,
		"involvedObject.uid":             string(ev.InvolvedObject.UID),
		"involvedObject.apiVersion":      ev.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": ev.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       ev.InvolvedObject.FieldPath,
		"reason":                         ev.Reason,
		"reportingComponent":             ev.ReportingController,
		"source":                         source,
		"type":                           ev.Type,
	}
}

// eventRow renders an event as kubectl get events does; events written
// through events.k8s.io carry their times and count in eventTime and
// series instead.
func eventRow(ev *corev1.Event, now time.Time) []interface{} {
	first := age(ev.FirstTimestamp, now)
	if ev.FirstTimestamp.IsZero() {
		first = microAge(ev.EventTime, now)
	}
	last := age(ev.LastTimestamp, now)
	if ev.LastTimestamp.IsZero() {
		last = first
	}
	count := ev.Count
	if ev.Series != nil {
		last = microAge(ev.Series.LastObservedTime, now)
		count = ev.Series.Count
	} else if count == 0 {
		count = 1
	}
	target := strings.ToLower(ev.InvolvedObject.Kind)
	if ev.InvolvedObject.Name != "" {
		target = fmt.Sprintf("%s/%s", target, ev.InvolvedObject.Name)
	}
	return []interface{}{
		last, ev.Type, ev.Reason, target, ev.InvolvedObject.FieldPath,
		eventSource(ev), strings.TrimSpace(ev.Message), first, int64(count), ev.Name,
	}
}

// eventSource is "component, host", from the legacy source or else from
// the reporting controller and instance.
func eventSource(ev *corev1.Event) string {
	component, host := ev.Source.Component, ev.Source.Host
	if component == "" {
		component = ev.ReportingController
	}
	if host == "" {
		host = ev.ReportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}

package kinds

import (
	"reflect"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// servedFields lists, per API struct, the JSON fields drover implements.
// A set field of a listed struct that is not named here is refused by name
// (refuseUnserved): a new field in k8s.io/api is refused until drover
// serves it, rather than accepted and ignored. Structs not listed here
// (Affinity, Toleration, TopologySpreadConstraint ...) are served whole.
var servedFields = map[reflect.Type][]string{
	reflect.TypeOf(corev1.PodSpec{}): {
		"containers", "initContainers", "volumes", "restartPolicy", "nodeSelector", "nodeName",
		"affinity", "tolerations", "topologySpreadConstraints", "priorityClassName", "priority",
		"preemptionPolicy", "schedulerName", "terminationGracePeriodSeconds", "activeDeadlineSeconds",
		"hostNetwork", "hostname", "subdomain", "dnsPolicy", "securityContext",
		"serviceAccountName", "serviceAccount", "enableServiceLinks",
	},
	reflect.TypeOf(corev1.Container{}): {
		"name", "image", "command", "args", "workingDir", "env", "ports", "resources",
		"livenessProbe", "readinessProbe", "startupProbe", "volumeMounts", "imagePullPolicy",
		"securityContext", "tty", "stdin", "stdinOnce", "terminationMessagePath", "terminationMessagePolicy",
	},
	reflect.TypeOf(corev1.EnvVar{}):               {"name", "value", "valueFrom"},
	reflect.TypeOf(corev1.EnvVarSource{}):         {"fieldRef"},
	reflect.TypeOf(corev1.ContainerPort{}):        {"name", "containerPort", "hostPort", "hostIP", "protocol"},
	reflect.TypeOf(corev1.ResourceRequirements{}): {"limits", "requests"},
	reflect.TypeOf(corev1.Probe{}):                {"exec", "httpGet", "tcpSocket", "initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold", "terminationGracePeriodSeconds"},
	reflect.TypeOf(corev1.VolumeMount{}):          {"name", "mountPath", "readOnly", "subPath"},
	reflect.TypeOf(corev1.SecurityContext{}):      {"privileged", "runAsUser", "runAsGroup", "readOnlyRootFilesystem", "capabilities"},
	reflect.TypeOf(corev1.Volume{}):               {"name", "emptyDir", "hostPath"},
	reflect.TypeOf(corev1.PodSecurityContext{}):   {"runAsUser", "runAsGroup", "fsGroup", "supplementalGroups", "sysctls"},
	reflect.TypeOf(corev1.EmptyDirVolumeSource{}): {"medium", "sizeLimit"},
	reflect.TypeOf(corev1.HostPathVolumeSource{}): {"path", "type"},
	reflect.TypeOf(corev1.HTTPGetAction{}):        {"path", "port", "host", "scheme", "httpHeaders"},
	reflect.TypeOf(batchv1.JobSpec{}): {
		"parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "selector", "manualSelector",
		"template", "ttlSecondsAfterFinished", "completionMode", "suspend", "podReplacementPolicy",
	},
}

// refuseUnserved walks v (a struct, pointer, slice or map of them) and
// returns a Forbidden error for each set field drover does not serve.
func refuseUnserved(v reflect.Value, p *field.Path) field.ErrorList {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return refuseUnserved(v.Elem(), p)
	case reflect.Slice:
		var errs field.ErrorList
		for i := 0; i < v.Len(); i++ {
			errs = append(errs, refuseUnserved(v.Index(i), p.Index(i))...)
		}
		return errs
	case reflect.Struct:
		return refuseUnservedStruct(v, p)
	}
	return nil
}

func refuseUnservedStruct(v reflect.Value, p *field.Path) field.ErrorList {
	served, listed := servedFields[v.Type()]
	if !listed {
		return nil
	}
	var errs field.ErrorList
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		name, inline := jsonName(f)
		if name == "-" {
			continue
		}
		if inline {
			// Embedded sources (Probe's handler, Volume's source) keep
			// the parent's path and the parent's list of served fields.
			errs = append(errs, refuseInline(fv, served, p)...)
			continue
		}
		if isEmpty(fv) {
			continue
		}
		if !contains(served, name) {
			errs = append(errs, forbidden(p.Child(name)))
			continue
		}
		errs = append(errs, refuseUnserved(fv, p.Child(name))...)
	}
	return errs
}

func refuseInline(v reflect.Value, served []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fv := v.Field(i)
		name, _ := jsonName(t.Field(i))
		if isEmpty(fv) {
			continue
		}
		if !contains(served, name) {
			errs = append(errs, forbidden(p.Child(name)))
			continue
		}
		errs = append(errs, refuseUnserved(fv, p.Child(name))...)
	}
	return errs
}

// jsonName is the field's name on the wire and whether it is inlined.
func jsonName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	name, opts, _ := strings.Cut(tag, ",")
	if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
		return "", true
	}
	if name == "" {
		name = f.Name
	}
	return name, false
}

// isEmpty treats an empty list or map like an absent one: "volumes: []"
// asks for nothing.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ServedFields returns, for the documentation and its test, each struct
// drover restricts with the fields it serves and the fields it refuses.
func ServedFields() map[string][2][]string {
	out := map[string][2][]string{}
	for t, served := range servedFields {
		var refused []string
		collect := func(st reflect.Type) {}
		collect = func(st reflect.Type) {
			for i := 0; i < st.NumField(); i++ {
				name, inline := jsonName(st.Field(i))
				if inline {
					collect(st.Field(i).Type)
					continue
				}
				if name != "-" && !contains(served, name) {
					refused = append(refused, name)
				}
			}
		}
		collect(t)
		s := append([]string(nil), served...)
		sort.Strings(s)
		sort.Strings(refused)
		out[t.Name()] = [2][]string{s, refused}
	}
	return out
}

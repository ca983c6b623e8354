package kinds

import (
	"fmt"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateOtherKinds(t *testing.T) {
	k := ByResource(All())
	type badCase struct {
		name    string
		obj     runtime.Object
		path    string
		errType field.ErrorType
		detail  string
	}
	good := map[string]runtime.Object{
		"deployments":     goodDeployment(),
		"replicasets":     goodReplicaSet(),
		"daemonsets":      goodDaemonSet(),
		"jobs":            goodJob(),
		"namespaces":      defaulted(k["namespaces"]).(*corev1.Namespace),
		"nodes":           &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}},
		"events":          &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1", Namespace: "default"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default"}, Type: "Normal"},
		"priorityclasses": &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000},
		"leases":          &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease"}},
	}
	good["namespaces"].(*corev1.Namespace).Name = "team"
	for res, obj := range good {
		if errs := k[res].Validate(obj, nil); len(errs) != 0 {
			t.Errorf("good %s refused: %v", res, errs)
		}
	}

	d := func(f func(*appsv1.Deployment)) runtime.Object { x := goodDeployment(); f(x); return x }
	rs := func(f func(*appsv1.ReplicaSet)) runtime.Object { x := goodReplicaSet(); f(x); return x }
	ds := func(f func(*appsv1.DaemonSet)) runtime.Object { x := goodDaemonSet(); f(x); return x }
	job := func(f func(*batchv1.Job)) runtime.Object { x := goodJob(); f(x); return x }
	zero := intstr.FromInt32(0)
	tests := map[string][]badCase{
		"deployments": {
			{"no selector", d(func(x *appsv1.Deployment) { x.Spec.Selector = nil }), "spec.selector", field.ErrorTypeRequired, ""},
			{"empty selector", d(func(x *appsv1.Deployment) { x.Spec.Selector = &metav1.LabelSelector{} }), "spec.selector", field.ErrorTypeInvalid, "empty selector"},
			{"selector mismatch", d(func(x *appsv1.Deployment) { x.Spec.Selector.MatchLabels["app"] = "db" }), "spec.template.metadata.labels", field.ErrorTypeInvalid, "does not match"},
			{"negative replicas", d(func(x *appsv1.Deployment) { x.Spec.Replicas = ptr(int32(-1)) }), "spec.replicas", field.ErrorTypeInvalid, ""},
			{"surge and unavailable 0", d(func(x *appsv1.Deployment) {
				x.Spec.Strategy.RollingUpdate.MaxSurge, x.Spec.Strategy.RollingUpdate.MaxUnavailable = &zero, &zero
			}), "spec.strategy.rollingUpdate.maxUnavailable", field.ErrorTypeInvalid, "may not be 0"},
			{"bad percent", d(func(x *appsv1.Deployment) { x.Spec.Strategy.RollingUpdate.MaxSurge = intOrPercent("lots") }), "spec.strategy.rollingUpdate.maxSurge", field.ErrorTypeInvalid, ""},
			{"template deadline", d(func(x *appsv1.Deployment) { x.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(5)) }), "spec.template.spec.activeDeadlineSeconds", field.ErrorTypeInvalid, "not Supported"},
			{"template restart never", d(func(x *appsv1.Deployment) { x.Spec.Template.Spec.RestartPolicy = "Never" }), "spec.template.spec.restartPolicy", field.ErrorTypeNotSupported, ""},
			{"template unserved field", d(func(x *appsv1.Deployment) {
				x.Spec.Template.Spec.Volumes[0].EmptyDir = nil
				x.Spec.Template.Spec.Volumes[0].Projected = &corev1.ProjectedVolumeSource{}
			}), "spec.template.spec.volumes[0].projected", field.ErrorTypeForbidden, notServed},
			{"template no image", d(func(x *appsv1.Deployment) { x.Spec.Template.Spec.Containers[0].Image = "" }), "spec.template.spec.containers[0].image", field.ErrorTypeRequired, ""},
		},
		"replicasets": {
			{"no selector", rs(func(x *appsv1.ReplicaSet) { x.Spec.Selector = nil }), "spec.selector", field.ErrorTypeRequired, ""},
			{"selector mismatch", rs(func(x *appsv1.ReplicaSet) { x.Spec.Template.Labels = nil }), "spec.template.metadata.labels", field.ErrorTypeInvalid, ""},
			{"negative replicas", rs(func(x *appsv1.ReplicaSet) { x.Spec.Replicas = ptr(int32(-2)) }), "spec.replicas", field.ErrorTypeInvalid, ""},
		},
		"daemonsets": {
			{"empty selector", ds(func(x *appsv1.DaemonSet) { x.Spec.Selector = &metav1.LabelSelector{} }), "spec.selector", field.ErrorTypeInvalid, "daemonset"},
			{"surge and unavailable 0", ds(func(x *appsv1.DaemonSet) { x.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &zero }), "spec.updateStrategy.rollingUpdate.maxUnavailable", field.ErrorTypeInvalid, ""},
			{"strategy type", ds(func(x *appsv1.DaemonSet) { x.Spec.UpdateStrategy.Type = "Sometimes" }), "spec.updateStrategy.type", field.ErrorTypeNotSupported, ""},
		},
		"jobs": {
			{"restart always", job(func(x *batchv1.Job) { x.Spec.Template.Spec.RestartPolicy = "Always" }), "spec.template.spec.restartPolicy", field.ErrorTypeNotSupported, ""},
			{"selector not generated", job(func(x *batchv1.Job) {
				x.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = "other"
				x.Spec.Template.Labels[batchv1.ControllerUidLabel] = "other"
			}), "spec.selector", field.ErrorTypeInvalid, "not auto-generated"},
			{"negative backoff", job(func(x *batchv1.Job) { x.Spec.BackoffLimit = ptr(int32(-1)) }), "spec.backoffLimit", field.ErrorTypeInvalid, ""},
			{"indexed", job(func(x *batchv1.Job) { x.Spec.CompletionMode = ptr(batchv1.IndexedCompletion) }), "spec.completionMode", field.ErrorTypeForbidden, notServed},
			{"pod failure policy", job(func(x *batchv1.Job) { x.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{} }), "spec.podFailurePolicy", field.ErrorTypeForbidden, notServed},
			{"zero deadline", job(func(x *batchv1.Job) { x.Spec.ActiveDeadlineSeconds = ptr(int64(0)) }), "spec.activeDeadlineSeconds", field.ErrorTypeInvalid, ""},
		},
		"namespaces": {
			{"not a label", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a.b"}}, "metadata.name", field.ErrorTypeInvalid, ""},
			{"phase", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Status: corev1.NamespaceStatus{Phase: "Gone"}}, "status.phase", field.ErrorTypeNotSupported, ""},
		},
		"nodes": {
			{"taint effect", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: "Never"}}}}, "spec.taints[0].effect", field.ErrorTypeNotSupported, ""},
			{"namespaced", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Namespace: "default"}}, "metadata.namespace", field.ErrorTypeForbidden, ""},
		},
		"events": {
			{"other namespace", &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "other"}}, "involvedObject.namespace", field.ErrorTypeInvalid, ""},
			{"type", &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod"}, Type: "Bad"}, "type", field.ErrorTypeNotSupported, ""},
		},
		"priorityclasses": {
			{"too high", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Value: 2000000000}, "value", field.ErrorTypeForbidden, ""},
			{"system prefix", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-x"}}, "metadata.name", field.ErrorTypeForbidden, "reserved"},
		},
		"leases": {
			{"zero duration", &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n", Namespace: "kube-node-lease"}, Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr(int32(0))}}, "spec.leaseDurationSeconds", field.ErrorTypeInvalid, ""},
		},
	}
	for res, cases := range tests {
		for _, tt := range cases {
			expectError(t, res+": "+tt.name, k[res].Validate(tt.obj, nil), tt.path, tt.errType, tt.detail)
		}
	}
	// A system class keeps its value.
	sys := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000}
	if errs := k["priorityclasses"].Validate(sys, nil); len(errs) != 0 {
		t.Errorf("system-node-critical refused: %v", errs)
	}
}

func TestValidateWorkloadUpdates(t *testing.T) {
	k := ByResource(All())
	withMeta := func(o runtime.Object) runtime.Object {
		m := o.(metav1.Object)
		m.SetUID("uid-1")
		m.SetResourceVersion("1")
		return o
	}
	tests := []struct {
		resource string
		old      runtime.Object
		change   func(runtime.Object)
		path     string // "" when allowed
	}{
		{"deployments", withMeta(goodDeployment()), func(o runtime.Object) { o.(*appsv1.Deployment).Spec.Replicas = ptr(int32(4)) }, ""},
		{"deployments", withMeta(goodDeployment()), func(o runtime.Object) { o.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Image = "nginx:2" }, ""},
		{"deployments", withMeta(goodDeployment()), func(o runtime.Object) {
			x := o.(*appsv1.Deployment)
			x.Spec.Selector.MatchLabels["tier"] = "x"
			x.Spec.Template.Labels["tier"] = "x"
		}, "spec.selector"},
		{"replicasets", withMeta(goodReplicaSet()), func(o runtime.Object) {
			x := o.(*appsv1.ReplicaSet)
			x.Spec.Selector.MatchLabels["tier"] = "x"
			x.Spec.Template.Labels["tier"] = "x"
		}, "spec.selector"},
		{"daemonsets", withMeta(goodDaemonSet()), func(o runtime.Object) {
			o.(*appsv1.DaemonSet).Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Exists"}}
		}, "spec.selector"},
		{"jobs", withMeta(goodJob()), func(o runtime.Object) { o.(*batchv1.Job).Spec.Suspend = ptr(true) }, ""},
		{"jobs", withMeta(goodJob()), func(o runtime.Object) { o.(*batchv1.Job).Spec.Template.Spec.Containers[0].Image = "x:2" }, "spec.template"},
		{"priorityclasses", withMeta(&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 10}), func(o runtime.Object) {
			o.(*schedulingv1.PriorityClass).Value = 11
		}, "value"},
	}
	for i, tt := range tests {
		obj := tt.old.DeepCopyObject()
		tt.change(obj)
		errs := k[tt.resource].Validate(obj, tt.old)
		if tt.path == "" {
			if len(errs) != 0 {
				t.Errorf("%d %s: update refused: %v", i, tt.resource, errs)
			}
			continue
		}
		found := false
		for _, e := range errs {
			found = found || e.Field == tt.path
		}
		if !found {
			t.Errorf("%d %s: want an error at %s, got %v", i, tt.resource, tt.path, errs)
		}
	}
}

// docs/cluster-api.md lists, per restricted struct, exactly the fields
// served and refused: a field added to k8s.io/api (refused until served)
// fails this test until the table says so.
func TestServedFieldsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/cluster-api.md")
	if err != nil {
		t.Fatal(err)
	}
	sf := ServedFields()
	if pod := sf["PodSpec"]; !contains(pod[0], "containers") || !contains(pod[1], "imagePullSecrets") {
		t.Fatalf("PodSpec served %v refused %v", pod[0], pod[1])
	}
	for name, f := range sf {
		row := fmt.Sprintf("| %s | %s | %s |", name, strings.Join(f[0], ", "), strings.Join(f[1], ", "))
		if !strings.Contains(string(doc), row+"\n") {
			t.Errorf("docs/cluster-api.md lacks the row\n%s", row)
		}
	}
}

func TestResolvePodPriority(t *testing.T) {
	never := corev1.PreemptNever
	high := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000, PreemptionPolicy: &never}
	def := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "normal"}, Value: 10, GlobalDefault: true}
	classes := []*schedulingv1.PriorityClass{high, def}
	lookup := func(name string) (*schedulingv1.PriorityClass, bool) {
		for _, c := range classes {
			if c.Name == name {
				return c, true
			}
		}
		return nil, false
	}
	tests := []struct {
		name      string
		class     string
		priority  *int32
		classes   []*schedulingv1.PriorityClass
		want      int32
		wantClass string
		wantErr   string // path of the error, "" for none
	}{
		{"named class", "high", nil, classes, 1000, "high", ""},
		{"global default", "", nil, classes, 10, "normal", ""},
		{"no default", "", nil, classes[:1], 0, "", ""},
		{"unknown class", "nope", nil, classes, 0, "", "spec.priorityClassName"},
		{"conflicting priority", "high", ptr(int32(5)), classes, 0, "", "spec.priority"},
		{"matching priority", "high", ptr(int32(1000)), classes, 1000, "high", ""},
	}
	for _, tt := range tests {
		pod := goodPod()
		pod.Spec.Priority, pod.Spec.PriorityClassName = tt.priority, tt.class
		errs := ResolvePodPriority(pod, lookup, tt.classes)
		if tt.wantErr != "" {
			if len(errs) != 1 || errs[0].Field != tt.wantErr {
				t.Errorf("%s: errors %v, want one at %s", tt.name, errs, tt.wantErr)
			}
			continue
		}
		if len(errs) != 0 || *pod.Spec.Priority != tt.want || pod.Spec.PriorityClassName != tt.wantClass {
			t.Errorf("%s: priority %v class %q errors %v", tt.name, *pod.Spec.Priority, pod.Spec.PriorityClassName, errs)
		}
		if tt.class == "high" && *pod.Spec.PreemptionPolicy != corev1.PreemptNever {
			t.Errorf("%s: preemption policy %s", tt.name, *pod.Spec.PreemptionPolicy)
		}
	}
}

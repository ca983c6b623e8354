package kinds

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

func TestAllKindsDescribeKubernetes(t *testing.T) {
	want := map[string]struct {
		short      []string
		all        bool
		namespaced bool
		status     bool
		scale      bool
	}{
		"namespaces":          {short: []string{"ns"}, status: true},
		"nodes":               {short: []string{"no"}, status: true},
		"pods":                {short: []string{"po"}, all: true, namespaced: true, status: true},
		"events":              {short: []string{"ev"}, namespaced: true},
		"deployments":         {short: []string{"deploy"}, all: true, namespaced: true, status: true, scale: true},
		"replicasets":         {short: []string{"rs"}, all: true, namespaced: true, status: true, scale: true},
		"daemonsets":          {short: []string{"ds"}, all: true, namespaced: true, status: true},
		"jobs":                {all: true, namespaced: true, status: true},
		"priorityclasses":     {short: []string{"pc"}},
		"leases":              {namespaced: true},
		"controllerrevisions": {namespaced: true},
	}
	ks := All()
	if len(ks) != len(want) {
		t.Fatalf("All() has %d kinds, want %d", len(ks), len(want))
	}
	for _, k := range ks {
		w, ok := want[k.Resource]
		if !ok {
			t.Errorf("unexpected kind %s", k.Resource)
			continue
		}
		if got := k.ShortNames; len(got) != len(w.short) || (len(got) > 0 && got[0] != w.short[0]) {
			t.Errorf("%s: short names %v, want %v", k.Resource, got, w.short)
		}
		if got := len(k.Categories) == 1 && k.Categories[0] == "all"; got != w.all {
			t.Errorf("%s: categories %v, want all=%v", k.Resource, k.Categories, w.all)
		}
		if k.Namespaced != w.namespaced || k.HasStatus != w.status || (k.Scale != nil) != w.scale {
			t.Errorf("%s: namespaced %v status %v scale %v, want %v %v %v", k.Resource, k.Namespaced, k.HasStatus, k.Scale != nil, w.namespaced, w.status, w.scale)
		}
		for _, obj := range []runtime.Object{k.New(), k.NewList()} {
			gvks, _, err := scheme.Scheme.ObjectKinds(obj)
			if err != nil {
				t.Errorf("%s: %T not in client-go's scheme: %v", k.Resource, obj, err)
				continue
			}
			if gvks[0].GroupVersion() != k.GVK.GroupVersion() {
				t.Errorf("%s: %T is %v, want %v", k.Resource, obj, gvks[0], k.GVK)
			}
		}
		if gvks, _, _ := scheme.Scheme.ObjectKinds(k.New()); len(gvks) > 0 && gvks[0] != k.GVK {
			t.Errorf("%s: New makes %v, want %v", k.Resource, gvks[0], k.GVK)
		}
		if k.Default == nil || k.Validate == nil || k.Row == nil || k.Fields == nil || len(k.Columns) == 0 {
			t.Errorf("%s: missing Default, Validate, Row, Fields or Columns", k.Resource)
		}
	}
}

// Every kind's row has one cell per column, for an empty object and for a
// defaulted one.
func TestRowsMatchColumns(t *testing.T) {
	now := time.Now()
	for _, k := range All() {
		for _, obj := range []runtime.Object{k.New(), defaulted(k)} {
			row := k.Row(obj, now)
			if len(row) != len(k.Columns) {
				t.Errorf("%s: %d cells for %d columns", k.Resource, len(row), len(k.Columns))
			}
		}
	}
}

func defaulted(k *Kind) runtime.Object {
	obj := k.New()
	k.Default(obj)
	return obj
}

func TestScale(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	DefaultDeployment(d)
	d.Status.Replicas = 3
	k := ByResource(All())["deployments"]
	spec, status, sel := k.Scale.Get(d)
	if spec != 1 || status != 3 || sel != "app=web" {
		t.Fatalf("Get = %d %d %q, want 1 3 app=web", spec, status, sel)
	}
	k.Scale.Set(d, 5)
	if *d.Spec.Replicas != 5 {
		t.Fatalf("replicas %d after Set(5)", *d.Spec.Replicas)
	}
	rs := &appsv1.ReplicaSet{}
	ByResource(All())["replicasets"].Scale.Set(rs, 2)
	if spec, _, _ := ByResource(All())["replicasets"].Scale.Get(rs); spec != 2 {
		t.Fatalf("replicaset scale %d, want 2", spec)
	}
}

func TestFields(t *testing.T) {
	k := ByResource(All())
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1", RestartPolicy: "Always", SchedulerName: "default-scheduler"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.0.0.5"}}, NominatedNodeName: "n2"}}
	ev := &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", Namespace: "default", UID: "u1"},
		Reason: "Scheduled", Type: "Normal", Source: corev1.EventSource{Component: "default-scheduler"}}
	tests := []struct {
		resource string
		obj      runtime.Object
		want     map[string]string
	}{
		{"pods", pod, map[string]string{"spec.nodeName": "n1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
			"spec.serviceAccountName": "", "status.phase": "Running", "status.podIP": "10.0.0.5", "status.nominatedNodeName": "n2"}},
		{"events", ev, map[string]string{"involvedObject.kind": "Pod", "involvedObject.name": "web", "involvedObject.namespace": "default",
			"involvedObject.uid": "u1", "reason": "Scheduled", "type": "Normal", "source": "default-scheduler"}},
		{"nodes", &corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}}, map[string]string{"spec.unschedulable": "true"}},
		{"namespaces", &corev1.Namespace{Status: corev1.NamespaceStatus{Phase: "Active"}}, map[string]string{"status.phase": "Active"}},
		{"leases", &coordinationv1.Lease{}, map[string]string{}},
	}
	for _, tt := range tests {
		got := k[tt.resource].Fields(tt.obj)
		for f, v := range tt.want {
			if g, ok := got[f]; !ok || g != v {
				t.Errorf("%s: field %s = %q (present %v), want %q", tt.resource, f, g, ok, v)
			}
		}
	}
}

func TestDefaultsOfOtherKinds(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}
	DefaultNamespace(ns)
	if ns.Status.Phase != corev1.NamespaceActive || len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != "kubernetes" ||
		ns.Labels["kubernetes.io/metadata.name"] != "team" {
		t.Errorf("namespace defaults: %+v %+v %v", ns.Status, ns.Spec, ns.Labels)
	}
	// A terminating namespace whose finalizer the controller removed
	// keeps it removed.
	ns.Status.Phase = corev1.NamespaceTerminating
	ns.Spec.Finalizers = nil
	DefaultNamespace(ns)
	if len(ns.Spec.Finalizers) != 0 {
		t.Errorf("finalizers put back on update: %v", ns.Spec.Finalizers)
	}

	pc := &schedulingv1.PriorityClass{}
	DefaultPriorityClass(pc)
	if pc.PreemptionPolicy == nil || *pc.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("priorityclass preemptionPolicy %v", pc.PreemptionPolicy)
	}

	ds := &appsv1.DaemonSet{}
	DefaultDaemonSet(ds)
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil ||
		ru.MaxUnavailable.String() != "1" || ru.MaxSurge.String() != "0" || *ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("daemonset defaults: %+v", ds.Spec)
	}

	d := &appsv1.Deployment{}
	DefaultDeployment(d)
	dru := d.Spec.Strategy.RollingUpdate
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || dru == nil ||
		dru.MaxSurge.String() != "25%" || dru.MaxUnavailable.String() != "25%" ||
		*d.Spec.RevisionHistoryLimit != 10 || *d.Spec.ProgressDeadlineSeconds != 600 ||
		d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("deployment defaults: %+v", d.Spec)
	}
	// Recreate gets no rolling update parameters.
	d = &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	DefaultDeployment(d)
	if d.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("recreate deployment got rollingUpdate %+v", d.Spec.Strategy.RollingUpdate)
	}

	rs := &appsv1.ReplicaSet{}
	DefaultReplicaSet(rs)
	if *rs.Spec.Replicas != 1 {
		t.Errorf("replicaset replicas %d", *rs.Spec.Replicas)
	}

	node := &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: mustQ("4")}}}
	DefaultNode(node)
	if q := node.Status.Allocatable[corev1.ResourceCPU]; q.String() != "4" {
		t.Errorf("node allocatable %v", node.Status.Allocatable)
	}
}

func TestDefaultJob(t *testing.T) {
	tests := []struct {
		name                     string
		completions, parallelism *int32
		wantC, wantP             *int32
	}{
		{"both unset", nil, nil, ptr(int32(1)), ptr(int32(1))},
		{"completions set", ptr(int32(5)), nil, ptr(int32(5)), ptr(int32(1))},
		{"parallelism set", nil, ptr(int32(3)), nil, ptr(int32(3))},
	}
	for _, tt := range tests {
		j := &batchv1.Job{Spec: batchv1.JobSpec{Completions: tt.completions, Parallelism: tt.parallelism}}
		DefaultJob(j)
		if !eqPtr(j.Spec.Completions, tt.wantC) || !eqPtr(j.Spec.Parallelism, tt.wantP) {
			t.Errorf("%s: completions %v parallelism %v", tt.name, j.Spec.Completions, j.Spec.Parallelism)
		}
		if *j.Spec.BackoffLimit != 6 || *j.Spec.CompletionMode != batchv1.NonIndexedCompletion || *j.Spec.Suspend {
			t.Errorf("%s: backoffLimit %d completionMode %s suspend %v", tt.name, *j.Spec.BackoffLimit, *j.Spec.CompletionMode, *j.Spec.Suspend)
		}
	}
}

func TestGenerateJobSelector(t *testing.T) {
	j := goodJob()
	j.Spec.Selector = nil
	j.Spec.Template.Labels = nil
	GenerateJobSelector(j)
	if got := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; got != "uid-1" {
		t.Fatalf("selector %v", j.Spec.Selector)
	}
	for _, l := range []string{"job-name", "batch.kubernetes.io/job-name"} {
		if j.Spec.Template.Labels[l] != "pi" {
			t.Errorf("template label %s = %q", l, j.Spec.Template.Labels[l])
		}
	}
	DefaultJob(j)
	if errs := validateJob(j, nil); len(errs) != 0 {
		t.Fatalf("generated job invalid: %v", errs)
	}
	// A manual selector is left alone.
	m := goodJob()
	m.Spec.ManualSelector = ptr(true)
	before := m.Spec.Selector.String()
	GenerateJobSelector(m)
	if m.Spec.Selector.String() != before {
		t.Errorf("manual selector changed to %v", m.Spec.Selector)
	}
}

func eqPtr(a, b *int32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

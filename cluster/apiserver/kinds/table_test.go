package kinds

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func running(name string, ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Minute)}}}
}

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name, reason string, code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}}
}

func TestPodRows(t *testing.T) {
	base := func(f func(p *corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(5 * time.Hour)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status:     corev1.PodStatus{Phase: corev1.PodPending},
		}
		f(p)
		return p
	}
	crashed := running("a", false, 5)
	crashed.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	crashed.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(5 * time.Minute), ExitCode: 1}}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []interface{}
	}{
		{"pending", base(func(p *corev1.Pod) {}),
			[]interface{}{"web", "0/1", "Pending", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"creating", base(func(p *corev1.Pod) {
			p.Spec.NodeName = "n1"
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("a", "ContainerCreating")}
		}), []interface{}{"web", "0/1", "ContainerCreating", "0", "5h", "<none>", "n1", "<none>", "<none>"}},
		{"running", base(func(p *corev1.Pod) {
			p.Spec.NodeName = "n1"
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b"})
			p.Status.Phase = corev1.PodRunning
			p.Status.PodIP, p.Status.PodIPs = "10.0.0.7", []corev1.PodIP{{IP: "10.0.0.7"}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("a", true, 0), running("b", false, 0)}
		}), []interface{}{"web", "1/2", "Running", "0", "5h", "10.0.0.7", "n1", "<none>", "<none>"}},
		{"crash loop", base(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{crashed}
		}), []interface{}{"web", "0/1", "CrashLoopBackOff", "5 (5m ago)", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"completed", base(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodSucceeded
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("a", "Completed", 0)}
		}), []interface{}{"web", "0/1", "Completed", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"error", base(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("a", "Error", 2)}
		}), []interface{}{"web", "0/1", "Error", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"exit code without reason", base(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("a", "", 137)}
		}), []interface{}{"web", "0/1", "ExitCode:137", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"one completed one running", base(func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b"})
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("a", "Completed", 0), running("b", true, 0)}
		}), []interface{}{"web", "1/2", "Running", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"terminating", base(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.DeletionTimestamp = &metav1.Time{Time: now}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("a", true, 0)}
		}), []interface{}{"web", "1/1", "Terminating", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"first init container", base(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{running("i", false, 0)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("a", "PodInitializing")}
		}), []interface{}{"web", "0/1", "Init:0/1", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"second of two init containers", base(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i"}, {Name: "j"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("i", "Completed", 0), running("j", false, 0)}
		}), []interface{}{"web", "0/1", "Init:1/2", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"init container failed", base(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("i", "Error", 1)}
		}), []interface{}{"web", "0/1", "Init:Error", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"init crash loop", base(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{waiting("i", "CrashLoopBackOff")}
		}), []interface{}{"web", "0/1", "Init:CrashLoopBackOff", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"evicted", base(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.Reason = "Evicted"
		}), []interface{}{"web", "0/1", "Evicted", "0", "5h", "<none>", "<none>", "<none>", "<none>"}},
		{"nominated", base(func(p *corev1.Pod) { p.Status.NominatedNodeName = "n3" }),
			[]interface{}{"web", "0/1", "Pending", "0", "5h", "<none>", "<none>", "n3", "<none>"}},
		{"unknown age", base(func(p *corev1.Pod) { p.CreationTimestamp = metav1.Time{} }),
			[]interface{}{"web", "0/1", "Pending", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"}},
	}
	for _, tt := range tests {
		got := podRow(tt.pod, now)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s:\n got %v\nwant %v", tt.name, got, tt.want)
		}
	}
}

func TestOtherRows(t *testing.T) {
	k := ByResource(All())
	created := metav1.ObjectMeta{Name: "x", CreationTimestamp: ago(3*24*time.Hour + 4*time.Hour)}
	d := goodDeployment()
	d.ObjectMeta = created
	d.Spec.Replicas = ptr(int32(3))
	d.Status = appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}
	rs := goodReplicaSet()
	rs.ObjectMeta = created
	rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1}
	ds := goodDaemonSet()
	ds.ObjectMeta = created
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2}
	job := goodJob()
	job.ObjectMeta = created
	start, done := ago(10*time.Minute), ago(8*time.Minute)
	job.Status = batchv1.JobStatus{Succeeded: 1, StartTime: &start, CompletionTime: &done,
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
	runningJob := goodJob()
	runningJob.ObjectMeta = created
	runningJob.Spec.Completions = nil
	runningJob.Spec.Parallelism = ptr(int32(3))
	runningJob.Status = batchv1.JobStatus{StartTime: &start}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: ago(90 * time.Second),
		Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": ""}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.32.0-drover", OSImage: "Debian 12", KernelVersion: "6.1.0", ContainerRuntimeVersion: "drover://0.1"}}}
	notReady := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2", CreationTimestamp: ago(time.Hour)},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", CreationTimestamp: ago(time.Hour)}, Status: corev1.NamespaceStatus{Phase: "Active"}}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.17a"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{a}"},
		Reason: "Pulled", Type: "Normal", Message: "Successfully pulled image\n", Count: 3, FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(30 * time.Second),
		Source: corev1.EventSource{Component: "kubelet", Host: "n1"}}
	newEv := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.17b"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web"},
		Reason: "Scheduled", Type: "Normal", EventTime: metav1.NewMicroTime(now.Add(-2 * time.Minute)), ReportingController: "default-scheduler"}
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high", CreationTimestamp: ago(time.Hour)}, Value: 1000, GlobalDefault: true}
	DefaultPriorityClass(pc)
	holder := "n1"
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: ago(time.Hour)}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}

	tests := []struct {
		resource string
		obj      runtime.Object
		want     string
	}{
		{"deployments", d, "[x 2/3 3 2 3d4h web nginx:1.27 app=web]"},
		{"replicasets", rs, "[x 1 1 1 3d4h web nginx:1.27 app=web]"},
		{"daemonsets", ds, "[x 3 3 2 3 2 disk=ssd 3d4h web nginx:1.27 app=web]"},
		{"jobs", job, "[x Complete 1/1 2m 3d4h web nginx:1.27 batch.kubernetes.io/controller-uid=uid-1]"},
		{"jobs", runningJob, "[x Running 0/1 of 3 10m 3d4h web nginx:1.27 batch.kubernetes.io/controller-uid=uid-1]"},
		{"nodes", node, "[n1 Ready,SchedulingDisabled control-plane,worker 90s v1.32.0-drover 192.168.1.10 <none> Debian 12 6.1.0 drover://0.1]"},
		{"nodes", notReady, "[n2 NotReady <none> 60m  <none> <none> <unknown> <unknown> <unknown>]"},
		{"namespaces", ns, "[team Active 60m]"},
		{"events", ev, "[30s Normal Pulled pod/web spec.containers{a} kubelet, n1 Successfully pulled image 10m 3 web.17a]"},
		{"events", newEv, "[2m Normal Scheduled pod/web  default-scheduler  2m 1 web.17b]"},
		{"priorityclasses", pc, "[high 1000 true 60m PreemptLowerPriority]"},
		{"leases", lease, "[n1 n1 60m]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(k[tt.resource].Row(tt.obj, now)); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.resource, got, tt.want)
		}
	}
}

package scheduler

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/cluster/kube"
)

// recorder writes core/v1 Events about pods, as kube-scheduler reports
// under the component default-scheduler.
type recorder struct {
	client    kube.Interface
	component string
	instance  string
}

// record creates an Event; failures are dropped, as events are best effort.
func (r *recorder) record(ctx context.Context, pod *corev1.Pod, typ, reason, action, msg string) {
	now := time.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()),
			Namespace: pod.Namespace,
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion,
		},
		Reason:              reason,
		Message:             msg,
		Type:                typ,
		Source:              corev1.EventSource{Component: r.component},
		FirstTimestamp:      metav1.NewTime(now),
		LastTimestamp:       metav1.NewTime(now),
		Count:               1,
		EventTime:           metav1.NewMicroTime(now),
		Action:              action,
		ReportingController: r.component,
		ReportingInstance:   r.instance,
	}
	_, _ = r.client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{})
}

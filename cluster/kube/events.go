package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// NewBroadcaster starts an event broadcaster that writes Events through c; the caller
// Shutdown()s it when done.
func NewBroadcaster(c Interface) record.EventBroadcaster {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(eventSink{c.CoreV1()})
	return b
}

// Recorder is a recorder whose events name component as their source.
func Recorder(b record.EventBroadcaster, component string) record.EventRecorder {
	return b.NewRecorder(Scheme(), corev1.EventSource{Component: component})
}

// eventSink writes the broadcaster's Events in their own namespaces.
type eventSink struct{ c CoreV1Interface }

func (s eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	return s.c.Events(e.Namespace).Create(context.TODO(), e, metav1.CreateOptions{})
}

func (s eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	return s.c.Events(e.Namespace).Update(context.TODO(), e, metav1.UpdateOptions{})
}

func (s eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	return s.c.Events(e.Namespace).Patch(context.TODO(), e.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{})
}

package ctrlutil

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// NewBroadcaster starts an event broadcaster that writes Events through the
// clientset; the caller Shutdown()s it when done.
func NewBroadcaster(c kubernetes.Interface) record.EventBroadcaster {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.CoreV1().Events("")})
	return b
}

// Recorder is a recorder whose events name component as their source.
func Recorder(b record.EventBroadcaster, component string) record.EventRecorder {
	return b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}

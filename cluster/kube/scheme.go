package kube

import (
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

var (
	schemeOnce     sync.Once
	scheme         *runtime.Scheme
	codecs         serializer.CodecFactory
	parameterCodec runtime.ParameterCodec
)

// Scheme knows the groups the cluster's API serves and no others. It is made on first use:
// client-go's scheme registers every Kubernetes group at init, and every drover process
// (the CLI, each container's init) paid for it.
func Scheme() *runtime.Scheme {
	schemeOnce.Do(func() {
		scheme = runtime.NewScheme()
		metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
		groups := runtime.SchemeBuilder{
			corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, coordinationv1.AddToScheme,
			schedulingv1.AddToScheme, policyv1.AddToScheme, autoscalingv1.AddToScheme,
		}
		utilruntime.Must(groups.AddToScheme(scheme))
		codecs = serializer.NewCodecFactory(scheme)
		parameterCodec = runtime.NewParameterCodec(scheme)
	})
	return scheme
}

// Codecs encodes and decodes the kinds of Scheme.
func Codecs() serializer.CodecFactory { Scheme(); return codecs }

// ParameterCodec encodes query options (ListOptions and the like).
func ParameterCodec() runtime.ParameterCodec { Scheme(); return parameterCodec }

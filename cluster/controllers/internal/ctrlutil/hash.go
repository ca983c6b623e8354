package ctrlutil

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/dump"
)

// TemplateHash is the pod-template-hash label value Kubernetes gives the
// ReplicaSet of a template: FNV-32a over the template's deep dump (the same
// printer kube-controller-manager hashes with), the collision count mixed in
// when set, the decimal sum rendered in the safe alphabet. Matching it lets
// ReplicaSets made by kube-controller-manager be recognised, and names
// look the same.
func TemplateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*t))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

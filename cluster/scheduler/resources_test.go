package scheduler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// TestPodRequestsFastPath: the shortcut for plain pods agrees with
// component-helpers' computation.
func TestPodRequestsFastPath(t *testing.T) {
	two := pod("p", "250m", "", func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("1Gi"), "example.com/gpu": resource.MustParse("2"), corev1.ResourceCPU: resource.MustParse("0"),
		}}})
	})
	for _, p := range []*corev1.Pod{pod("empty", "", ""), pod("cpu", "1", ""), pod("both", "300m", "512Mi"), two} {
		if !simplePod(p) {
			t.Fatalf("%s: not taken as simple", p.Name)
		}
		req, cpu, mem := podRequests(p)
		wantReq := resourcesFromList(resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}))
		nz := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: nonMissing})
		if req.milliCPU != wantReq.milliCPU || req.memory != wantReq.memory || req.ephemeral != wantReq.ephemeral || len(req.scalar) != len(wantReq.scalar) {
			t.Errorf("%s: requests %+v, want %+v", p.Name, req, wantReq)
		}
		for k, v := range wantReq.scalar {
			if req.scalar[k] != v {
				t.Errorf("%s: %s = %d, want %d", p.Name, k, req.scalar[k], v)
			}
		}
		if cpu != nz.Cpu().MilliValue() || mem != nz.Memory().Value() {
			t.Errorf("%s: non-zero %d/%d, want %d/%d", p.Name, cpu, mem, nz.Cpu().MilliValue(), nz.Memory().Value())
		}
	}
}

package deployment

import (
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover/drover/cluster/controllers/internal/ctrlutil"
)

// Annotations the controller keeps on Deployments and ReplicaSets.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	HashLabel                 = appsv1.DefaultDeploymentUniqueLabelKey // pod-template-hash
)

// notCopied are Deployment annotations that describe the Deployment itself,
// not the template's revision, so they stay off its ReplicaSets.
var notCopied = map[string]bool{
	"kubectl.kubernetes.io/last-applied-configuration": true,
	RevisionAnnotation:                  true,
	RevisionHistoryAnnotation:           true,
	DesiredReplicasAnnotation:           true,
	MaxReplicasAnnotation:               true,
	"deprecated.deployment.rollback.to": true,
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func revision(rs *appsv1.ReplicaSet) int64 {
	v, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// sameTemplate compares templates ignoring the pod-template-hash label, as
// a ReplicaSet's template carries it and the Deployment's does not.
func sameTemplate(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, HashLabel)
	delete(b.Labels, HashLabel)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

// surgeAndUnavailable resolves the rolling update bounds: surge rounds up,
// unavailable rounds down, and both zero would deadlock so unavailable
// becomes 1.
func surgeAndUnavailable(d *appsv1.Deployment) (int32, int32) {
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		return 0, 0
	}
	want := int(replicas(d.Spec.Replicas))
	def := intstr.FromString("25%")
	ms, mu := &def, &def
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			ms = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			mu = ru.MaxUnavailable
		}
	}
	surge, err := intstr.GetScaledValueFromIntOrPercent(ms, want, true)
	if err != nil {
		surge = 0
	}
	unavail, err := intstr.GetScaledValueFromIntOrPercent(mu, want, false)
	if err != nil {
		unavail = 0
	}
	if surge == 0 && unavail == 0 {
		unavail = 1
	}
	if unavail > want {
		unavail = want
	}
	return int32(surge), int32(unavail)
}

func sumSpec(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += replicas(rs.Spec.Replicas)
		}
	}
	return n
}

func sumStatus(rss []*appsv1.ReplicaSet, f func(appsv1.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(rs.Status)
		}
	}
	return n
}

func byCreation(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		a, b := rss[i], rss[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// addRevisionHistory appends old to the ReplicaSet's list of revisions it
// has been (a rollback makes an old ReplicaSet the newest revision).
func addRevisionHistory(ann map[string]string, old string) {
	if old == "" {
		return
	}
	h := ann[RevisionHistoryAnnotation]
	for _, r := range strings.Split(h, ",") {
		if r == old {
			return
		}
	}
	if h == "" {
		ann[RevisionHistoryAnnotation] = old
	} else {
		ann[RevisionHistoryAnnotation] = h + "," + old
	}
}

// TemplateHash is the pod-template-hash label value of a template (see
// ctrlutil.TemplateHash).
func TemplateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	return ctrlutil.TemplateHash(t, collisionCount)
}

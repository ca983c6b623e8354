package kinds

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestDefaultPod(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{
			{Name: "a", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 80}},
				Resources:     corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: mustQ("1"), corev1.ResourceMemory: mustQ("1Gi")}},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}}}},
			{Name: "b", Image: "nginx:latest"},
			{Name: "c", Image: "registry:5000/nginx:1.27"},
			{Name: "d", Image: "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			{Name: "e", Image: "registry:5000/nginx"},
		},
		Volumes: []corev1.Volume{{Name: "v"}, {Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}},
	}}
	DefaultPod(p)
	s := p.Spec
	checks := []struct {
		what      string
		got, want interface{}
	}{
		{"restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst},
		{"terminationGracePeriodSeconds", *s.TerminationGracePeriodSeconds, int64(30)},
		{"schedulerName", s.SchedulerName, "default-scheduler"},
		{"securityContext", s.SecurityContext.String(), (&corev1.PodSecurityContext{}).String()},
		{"enableServiceLinks", *s.EnableServiceLinks, true},
		{"priority", *s.Priority, int32(0)},
		{"pull untagged", s.Containers[0].ImagePullPolicy, corev1.PullAlways},
		{"pull latest", s.Containers[1].ImagePullPolicy, corev1.PullAlways},
		{"pull tagged with registry port", s.Containers[2].ImagePullPolicy, corev1.PullIfNotPresent},
		{"pull digest", s.Containers[3].ImagePullPolicy, corev1.PullIfNotPresent},
		{"pull untagged with registry port", s.Containers[4].ImagePullPolicy, corev1.PullAlways},
		{"terminationMessagePath", s.Containers[0].TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", s.Containers[0].TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"port protocol", s.Containers[0].Ports[0].Protocol, corev1.ProtocolTCP},
		{"probe timeout", s.Containers[0].LivenessProbe.TimeoutSeconds, int32(1)},
		{"probe period", s.Containers[0].LivenessProbe.PeriodSeconds, int32(10)},
		{"probe success", s.Containers[0].LivenessProbe.SuccessThreshold, int32(1)},
		{"probe failure", s.Containers[0].LivenessProbe.FailureThreshold, int32(3)},
		{"httpGet scheme", s.Containers[0].LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"httpGet path", s.Containers[0].LivenessProbe.HTTPGet.Path, "/"},
		{"requests from limits", s.Containers[0].Resources.Requests.Cpu().String(), "1"},
		{"memory request from limit", s.Containers[0].Resources.Requests.Memory().String(), "1Gi"},
		{"sourceless volume", s.Volumes[0].EmptyDir != nil, true},
		{"emptyDir medium", s.Volumes[0].EmptyDir.Medium, corev1.StorageMediumDefault},
		{"hostPath type", *s.Volumes[1].HostPath.Type, corev1.HostPathUnset},
		{"phase", p.Status.Phase, corev1.PodPending},
		{"qos", p.Status.QOSClass, corev1.PodQOSBurstable},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}

	// A priority class leaves the priority for the server to resolve.
	withClass := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: "high", Containers: []corev1.Container{{Name: "a", Image: "x:1"}}}}
	DefaultPod(withClass)
	if withClass.Spec.Priority != nil {
		t.Errorf("priority %d set despite priorityClassName", *withClass.Spec.Priority)
	}
	// Host network: the container port is the host's.
	hn := &corev1.Pod{Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Name: "a", Image: "x:1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
	DefaultPod(hn)
	if hn.Spec.Containers[0].Ports[0].HostPort != 8080 {
		t.Errorf("hostNetwork hostPort %d", hn.Spec.Containers[0].Ports[0].HostPort)
	}
	// Defaulting twice changes nothing.
	again := p.DeepCopy()
	DefaultPod(again)
	if again.String() != p.String() {
		t.Errorf("defaulting is not idempotent")
	}
}

func TestPodQOS(t *testing.T) {
	res := func(req, lim corev1.ResourceList) corev1.PodSpec {
		return corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}}}
	}
	both := corev1.ResourceList{corev1.ResourceCPU: mustQ("1"), corev1.ResourceMemory: mustQ("1Gi")}
	tests := []struct {
		name string
		spec corev1.PodSpec
		want corev1.PodQOSClass
	}{
		{"nothing", res(nil, nil), corev1.PodQOSBestEffort},
		{"requests only", res(corev1.ResourceList{corev1.ResourceCPU: mustQ("1")}, nil), corev1.PodQOSBurstable},
		{"equal limits", res(both, both), corev1.PodQOSGuaranteed},
		{"cpu limit only", res(nil, corev1.ResourceList{corev1.ResourceCPU: mustQ("1")}), corev1.PodQOSBurstable},
	}
	for _, tt := range tests {
		if got := podQOSClass(&tt.spec); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestValidatePod(t *testing.T) {
	if errs := validatePod(goodPod(), nil); len(errs) != 0 {
		t.Fatalf("good pod refused: %v", errs)
	}
	tests := []struct {
		name    string
		change  func(p *corev1.Pod)
		path    string
		errType field.ErrorType
		detail  string // substring of the error's detail, when it matters
	}{
		{"bad name", func(p *corev1.Pod) { p.Name = "Web_0" }, "metadata.name", field.ErrorTypeInvalid, ""},
		{"no namespace", func(p *corev1.Pod) { p.Namespace = "" }, "metadata.namespace", field.ErrorTypeRequired, ""},
		{"bad label", func(p *corev1.Pod) { p.Labels = map[string]string{"a b": "c"} }, "metadata.labels", field.ErrorTypeInvalid, ""},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, "spec.containers", field.ErrorTypeRequired, ""},
		{"container name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Web" }, "spec.containers[0].name", field.ErrorTypeInvalid, ""},
		{"duplicate with init", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "setup" }, "spec.containers[0].name", field.ErrorTypeDuplicate, ""},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, "spec.containers[0].image", field.ErrorTypeRequired, ""},
		{"port range", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, "spec.containers[0].ports[0].containerPort", field.ErrorTypeInvalid, ""},
		{"host port range", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = -1 }, "spec.containers[0].ports[0].hostPort", field.ErrorTypeInvalid, ""},
		{"protocol", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }, "spec.containers[0].ports[0].protocol", field.ErrorTypeNotSupported, ""},
		{"requests over limits", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = mustQ("1") },
			"spec.containers[0].resources.requests[cpu]", field.ErrorTypeInvalid, "must be less than or equal to cpu limit of 500m"},
		{"gpu", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = mustQ("1") },
			"spec.containers[0].resources.limits[nvidia.com/gpu]", field.ErrorTypeForbidden, notServed},
		{"restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy", field.ErrorTypeNotSupported, ""},
		{"pull policy", func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "Maybe" }, "spec.containers[0].imagePullPolicy", field.ErrorTypeNotSupported, ""},
		{"probe without handler", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe.HTTPGet = nil }, "spec.containers[0].livenessProbe", field.ErrorTypeRequired, "handler"},
		{"probe two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe.Exec = &corev1.ExecAction{Command: []string{"true"}}
		}, "spec.containers[0].readinessProbe", field.ErrorTypeForbidden, "more than 1 handler"},
		{"liveness success threshold", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe.SuccessThreshold = 2 }, "spec.containers[0].livenessProbe.successThreshold", field.ErrorTypeInvalid, "must be 1"},
		{"grpc probe", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}}
		}, "spec.containers[0].readinessProbe.grpc", field.ErrorTypeForbidden, notServed},
		{"duplicate volume", func(p *corev1.Pod) { p.Spec.Volumes[1].Name = "cache" }, "spec.volumes[1].name", field.ErrorTypeDuplicate, ""},
		{"mount of no volume", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "nope" }, "spec.containers[0].volumeMounts[0].name", field.ErrorTypeNotFound, ""},
		{"hostPath without path", func(p *corev1.Pod) { p.Spec.Volumes[1].HostPath.Path = "" }, "spec.volumes[1].hostPath.path", field.ErrorTypeRequired, ""},
		{"configMap volume", func(p *corev1.Pod) {
			p.Spec.Volumes[0].EmptyDir = nil
			p.Spec.Volumes[0].ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}
		}, "spec.volumes[0].configMap", field.ErrorTypeForbidden, notServed},
		{"secret volume", func(p *corev1.Pod) {
			p.Spec.Volumes[0].EmptyDir = nil
			p.Spec.Volumes[0].Secret = &corev1.SecretVolumeSource{SecretName: "s"}
		}, "spec.volumes[0].secret", field.ErrorTypeForbidden, notServed},
		{"pvc volume", func(p *corev1.Pod) {
			p.Spec.Volumes[0].EmptyDir = nil
			p.Spec.Volumes[0].PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}
		}, "spec.volumes[0].persistentVolumeClaim", field.ErrorTypeForbidden, notServed},
		{"env from secret", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[1].ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}
		}, "spec.containers[0].env[1].valueFrom.secretKeyRef", field.ErrorTypeForbidden, notServed},
		{"envFrom", func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "X_"}}
		}, "spec.containers[0].envFrom", field.ErrorTypeForbidden, notServed},
		{"env fieldRef path", func(p *corev1.Pod) { p.Spec.Containers[0].Env[1].ValueFrom.FieldRef.FieldPath = "metadata.labels" },
			"spec.containers[0].env[1].valueFrom.fieldRef.fieldPath", field.ErrorTypeNotSupported, ""},
		{"env both value and valueFrom", func(p *corev1.Pod) { p.Spec.Containers[0].Env[1].Value = "x" }, "spec.containers[0].env[1].valueFrom", field.ErrorTypeInvalid, ""},
		{"lifecycle", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"x"}}}}
		}, "spec.containers[0].lifecycle", field.ErrorTypeForbidden, notServed},
		{"container seccomp", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}, "spec.containers[0].securityContext.seccompProfile", field.ErrorTypeForbidden, notServed},
		{"pod runAsNonRoot", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsNonRoot = ptr(true) }, "spec.securityContext.runAsNonRoot", field.ErrorTypeForbidden, notServed},
		{"service account", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "builder" }, "spec.serviceAccountName", field.ErrorTypeForbidden, notServed},
		{"image pull secrets", func(p *corev1.Pod) { p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "reg"}} }, "spec.imagePullSecrets", field.ErrorTypeForbidden, notServed},
		{"ephemeral containers", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
		}, "spec.ephemeralContainers", field.ErrorTypeForbidden, notServed},
		{"readiness gates", func(p *corev1.Pod) {
			p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "x"}}
		}, "spec.readinessGates", field.ErrorTypeForbidden, notServed},
		{"host pid", func(p *corev1.Pod) { p.Spec.HostPID = true }, "spec.hostPID", field.ErrorTypeForbidden, notServed},
		{"toleration operator", func(p *corev1.Pod) { p.Spec.Tolerations[0].Operator = "Like" }, "spec.tolerations[0].operator", field.ErrorTypeNotSupported, ""},
		{"negative grace", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(-1)) }, "spec.terminationGracePeriodSeconds", field.ErrorTypeInvalid, ""},
		{"zero deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(0)) }, "spec.activeDeadlineSeconds", field.ErrorTypeInvalid, ""},
		{"hostname", func(p *corev1.Pod) { p.Spec.Hostname = "a.b" }, "spec.hostname", field.ErrorTypeInvalid, ""},
		{"node selector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"-bad": "x"} }, "spec.nodeSelector", field.ErrorTypeInvalid, ""},
		{"init container probe", func(p *corev1.Pod) {
			p.Spec.InitContainers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"x"}}}}
		}, "spec.initContainers[0].readinessProbe", field.ErrorTypeForbidden, ""},
		{"affinity weight", func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Weight = 0
		}, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", field.ErrorTypeInvalid, "1-100"},
		{"affinity topology key", func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey = ""
		}, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey", field.ErrorTypeRequired, ""},
		{"node affinity operator", func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: "Near"}}}}}}
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator", field.ErrorTypeNotSupported, ""},
		{"node affinity In without values", func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: "In"}}}}}}
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values", field.ErrorTypeRequired, ""},
		{"spread max skew", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		}, "spec.topologySpreadConstraints[0].maxSkew", field.ErrorTypeInvalid, ""},
		{"spread action", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "Maybe"}}
		}, "spec.topologySpreadConstraints[0].whenUnsatisfiable", field.ErrorTypeNotSupported, ""},
		{"negative run as user", func(p *corev1.Pod) { p.Spec.Containers[0].SecurityContext.RunAsUser = ptr(int64(-5)) }, "spec.containers[0].securityContext.runAsUser", field.ErrorTypeInvalid, ""},
	}
	for _, tt := range tests {
		p := goodPod()
		tt.change(p)
		expectError(t, tt.name, validatePod(p, nil), tt.path, tt.errType, tt.detail)
	}
}

// expectError fails unless errs holds an error of the type at the path,
// with the detail when one is given.
func expectError(t *testing.T, name string, errs field.ErrorList, path string, typ field.ErrorType, detail string) {
	t.Helper()
	for _, e := range errs {
		if strings.HasPrefix(e.Field, path) && e.Type == typ && strings.Contains(e.Detail, detail) {
			return
		}
	}
	t.Errorf("%s: want %s %q (%q), got %v", name, typ, path, detail, errs)
}

func TestValidatePodUpdate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *corev1.Pod)
		path   string // "" when the update is allowed
	}{
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }, ""},
		{"labels", func(p *corev1.Pod) { p.Labels["tier"] = "front" }, ""},
		{"first deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(60)) }, ""},
		{"added toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: "Exists", Effect: "NoExecute"})
		}, ""},
		{"status", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }, ""},
		{"command", func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sh"} }, "spec"},
		{"node name", func(p *corev1.Pod) { p.Spec.NodeName = "n1" }, "spec"},
		{"removed toleration", func(p *corev1.Pod) { p.Spec.Tolerations = nil }, "spec.tolerations"},
		{"name", func(p *corev1.Pod) { p.Name = "other" }, "metadata.name"},
	}
	for _, tt := range tests {
		old := goodPod()
		old.UID, old.ResourceVersion = "u", "1"
		p := old.DeepCopy()
		tt.change(p)
		errs := validatePod(p, old)
		if tt.path == "" {
			if len(errs) != 0 {
				t.Errorf("%s: update refused: %v", tt.name, errs)
			}
			continue
		}
		found := false
		for _, e := range errs {
			found = found || e.Field == tt.path
		}
		if !found {
			t.Errorf("%s: want an error at %s, got %v", tt.name, tt.path, errs)
		}
	}
}

func TestValidateBinding(t *testing.T) {
	p := goodPod()
	if errs := ValidateBinding(p, "n1"); len(errs) != 0 {
		t.Fatalf("binding an unbound pod: %v", errs)
	}
	p.Spec.NodeName = "n2"
	if errs := ValidateBinding(p, "n1"); len(errs) == 0 {
		t.Fatal("rebinding a bound pod to another node passed")
	}
	p.Spec.NodeName = ""
	p.DeletionTimestamp = &metav1.Time{}
	if errs := ValidateBinding(p, "n1"); len(errs) == 0 {
		t.Fatal("binding a deleted pod passed")
	}
}

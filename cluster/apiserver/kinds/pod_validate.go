package kinds

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// envFieldPaths are the pod fields an env var's fieldRef may name: those
// the node agent knows when it starts the container.
var envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "status.podIP"}

var (
	restartPolicies = []string{string(corev1.RestartPolicyAlways), string(corev1.RestartPolicyOnFailure), string(corev1.RestartPolicyNever)}
	pullPolicies    = []string{string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever)}
	dnsPolicies     = []string{string(corev1.DNSClusterFirstWithHostNet), string(corev1.DNSClusterFirst), string(corev1.DNSDefault), string(corev1.DNSNone)}
	protocols       = []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}
	servedResources = []string{string(corev1.ResourceCPU), string(corev1.ResourceMemory)}
)

// ValidatePodSpec checks a pod spec (a pod's, or a workload's template)
// at path p: the fields drover serves are well formed, the others refused.
func ValidatePodSpec(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	errs := refuseUnserved(reflect.ValueOf(spec), p)
	for _, f := range []struct {
		name, value string
	}{{"serviceAccountName", spec.ServiceAccountName}, {"serviceAccount", spec.DeprecatedServiceAccount}} {
		if f.value != "" && f.value != "default" {
			errs = append(errs, field.Forbidden(p.Child(f.name), notServed+": only the \"default\" service account"))
		}
	}

	volumes, vErrs := validateVolumes(spec.Volumes, p.Child("volumes"))
	errs = append(errs, vErrs...)

	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	names := sets.New[string]()
	errs = append(errs, validateContainers(spec.InitContainers, true, names, volumes, p.Child("initContainers"))...)
	errs = append(errs, validateContainers(spec.Containers, false, names, volumes, p.Child("containers"))...)

	if spec.RestartPolicy != "" && !contains(restartPolicies, string(spec.RestartPolicy)) {
		errs = append(errs, field.NotSupported(p.Child("restartPolicy"), spec.RestartPolicy, restartPolicies))
	} else if spec.RestartPolicy == "" {
		errs = append(errs, field.Required(p.Child("restartPolicy"), ""))
	}
	if spec.DNSPolicy != "" && !contains(dnsPolicies, string(spec.DNSPolicy)) {
		errs = append(errs, field.NotSupported(p.Child("dnsPolicy"), spec.DNSPolicy, dnsPolicies))
	}
	if spec.DNSPolicy == corev1.DNSNone && spec.DNSConfig == nil {
		errs = append(errs, field.Required(p.Child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
	}
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector, p.Child("nodeSelector"))...)
	if spec.NodeName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(spec.NodeName) {
			errs = append(errs, field.Invalid(p.Child("nodeName"), spec.NodeName, msg))
		}
	}
	for _, f := range []struct{ name, value string }{{"hostname", spec.Hostname}, {"subdomain", spec.Subdomain}} {
		if f.value == "" {
			continue
		}
		for _, msg := range validation.IsDNS1123Label(f.value) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	if spec.PriorityClassName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(spec.PriorityClassName) {
			errs = append(errs, field.Invalid(p.Child("priorityClassName"), spec.PriorityClassName, msg))
		}
	}
	if spec.TerminationGracePeriodSeconds != nil {
		errs = append(errs, validateNonNegative(*spec.TerminationGracePeriodSeconds, p.Child("terminationGracePeriodSeconds"))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > 2147483647 {
			errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, 2147483647)))
		}
	}
	errs = append(errs, validateTolerations(spec.Tolerations, p.Child("tolerations"))...)
	errs = append(errs, validateAffinity(spec.Affinity, p.Child("affinity"))...)
	errs = append(errs, validateTopologySpread(spec.TopologySpreadConstraints, p.Child("topologySpreadConstraints"))...)
	errs = append(errs, validatePodSecurityContext(spec.SecurityContext, p.Child("securityContext"))...)
	return errs
}

func validateVolumes(volumes []corev1.Volume, p *field.Path) (sets.Set[string], field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, v := range volumes {
		vp := p.Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vp.Child("name"), ""))
		case names.Has(v.Name):
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(vp.Child("name"), v.Name, msg))
			}
		}
		names.Insert(v.Name)
		switch {
		case v.EmptyDir != nil && v.HostPath != nil:
			errs = append(errs, field.Forbidden(vp.Child("hostPath"), "may not specify more than 1 volume type"))
		case v.HostPath != nil:
			if v.HostPath.Path == "" {
				errs = append(errs, field.Required(vp.Child("hostPath", "path"), ""))
			}
		case v.EmptyDir != nil:
			if v.EmptyDir.Medium != corev1.StorageMediumDefault && v.EmptyDir.Medium != corev1.StorageMediumMemory {
				errs = append(errs, field.NotSupported(vp.Child("emptyDir", "medium"), v.EmptyDir.Medium, []string{"", string(corev1.StorageMediumMemory)}))
			}
		}
	}
	return names, errs
}

func validateContainers(containers []corev1.Container, init bool, names, volumes sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range containers {
		c := &containers[i]
		cp := p.Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(cp.Child("name"), ""))
		case names.Has(c.Name):
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(c.Name) {
				errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
			}
		}
		names.Insert(c.Name)
		if strings.TrimSpace(c.Image) == "" {
			errs = append(errs, field.Required(cp.Child("image"), ""))
		} else if c.Image != strings.TrimSpace(c.Image) {
			errs = append(errs, field.Invalid(cp.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		if c.ImagePullPolicy != "" && !contains(pullPolicies, string(c.ImagePullPolicy)) {
			errs = append(errs, field.NotSupported(cp.Child("imagePullPolicy"), c.ImagePullPolicy, pullPolicies))
		}
		errs = append(errs, validatePorts(c.Ports, cp.Child("ports"))...)
		errs = append(errs, validateEnv(c.Env, cp.Child("env"))...)
		errs = append(errs, validateResources(&c.Resources, cp.Child("resources"))...)
		errs = append(errs, validateMounts(c.VolumeMounts, volumes, cp.Child("volumeMounts"))...)
		if init {
			// Kubernetes refuses probes on init containers that run to
			// completion; drover has no sidecar (restartable) init containers.
			for name, pr := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe, "startupProbe": c.StartupProbe} {
				if pr != nil {
					errs = append(errs, field.Forbidden(cp.Child(name), "may not be set for init containers without restartPolicy=Always"))
				}
			}
		} else {
			errs = append(errs, validateProbe(c.LivenessProbe, true, cp.Child("livenessProbe"))...)
			errs = append(errs, validateProbe(c.ReadinessProbe, false, cp.Child("readinessProbe"))...)
			errs = append(errs, validateProbe(c.StartupProbe, true, cp.Child("startupProbe"))...)
		}
		errs = append(errs, validateSecurityContext(c.SecurityContext, cp.Child("securityContext"))...)
	}
	return errs
}

func validatePorts(ports []corev1.ContainerPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		pp := p.Index(i)
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
			}
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(pp.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, msg))
			}
		}
		if port.Protocol == "" {
			errs = append(errs, field.Required(pp.Child("protocol"), ""))
		} else if !contains(protocols, string(port.Protocol)) {
			errs = append(errs, field.NotSupported(pp.Child("protocol"), port.Protocol, protocols))
		}
	}
	return errs
}

func validateEnv(env []corev1.EnvVar, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		ep := p.Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(ep.Child("name"), e.Name, msg))
			}
		}
		if e.ValueFrom == nil {
			continue
		}
		if e.Value != "" {
			errs = append(errs, field.Invalid(ep.Child("valueFrom"), "", "may not be specified when `value` is not empty"))
		}
		ref := e.ValueFrom.FieldRef
		if ref == nil {
			continue // any other source was refused by name
		}
		rp := ep.Child("valueFrom", "fieldRef", "fieldPath")
		switch {
		case ref.FieldPath == "":
			errs = append(errs, field.Required(rp, ""))
		case ref.APIVersion != "" && ref.APIVersion != "v1":
			errs = append(errs, field.NotSupported(ep.Child("valueFrom", "fieldRef", "apiVersion"), ref.APIVersion, []string{"v1"}))
		case !contains(envFieldPaths, ref.FieldPath):
			errs = append(errs, field.NotSupported(rp, ref.FieldPath, envFieldPaths))
		}
	}
	return errs
}

func validateResources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(list corev1.ResourceList, lp *field.Path) {
		for name, q := range list {
			kp := lp.Key(string(name))
			if !contains(servedResources, string(name)) {
				errs = append(errs, forbidden(kp))
				continue
			}
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(kp, q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	check(r.Limits, p.Child("limits"))
	check(r.Requests, p.Child("requests"))
	for name, req := range r.Requests {
		lim, ok := r.Limits[name]
		if ok && req.Cmp(lim) > 0 {
			errs = append(errs, field.Invalid(p.Child("requests").Key(string(name)), req.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
		}
	}
	return errs
}

func validateMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		mp := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if !volumes.Has(m.Name) {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		} else if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
		if strings.HasPrefix(m.SubPath, "/") || strings.Contains("/"+m.SubPath+"/", "/../") {
			errs = append(errs, field.Invalid(mp.Child("subPath"), m.SubPath, "must be a relative path without '..'"))
		}
	}
	return errs
}

func validateProbe(pr *corev1.Probe, successMustBeOne bool, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	var errs field.ErrorList
	handlers := 0
	if pr.Exec != nil {
		handlers++
		if len(pr.Exec.Command) == 0 {
			errs = append(errs, field.Required(p.Child("exec", "command"), ""))
		}
	}
	if pr.HTTPGet != nil {
		handlers++
		errs = append(errs, validatePortRef(pr.HTTPGet.Port, p.Child("httpGet", "port"))...)
		if s := pr.HTTPGet.Scheme; s != "" && s != corev1.URISchemeHTTP && s != corev1.URISchemeHTTPS {
			errs = append(errs, field.NotSupported(p.Child("httpGet", "scheme"), s, []string{"HTTP", "HTTPS"}))
		}
	}
	if pr.TCPSocket != nil {
		handlers++
		errs = append(errs, validatePortRef(pr.TCPSocket.Port, p.Child("tcpSocket", "port"))...)
	}
	if pr.GRPC != nil {
		handlers++ // refused by name already; counted so the message below stays true
	}
	switch {
	case handlers == 0:
		errs = append(errs, field.Required(p, "must specify a handler type"))
	case handlers > 1:
		errs = append(errs, field.Forbidden(p, "may not specify more than 1 handler type"))
	}
	for _, f := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds}, {"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		errs = append(errs, validateNonNegative(int64(f.v), p.Child(f.name))...)
	}
	if successMustBeOne && pr.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(p.Child("successThreshold"), pr.SuccessThreshold, "must be 1"))
	}
	return errs
}

func validatePortRef(port intstr.IntOrString, p *field.Path) field.ErrorList {
	if port.Type == intstr.String {
		var errs field.ErrorList
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(p, port.StrVal, msg))
		}
		return errs
	}
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(port.IntValue()) {
		errs = append(errs, field.Invalid(p, port.IntValue(), msg))
	}
	return errs
}

func validateTolerations(tols []corev1.Toleration, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tols {
		tp := p.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, tp.Child("key"))...)
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(tp.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(tp.Child("operator"), t.Operator, []string{string(corev1.TolerationOpEqual), string(corev1.TolerationOpExists)}))
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(tp.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, field.NotSupported(tp.Child("effect"), t.Effect, []string{string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute)}))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(tp.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
	}
	return errs
}

func validatePodSecurityContext(sc *corev1.PodSecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, validateID(sc.RunAsUser, true, p.Child("runAsUser"))...)
	errs = append(errs, validateID(sc.RunAsGroup, false, p.Child("runAsGroup"))...)
	errs = append(errs, validateID(sc.FSGroup, false, p.Child("fsGroup"))...)
	for i, g := range sc.SupplementalGroups {
		errs = append(errs, validateID(&g, false, p.Child("supplementalGroups").Index(i))...)
	}
	for i, s := range sc.Sysctls {
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("sysctls").Index(i).Child("name"), ""))
		}
	}
	return errs
}

func validateSecurityContext(sc *corev1.SecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, validateID(sc.RunAsUser, true, p.Child("runAsUser"))...)
	errs = append(errs, validateID(sc.RunAsGroup, false, p.Child("runAsGroup"))...)
	return errs
}

func validateID(id *int64, user bool, p *field.Path) field.ErrorList {
	if id == nil {
		return nil
	}
	msgs := validation.IsValidGroupID(*id)
	if user {
		msgs = validation.IsValidUserID(*id)
	}
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(p, *id, msg))
	}
	return errs
}

// validatePodSpecUpdate allows what Kubernetes allows to change in a
// running pod: container images, a shorter (or first) active deadline,
// and added tolerations.
func validatePodSpecUpdate(spec, old *corev1.PodSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if old.ActiveDeadlineSeconds != nil {
		if spec.ActiveDeadlineSeconds == nil {
			errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
		} else if *spec.ActiveDeadlineSeconds > *old.ActiveDeadlineSeconds {
			errs = append(errs, field.Invalid(p.Child("activeDeadlineSeconds"), *spec.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
		}
	}
	for _, ot := range old.Tolerations {
		if !containsToleration(spec.Tolerations, ot) {
			errs = append(errs, field.Forbidden(p.Child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"))
			break
		}
	}
	// Compare with the mutable fields copied over from the new spec.
	mutable := old.DeepCopy()
	if len(spec.Containers) == len(mutable.Containers) {
		for i := range mutable.Containers {
			mutable.Containers[i].Image = spec.Containers[i].Image
		}
	}
	if len(spec.InitContainers) == len(mutable.InitContainers) {
		for i := range mutable.InitContainers {
			mutable.InitContainers[i].Image = spec.InitContainers[i].Image
		}
	}
	mutable.ActiveDeadlineSeconds = spec.ActiveDeadlineSeconds
	mutable.Tolerations = spec.Tolerations
	if !reflect.DeepEqual(mutable, spec) {
		errs = append(errs, field.Forbidden(p, "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)"))
	}
	return errs
}

func containsToleration(list []corev1.Toleration, t corev1.Toleration) bool {
	for _, x := range list {
		if x.Key == t.Key && x.Operator == t.Operator && x.Value == t.Value && x.Effect == t.Effect {
			return true
		}
	}
	return false
}

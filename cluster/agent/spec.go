package agent

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/api"
)

// podEnv is what a container's environment may refer to beyond its own spec.
type podEnv struct {
	podIP  string
	hostIP string
}

// containerConfig translates one container of pod into an engine container of the
// engine pod enginePodID.
func (a *Agent) containerConfig(ctx context.Context, pod *corev1.Pod, c *corev1.Container, init bool, attempt int, enginePodID string, env podEnv, mounts map[string]string) (api.ContainerConfig, error) {
	labels := a.podLabels(pod)
	labels[labelContainer] = c.Name
	labels[labelAttempt] = strconv.Itoa(attempt)
	if init {
		labels[labelInit] = "true"
	}
	vars, err := a.containerEnv(ctx, pod, c, env)
	if err != nil {
		return api.ContainerConfig{}, err
	}
	lookup := map[string]string{}
	envList := make([]string, 0, len(vars))
	for _, kv := range vars {
		lookup[kv[0]] = kv[1]
		envList = append(envList, kv[0]+"="+kv[1])
	}
	cfg := api.ContainerConfig{
		Name:       engineContainerName(pod, c.Name, attempt),
		Image:      c.Image,
		Env:        envList,
		WorkingDir: c.WorkingDir,
		Labels:     labels,
		Tty:        c.TTY,
		OpenStdin:  c.Stdin,
		StdinOnce:  c.StdinOnce,
		Host:       api.HostConfig{Pod: enginePodID},
	}
	// Kubernetes' command replaces the image's entrypoint and, with it, its cmd; args
	// alone replace only the cmd.
	if len(c.Command) > 0 {
		cfg.Entrypoint = expandAll(c.Command, lookup)
		cfg.Cmd = expandAll(c.Args, lookup)
		if cfg.Cmd == nil {
			cfg.Cmd = []string{}
		}
	} else if len(c.Args) > 0 {
		cfg.Cmd = expandAll(c.Args, lookup)
	}
	if err := applyResources(&cfg.Host, c.Resources); err != nil {
		return cfg, fmt.Errorf("container %s: %w", c.Name, err)
	}
	applySecurity(&cfg, pod.Spec.SecurityContext, c.SecurityContext)
	for _, m := range c.VolumeMounts {
		src, ok := mounts[m.Name]
		if !ok {
			return cfg, fmt.Errorf("container %s mounts volume %s, which the pod does not declare", c.Name, m.Name)
		}
		if m.SubPath != "" {
			if filepath.IsAbs(m.SubPath) || strings.Contains(m.SubPath, "..") {
				return cfg, fmt.Errorf("container %s: subPath %q must be a relative path without ..", c.Name, m.SubPath)
			}
			src = filepath.Join(src, m.SubPath)
			if err := ensureDir(src); err != nil {
				return cfg, err
			}
		}
		bind := src + ":" + m.MountPath
		if m.ReadOnly {
			bind += ":ro"
		}
		cfg.Host.Binds = append(cfg.Host.Binds, bind)
	}
	return cfg, nil
}

// applyResources maps limits and requests onto the engine's cgroup settings.
func applyResources(h *api.HostConfig, r corev1.ResourceRequirements) error {
	if q, ok := r.Limits[corev1.ResourceCPU]; ok {
		h.NanoCPUs = q.MilliValue() * 1_000_000
	}
	cpuReq, ok := r.Requests[corev1.ResourceCPU]
	if !ok {
		cpuReq, ok = r.Limits[corev1.ResourceCPU]
	}
	if ok {
		h.CPUShares = max(2, cpuReq.MilliValue()*1024/1000)
	}
	if q, ok := r.Limits[corev1.ResourceMemory]; ok {
		h.Memory = q.Value()
		h.MemorySwap = q.Value() // no swap beyond the limit, as the kubelet
	}
	return nil
}

// applySecurity maps the securityContext fields the engine supports; the container's
// settings win over the pod's.
func applySecurity(cfg *api.ContainerConfig, ps *corev1.PodSecurityContext, cs *corev1.SecurityContext) {
	var uid, gid *int64
	if ps != nil {
		uid, gid = ps.RunAsUser, ps.RunAsGroup
		for _, g := range ps.SupplementalGroups {
			cfg.Host.GroupAdd = append(cfg.Host.GroupAdd, strconv.FormatInt(g, 10))
		}
		if ps.FSGroup != nil {
			cfg.Host.GroupAdd = append(cfg.Host.GroupAdd, strconv.FormatInt(*ps.FSGroup, 10))
		}
	}
	if cs != nil {
		if cs.RunAsUser != nil {
			uid = cs.RunAsUser
		}
		if cs.RunAsGroup != nil {
			gid = cs.RunAsGroup
		}
		if cs.Privileged != nil {
			cfg.Host.Privileged = *cs.Privileged
		}
		if cs.ReadOnlyRootFilesystem != nil {
			cfg.Host.ReadonlyRootfs = *cs.ReadOnlyRootFilesystem
		}
		if cs.AllowPrivilegeEscalation != nil && !*cs.AllowPrivilegeEscalation {
			cfg.Host.SecurityOpt = append(cfg.Host.SecurityOpt, "no-new-privileges")
		}
		if cs.Capabilities != nil {
			for _, c := range cs.Capabilities.Add {
				cfg.Host.CapAdd = append(cfg.Host.CapAdd, string(c))
			}
			for _, c := range cs.Capabilities.Drop {
				cfg.Host.CapDrop = append(cfg.Host.CapDrop, string(c))
			}
		}
	}
	switch {
	case uid != nil && gid != nil:
		cfg.User = fmt.Sprintf("%d:%d", *uid, *gid)
	case uid != nil:
		cfg.User = strconv.FormatInt(*uid, 10)
	}
}

// containerEnv resolves the container's envFrom and env, in order, as name/value pairs.
func (a *Agent) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, pe podEnv) ([][2]string, error) {
	var out [][2]string
	index := map[string]int{}
	set := func(k, v string) {
		if i, ok := index[k]; ok {
			out[i][1] = v
			return
		}
		index[k] = len(out)
		out = append(out, [2]string{k, v})
	}
	for _, from := range c.EnvFrom {
		data, err := a.envSource(ctx, pod.Namespace, from)
		if err != nil {
			return nil, err
		}
		for _, k := range sortedKeys(data) {
			set(from.Prefix+k, data[k])
		}
	}
	lookup := map[string]string{}
	for _, e := range c.Env {
		v := expand(e.Value, lookup)
		if e.ValueFrom != nil {
			var err error
			if v, err = a.envValueFrom(ctx, pod, c, e.ValueFrom, pe); err != nil {
				return nil, fmt.Errorf("env %s of container %s: %w", e.Name, c.Name, err)
			}
		}
		lookup[e.Name] = v
		set(e.Name, v)
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// envSource reads a whole ConfigMap or Secret for envFrom.
func (a *Agent) envSource(ctx context.Context, ns string, from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := a.cfg.API.CoreV1().ConfigMaps(ns).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("configmap %s: %w", from.ConfigMapRef.Name, err)
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := a.cfg.API.CoreV1().Secrets(ns).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
				return nil, nil
			}
			return nil, fmt.Errorf("secret %s: %w", from.SecretRef.Name, err)
		}
		out := map[string]string{}
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, nil
	}
	return nil, nil
}

// envValueFrom resolves one env var's valueFrom.
func (a *Agent) envValueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, vf *corev1.EnvVarSource, pe podEnv) (string, error) {
	switch {
	case vf.FieldRef != nil:
		return fieldValue(pod, vf.FieldRef.FieldPath, pe)
	case vf.ResourceFieldRef != nil:
		r := vf.ResourceFieldRef
		name := c.Name
		if r.ContainerName != "" {
			name = r.ContainerName
		}
		for _, x := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			if x.Name != name {
				continue
			}
			kind, res, _ := strings.Cut(r.Resource, ".")
			list := x.Resources.Limits
			if kind == "requests" {
				list = x.Resources.Requests
			}
			q, ok := list[corev1.ResourceName(res)]
			if !ok {
				return "0", nil
			}
			div := r.Divisor
			if div.IsZero() {
				if res == "cpu" {
					return strconv.FormatInt((q.MilliValue()+999)/1000, 10), nil
				}
				return strconv.FormatInt(q.Value(), 10), nil
			}
			if res == "cpu" {
				return strconv.FormatInt((q.MilliValue()+div.MilliValue()-1)/div.MilliValue(), 10), nil
			}
			return strconv.FormatInt((q.Value()+div.Value()-1)/div.Value(), 10), nil
		}
		return "", fmt.Errorf("no container %s for resourceFieldRef", name)
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		cm, err := a.cfg.API.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return v, nil
			}
			err = fmt.Errorf("configmap %s has no key %s", ref.Name, ref.Key)
		}
		if ref.Optional != nil && *ref.Optional {
			return "", nil
		}
		return "", err
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		s, err := a.cfg.API.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := s.Data[ref.Key]; ok {
				return string(v), nil
			}
			err = fmt.Errorf("secret %s has no key %s", ref.Name, ref.Key)
		}
		if ref.Optional != nil && *ref.Optional {
			return "", nil
		}
		return "", err
	}
	return "", nil
}

// fieldValue is the value of a downward-API field path.
func fieldValue(pod *corev1.Pod, path string, pe podEnv) (string, error) {
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return pod.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return pod.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return pe.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return pe.hostIP, nil
	}
	return "", fmt.Errorf("field path %q is not supported", path)
}

// expand replaces $(NAME) with NAME's value from vars, leaves unknown references as
// they are, and turns $$ into $, as Kubernetes does.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteByte(s[i])
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func expandAll(list []string, vars map[string]string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = expand(s, vars)
	}
	return out
}

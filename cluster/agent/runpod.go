package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/client"
	"github.com/drover/drover/internal/errdefs"
)

// ctrView is one container of the pod as the engine has it.
type ctrView struct {
	spec *corev1.Container
	init bool
	cur  *api.Container // the latest attempt
	prev *api.Container // the attempt before it
	// waiting is why the container does not run (when it does not): ContainerCreating,
	// PodInitializing, CrashLoopBackOff, ErrImagePull, ...
	waiting, message string
	ready, started   bool
}

// podView is the pod as the engine has it after a sync.
type podView struct {
	enginePodID  string
	podIP        string
	sandboxReady bool
	inits, ctrs  []*ctrView
	initDone     bool
	initFailed   bool // an init container failed and will not run again
}

// exited reports whether an engine container has run and ended, or failed to start.
func exited(c *api.Container) bool {
	if c == nil || c.State.Running || c.State.Paused || c.State.Restarting {
		return false
	}
	return !c.State.StartedAt.IsZero() || c.State.Error != "" || c.State.Status == api.StatusExited || c.State.Status == api.StatusDead
}

// exitCode is an ended container's exit code; a failed start counts as 128, as the
// kubelet reports it.
func exitCode(c *api.Container) int {
	if c.State.StartedAt.IsZero() && c.State.Error != "" && c.State.ExitCode == 0 {
		return 128
	}
	return c.State.ExitCode
}

// runPod makes the engine run what the pod asks for and returns what it has.
func (w *podWorker) runPod(ctx context.Context, pod *corev1.Pod) *podView {
	a := w.a
	v := &podView{}
	for i := range pod.Spec.InitContainers {
		v.inits = append(v.inits, &ctrView{spec: &pod.Spec.InitContainers[i], init: true, waiting: "PodInitializing"})
	}
	for i := range pod.Spec.Containers {
		v.ctrs = append(v.ctrs, &ctrView{spec: &pod.Spec.Containers[i], waiting: "ContainerCreating"})
	}
	if len(v.inits) > 0 {
		for _, c := range v.ctrs {
			c.waiting = "PodInitializing"
		}
		v.inits[0].waiting = "ContainerCreating"
	}
	netw := a.podNetwork()
	if !pod.Spec.HostNetwork && netw == nil {
		return v // no podCIDR yet
	}
	enginePod, err := w.ensureEnginePod(ctx, pod, netw)
	if err != nil {
		a.log.Warn("create pod sandbox", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		for _, c := range append(v.inits, v.ctrs...) {
			c.message = err.Error()
		}
		return v
	}
	v.enginePodID = enginePod.ID
	if pod.Spec.HostNetwork {
		v.podIP = a.cfg.Advertise
	} else if infra, err := a.cfg.Engine.ContainerInspect(ctx, enginePod.InfraID); err == nil {
		if ep, ok := infra.NetworkSettings.Networks[netw.name]; ok {
			v.podIP = ep.IPAddress
		} else {
			v.podIP = infra.NetworkSettings.IPAddress
		}
		v.sandboxReady = infra.State.Running
	}
	if pod.Spec.HostNetwork {
		v.sandboxReady = true
	}
	ctrs, err := a.cfg.Engine.ContainerList(ctx, client.ListOptions{All: true, Filters: []string{"label=" + labelUID + "=" + string(pod.UID)}})
	if err != nil {
		a.log.Warn("list containers", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return v
	}
	w.attach(v, ctrs)
	env := podEnv{podIP: v.podIP, hostIP: a.cfg.Advertise}
	policy := pod.Spec.RestartPolicy
	// Init containers run one at a time, in order, each to success.
	v.initDone = true
	for _, c := range v.inits {
		switch {
		case c.cur == nil:
			w.start(ctx, pod, c, 0, v, env)
			v.initDone = false
		case c.cur.State.Running:
			c.started = true
			v.initDone = false
		case c.cur.State.Status == api.StatusCreated && c.cur.State.Error == "" && c.cur.State.StartedAt.IsZero():
			w.startCreated(ctx, c)
			v.initDone = false
		case exited(c.cur) && exitCode(c.cur) == 0:
			continue
		case exited(c.cur) && policy == corev1.RestartPolicyNever:
			v.initDone, v.initFailed = false, true
		case exited(c.cur):
			w.restart(ctx, pod, c, v, env)
			v.initDone = false
		default:
			v.initDone = false
		}
		break
	}
	if !v.initDone {
		return v
	}
	for _, c := range v.ctrs {
		switch {
		case c.cur == nil:
			w.start(ctx, pod, c, 0, v, env)
		case c.cur.State.Running:
			w.probe(ctx, pod, c, v.podIP)
			continue
		case c.cur.State.Status == api.StatusCreated && c.cur.State.Error == "" && c.cur.State.StartedAt.IsZero():
			w.startCreated(ctx, c)
		case exited(c.cur) && shouldRestart(policy, exitCode(c.cur)):
			w.restart(ctx, pod, c, v, env)
		}
		// A container without probes is ready as soon as it runs, as the kubelet has it:
		// the pod's first status after the start says so, rather than a second one.
		if c.cur != nil && c.cur.State.Running && withoutProbes(c.spec) {
			w.probe(ctx, pod, c, v.podIP)
		}
	}
	return v
}

func withoutProbes(c *corev1.Container) bool {
	return c.StartupProbe == nil && c.ReadinessProbe == nil && c.LivenessProbe == nil
}

func shouldRestart(policy corev1.RestartPolicy, code int) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

// attach sorts the engine's containers into the views: the latest attempt of each,
// and the one before. Older attempts are removed.
func (w *podWorker) attach(v *podView, ctrs []api.Container) {
	byName := map[string]*ctrView{}
	for _, c := range append(append([]*ctrView{}, v.inits...), v.ctrs...) {
		byName[c.spec.Name] = c
	}
	var stale []api.Container
	for i := range ctrs {
		c := &ctrs[i]
		cv := byName[c.Config.Labels[labelContainer]]
		if cv == nil || attemptOf(c) < 0 || (c.Config.Labels[labelInit] == "true") != cv.init {
			stale = append(stale, *c)
			continue
		}
		switch {
		case cv.cur == nil || attemptOf(c) > attemptOf(cv.cur):
			if cv.prev != nil {
				stale = append(stale, *cv.prev)
			}
			cv.cur, cv.prev = c, cv.cur
		case cv.prev == nil || attemptOf(c) > attemptOf(cv.prev):
			if cv.prev != nil {
				stale = append(stale, *cv.prev)
			}
			cv.prev = c
		default:
			stale = append(stale, *c)
		}
	}
	for _, c := range stale {
		if !c.State.Running {
			_ = w.a.cfg.Engine.ContainerRemove(context.Background(), c.ID, client.RemoveOptions{Force: true})
		}
	}
}

// ensureEnginePod finds or creates the engine pod that holds the pod's namespaces.
func (w *podWorker) ensureEnginePod(ctx context.Context, pod *corev1.Pod, netw *netState) (api.Pod, error) {
	a := w.a
	name := enginePodName(pod)
	p, err := a.cfg.Engine.PodInspect(ctx, name)
	if err == nil {
		return p, nil
	}
	if !isNotFound(err) {
		return p, fmt.Errorf("inspect engine pod %s: %w", name, err)
	}
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	req := api.PodCreate{Name: name, Hostname: hostname, Labels: a.podLabels(pod)}
	if pod.Spec.HostNetwork {
		req.Network = "host"
	} else {
		req.Network = netw.name
	}
	if pod.Spec.HostPID {
		req.PidMode = "host"
	}
	if pod.Spec.HostIPC {
		req.IpcMode = "host"
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		req.DNS, req.DNSSearch = dc.Nameservers, dc.Searches
		for _, o := range dc.Options {
			if o.Value != nil {
				req.DNSOptions = append(req.DNSOptions, o.Name+":"+*o.Value)
			} else {
				req.DNSOptions = append(req.DNSOptions, o.Name)
			}
		}
	}
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		req.Sysctls = map[string]string{}
		for _, s := range sc.Sysctls {
			req.Sysctls[s.Name] = s.Value
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 || pod.Spec.HostNetwork {
				continue
			}
			proto := "tcp"
			if p.Protocol == corev1.ProtocolUDP {
				proto = "udp"
			}
			req.PortBindings = append(req.PortBindings, api.PortBinding{HostIP: p.HostIP, HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Proto: proto})
		}
	}
	created, err := a.cfg.Engine.PodCreate(ctx, req)
	if err != nil {
		return created, fmt.Errorf("create engine pod %s: %w", name, err)
	}
	a.log.Info("pod sandbox created", "pod", pod.Namespace+"/"+pod.Name, "engine-pod", name)
	return created, nil
}

// start creates and starts attempt of container c.
func (w *podWorker) start(ctx context.Context, pod *corev1.Pod, c *ctrView, attempt int, v *podView, env podEnv) {
	a := w.a
	if err := w.pullImage(ctx, c); err != nil {
		return
	}
	if w.mounts == nil {
		m, err := a.prepareVolumes(ctx, pod)
		if err != nil {
			c.waiting, c.message = "CreateContainerConfigError", err.Error()
			return
		}
		w.mounts = m
	}
	cfg, err := a.containerConfig(ctx, pod, c.spec, c.init, attempt, v.enginePodID, env, w.mounts)
	if err != nil {
		c.waiting, c.message = "CreateContainerConfigError", err.Error()
		return
	}
	created, err := a.cfg.Engine.ContainerCreate(ctx, cfg)
	if errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrAlreadyExists) {
		// Made by an earlier sync that did not see it listed yet: the next sync adopts it.
		return
	}
	if err != nil {
		c.waiting, c.message = "CreateContainerError", err.Error()
		return
	}
	if err := a.cfg.Engine.ContainerStart(ctx, created.ID); err != nil {
		c.waiting, c.message = "RunContainerError", err.Error()
	}
	a.log.Info("container started", "pod", pod.Namespace+"/"+pod.Name, "container", c.spec.Name, "attempt", attempt)
	w.refresh(ctx, c, created.ID)
}

// startCreated starts a container an interrupted sync created but did not start.
func (w *podWorker) startCreated(ctx context.Context, c *ctrView) {
	if err := w.a.cfg.Engine.ContainerStart(ctx, c.cur.ID); err != nil {
		c.waiting, c.message = "RunContainerError", err.Error()
	}
	w.refresh(ctx, c, c.cur.ID)
}

// refresh re-reads an engine container into the view after starting it.
func (w *podWorker) refresh(ctx context.Context, c *ctrView, id string) {
	got, err := w.a.cfg.Engine.ContainerInspect(ctx, id)
	if err != nil {
		return
	}
	if c.cur != nil && c.cur.ID != id {
		c.prev = c.cur
	}
	c.cur = &got
	if got.State.Running {
		c.waiting, c.message = "", ""
	}
}

// restart starts the next attempt of an ended container unless it is in back-off.
func (w *podWorker) restart(ctx context.Context, pod *corev1.Pod, c *ctrView, v *podView, env podEnv) {
	b := w.backoff[c.spec.Name]
	if b == nil {
		b = &backoff{}
		w.backoff[c.spec.Name] = b
	}
	wait, ok := b.ready(c.cur.State.StartedAt, c.cur.State.FinishedAt, time.Now())
	if !ok {
		c.waiting = "CrashLoopBackOff"
		c.message = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", wait, c.spec.Name, pod.Name, pod.Namespace, pod.UID)
		return
	}
	b.next()
	w.start(ctx, pod, c, attemptOf(c.cur)+1, v, env)
}

func isNotFound(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }

package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/stream"
)

// probeState is what the probes of one container attempt have found so far.
type probeState struct {
	started, ready                           bool
	startupFails, livenessFails, readyFails  int
	readyOK                                  int
	lastStartup, lastLiveness, lastReadiness time.Time
	killing                                  bool
}

// probe runs the container's probes that are due: startup gates liveness and readiness;
// liveness failing restarts the container; readiness sets its ready flag.
func (w *podWorker) probe(ctx context.Context, pod *corev1.Pod, c *ctrView, podIP string) {
	id := c.cur.ID
	ps := w.probes[id]
	if ps == nil {
		ps = &probeState{}
		w.probes[id] = ps
	}
	startedAt := c.cur.State.StartedAt
	now := time.Now()
	spec := c.spec
	if spec.StartupProbe == nil {
		ps.started = true
	} else if !ps.started && due(spec.StartupProbe, ps.lastStartup, startedAt, now) {
		ps.lastStartup = now
		if ok, _ := w.runProbe(ctx, spec.StartupProbe, spec, id, podIP); ok {
			ps.started = true
		} else if ps.startupFails++; ps.startupFails >= threshold(spec.StartupProbe.FailureThreshold, 3) {
			w.kill(pod, c, ps, "startup probe failed")
		}
	}
	if ps.started && spec.LivenessProbe != nil && due(spec.LivenessProbe, ps.lastLiveness, startedAt, now) {
		ps.lastLiveness = now
		if ok, _ := w.runProbe(ctx, spec.LivenessProbe, spec, id, podIP); ok {
			ps.livenessFails = 0
		} else if ps.livenessFails++; ps.livenessFails >= threshold(spec.LivenessProbe.FailureThreshold, 3) {
			w.kill(pod, c, ps, "liveness probe failed")
		}
	}
	switch {
	case !ps.started:
		ps.ready = false
	case spec.ReadinessProbe == nil:
		ps.ready = true
	case due(spec.ReadinessProbe, ps.lastReadiness, startedAt, now):
		ps.lastReadiness = now
		if ok, _ := w.runProbe(ctx, spec.ReadinessProbe, spec, id, podIP); ok {
			ps.readyFails = 0
			if ps.readyOK++; ps.readyOK >= threshold(spec.ReadinessProbe.SuccessThreshold, 1) {
				ps.ready = true
			}
		} else {
			ps.readyOK = 0
			if ps.readyFails++; ps.readyFails >= threshold(spec.ReadinessProbe.FailureThreshold, 3) {
				ps.ready = false
			}
		}
	}
	c.started, c.ready = ps.started, ps.ready && !ps.killing
}

func threshold(v, def int32) int {
	if v <= 0 {
		return int(def)
	}
	return int(v)
}

// due says whether a probe runs now: after its initial delay, once a period.
func due(p *corev1.Probe, last, startedAt, now time.Time) bool {
	if now.Before(startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)) {
		return false
	}
	period := time.Duration(threshold(p.PeriodSeconds, 10)) * time.Second
	return last.IsZero() || now.Sub(last) >= period-syncPeriod/2
}

// kill stops a container whose probe failed, within the pod's grace period, in the
// background; its exit then goes through the restart policy.
func (w *podWorker) kill(pod *corev1.Pod, c *ctrView, ps *probeState, why string) {
	if ps.killing {
		return
	}
	ps.killing = true
	grace := 30 * time.Second
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	w.a.log.Info("killing container", "pod", pod.Namespace+"/"+pod.Name, "container", c.spec.Name, "reason", why)
	id := c.cur.ID
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
		defer cancel()
		if err := w.a.cfg.Engine.ContainerStop(ctx, id, &grace, ""); err != nil {
			w.a.log.Warn("kill container", "container", id, "err", err)
		}
		w.wake()
	}()
}

// runProbe runs one probe once.
func (w *podWorker) runProbe(ctx context.Context, p *corev1.Probe, c *corev1.Container, containerID, podIP string) (bool, error) {
	timeout := time.Duration(threshold(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if podIP == "" {
		podIP = "127.0.0.1"
	}
	switch {
	case p.Exec != nil:
		code, err := w.a.execCode(ctx, containerID, p.Exec.Command)
		return err == nil && code == 0, err
	case p.HTTPGet != nil:
		return httpProbe(ctx, p.HTTPGet, c, podIP, timeout)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return false, err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false, err
		}
		conn.Close()
		return true, nil
	}
	return false, errors.New("probe kind not supported (exec, httpGet and tcpSocket are)")
}

// execCode runs cmd in a container and returns its exit code.
func (a *Agent) execCode(ctx context.Context, containerID string, cmd []string) (int, error) {
	h, err := a.cfg.Engine.ContainerExec(ctx, containerID, api.ExecConfig{Cmd: cmd})
	if err != nil {
		return -1, err
	}
	defer h.Close()
	go func() {
		<-ctx.Done()
		h.Close() // the probe's timeout
	}()
	code, err := stream.WaitExit(h)
	if err != nil {
		return -1, fmt.Errorf("exec %s: %w", cmd[0], err)
	}
	return code, nil
}

func httpProbe(ctx context.Context, g *corev1.HTTPGetAction, c *corev1.Container, podIP string, timeout time.Duration) (bool, error) {
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return false, err
	}
	host := g.Host
	if host == "" {
		host = podIP
	}
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	for _, h := range g.HTTPHeaders {
		req.Header.Add(h.Name, h.Value)
	}
	cl := &http.Client{Timeout: timeout, Transport: &http.Transport{
		// Probes check liveness, not identity, as the kubelet's do.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		DisableKeepAlives: true,
	}}
	resp, err := cl.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400, nil
}

// resolvePort turns a probe's port (a number or a container port's name) into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("container %s has no port named %s", c.Name, p.StrVal)
}

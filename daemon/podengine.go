package daemon

import (
	"context"
	"time"

	"github.com/drover/drover/api"
)

// The pod operations the CRI front door calls: the same ones as drover's own pod
// endpoints.

// CreatePod creates a pod and starts its infra container.
func (d *Daemon) CreatePod(ctx context.Context, req api.PodCreate) (api.Pod, error) {
	p, err := d.createPod(context.WithoutCancel(ctx), req)
	if err != nil {
		return api.Pod{}, err
	}
	return d.podView(p), nil
}

// InspectPod returns a pod by ID, name or unique ID prefix.
func (d *Daemon) InspectPod(ctx context.Context, ref string) (api.Pod, error) {
	p, err := d.podTab.get(ref)
	if err != nil {
		return api.Pod{}, err
	}
	return d.podView(p), nil
}

// ListPods returns every pod, oldest first.
func (d *Daemon) ListPods(ctx context.Context) []api.Pod {
	out := []api.Pod{}
	for _, p := range d.podTab.all() {
		out = append(out, d.podView(p))
	}
	return out
}

// StopPod stops a pod's members and then its infra container.
func (d *Daemon) StopPod(ctx context.Context, ref string, timeout *time.Duration) error {
	p, err := d.podTab.get(ref)
	if err != nil {
		return err
	}
	return d.stopPod(ctx, p, timeout)
}

// RemovePod removes a pod, its members with force.
func (d *Daemon) RemovePod(ctx context.Context, ref string, force bool) error {
	p, err := d.podTab.get(ref)
	if err != nil {
		return err
	}
	return d.removePod(ctx, p, force)
}

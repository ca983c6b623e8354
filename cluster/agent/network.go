package agent

import (
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/drover/drover/api"
)

// netState is the engine network the node's pods are attached to.
type netState struct {
	name   string
	subnet string
}

var splitHostPort = net.SplitHostPort

// notePodCIDR makes the pod network once the node has a podCIDR (a server-side
// controller assigns it), and wakes the pods that waited for it.
func (a *Agent) notePodCIDR(ctx context.Context, cidr string) {
	if cidr == "" {
		return
	}
	a.mu.Lock()
	have := a.network
	a.mu.Unlock()
	if have != nil && have.subnet == cidr {
		return
	}
	n, err := a.ensureNetwork(ctx, cidr)
	if err != nil {
		a.log.Warn("pod network", "err", err)
		return
	}
	a.mu.Lock()
	a.network = n
	ws := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.mu.Unlock()
	a.log.Info("pod network ready", "network", n.name, "subnet", n.subnet)
	for _, w := range ws {
		w.wake()
	}
}

// ensureNetwork finds or creates the bridge network with subnet cidr.
func (a *Agent) ensureNetwork(ctx context.Context, cidr string) (*netState, error) {
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("node podCIDR %q: %w", cidr, err)
	}
	cidr = ipnet.String()
	name := a.cfg.NetworkName
	var nonMasq []string
	if a.cfg.ClusterCIDR != "" {
		nonMasq = []string{a.cfg.ClusterCIDR}
	}
	nets, err := a.cfg.Engine.NetworkList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list engine networks: %w", err)
	}
	for _, n := range nets {
		if n.Name != name {
			continue
		}
		if n.Subnet == cidr && slices.Equal(n.NonMasquerade, nonMasq) {
			return &netState{name: name, subnet: cidr}, nil
		}
		if n.Subnet == cidr {
			// Made by an earlier version, which masqueraded pod-to-pod traffic: made
			// again when no pod uses it, kept (pods across nodes then see the node's
			// address) while one does.
			if err := a.cfg.Engine.NetworkRemove(ctx, n.ID); err != nil {
				a.log.Warn("pod network: traffic to other nodes' pods is masqueraded until its pods are gone", "network", name, "err", err)
				return &netState{name: name, subnet: cidr}, nil
			}
			break
		}
		// The node's podCIDR changed (it was registered anew): the old network goes if
		// nothing uses it any more.
		if err := a.cfg.Engine.NetworkRemove(ctx, n.ID); err != nil {
			return nil, fmt.Errorf("pod network %s has subnet %s, the node's podCIDR is %s, and it cannot be removed: %w", name, n.Subnet, cidr, err)
		}
	}
	if _, err := a.cfg.Engine.NetworkCreate(ctx, api.NetworkCreate{Name: name, Subnet: cidr, NonMasquerade: nonMasq,
		Labels: map[string]string{labelNode: a.cfg.NodeName}}); err != nil {
		return nil, fmt.Errorf("create pod network %s (%s): %w", name, cidr, err)
	}
	return &netState{name: name, subnet: cidr}, nil
}

// podNetwork is the pod network, nil until the node has a podCIDR.
func (a *Agent) podNetwork() *netState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.network
}

// adoptNetwork takes up the pod network an earlier run made, so that pods run before
// the API answers with the node's podCIDR (which is checked against it then).
func (a *Agent) adoptNetwork(ctx context.Context) {
	nets, err := a.cfg.Engine.NetworkList(ctx)
	if err != nil {
		a.log.Warn("list engine networks", "err", err)
		return
	}
	for _, n := range nets {
		if n.Name == a.cfg.NetworkName && n.Labels[labelNode] == a.cfg.NodeName {
			a.mu.Lock()
			a.network = &netState{name: n.Name, subnet: n.Subnet}
			a.mu.Unlock()
		}
	}
}

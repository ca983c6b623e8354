package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// routeProtocol marks the routes the agent makes (the protocol field of a route, shown
// by `ip route` as "proto 218"), so that it finds its own again after a restart and
// never touches anyone else's.
const routeProtocol netlink.RouteProtocol = 218

// routeResync is how often the routes are checked even when no Node changed (someone
// may have removed one by hand).
const routeResync = 30 * time.Second

// peerRoute is one other node's pod network and the address it is reached through.
type peerRoute struct {
	node string
	via  netip.Addr
}

// runRoutes keeps a route to every other node's pod network through that node's
// InternalIP, so that pods reach pods on other machines by their own addresses, as
// Kubernetes' network model has it. This is host-gateway routing (flannel's host-gw):
// the machines must share a network segment. Routes stay when the agent stops (the pods
// keep running); leaving the cluster removes them (RemoveRoutes).
func (a *Agent) runRoutes(ctx context.Context) {
	cluster, err := netip.ParsePrefix(a.cfg.ClusterCIDR)
	if err != nil {
		return // no cluster pod range: the node's pods stay on their own machine
	}
	nodes := a.cfg.API.CoreV1().Nodes()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return nodes.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return nodes.Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(plainListWatch{lw}, &corev1.Node{}, 0, cache.Indexers{})
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(_, n any) { poke(n) }, DeleteFunc: poke})
	go inf.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return
	}
	tick := time.NewTicker(routeResync)
	defer tick.Stop()
	lastErr := ""
	for {
		var list []*corev1.Node
		for _, o := range inf.GetStore().List() {
			if n, ok := o.(*corev1.Node); ok {
				list = append(list, n)
			}
		}
		err := syncRoutes(peerRoutes(a.cfg.NodeName, cluster.Masked(), list))
		switch {
		case err != nil && err.Error() != lastErr:
			a.log.Warn("routes to other nodes' pods", "err", err)
			lastErr = err.Error()
		case err == nil && lastErr != "":
			a.log.Info("routes to other nodes' pods are in place")
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// peerRoutes is the route each other node's pods need: its podCIDR through its
// InternalIP (IPv4). Nodes without either yet get none, and so does a podCIDR outside
// the cluster's pod range (a Node object could claim any range: routing it would send
// this machine's traffic for those addresses to that node).
func peerRoutes(self string, cluster netip.Prefix, nodes []*corev1.Node) map[netip.Prefix]peerRoute {
	out := map[netip.Prefix]peerRoute{}
	for _, n := range nodes {
		if n.Name == self || n.Spec.PodCIDR == "" {
			continue
		}
		cidr, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil || !cidr.Addr().Is4() || cidr.Bits() < cluster.Bits() || !cluster.Contains(cidr.Addr()) {
			continue
		}
		for _, a := range n.Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); a.Type == corev1.NodeInternalIP && err == nil && ip.Is4() {
				out[cidr.Masked()] = peerRoute{node: n.Name, via: ip}
				break
			}
		}
	}
	return out
}

// syncRoutes makes the agent's routes in the main table exactly want: routes it made
// that are no longer wanted go, wanted ones are made or corrected. A route someone else
// made to the same destination is left alone and reported.
func syncRoutes(want map[netip.Prefix]peerRoute) error {
	have, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	var errs []error
	for _, r := range have {
		if r.Dst == nil {
			continue
		}
		dst, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		p := netip.PrefixFrom(dst.Unmap(), ones)
		gw, _ := netip.AddrFromSlice(r.Gw)
		if w, ok := want[p]; ok && w.via == gw.Unmap() {
			delete(want, p) // in place already
			continue
		}
		if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove route to %s: %w", p, err))
		}
	}
	prefixes := make([]netip.Prefix, 0, len(want))
	for p := range want {
		prefixes = append(prefixes, p)
	}
	sort.Slice(prefixes, func(i, j int) bool { return prefixes[i].String() < prefixes[j].String() })
	for _, p := range prefixes {
		w := want[p]
		r := &netlink.Route{Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)},
			Gw: w.via.AsSlice(), Protocol: routeProtocol, Table: unix.RT_TABLE_MAIN}
		if err := netlink.RouteAdd(r); err != nil {
			switch {
			case errors.Is(err, unix.ENETUNREACH):
				err = fmt.Errorf("%w: %s is not on a network this machine is attached to; pods reach other nodes' pods only when the machines share a network segment", err, w.via)
			case errors.Is(err, unix.EEXIST):
				err = fmt.Errorf("this machine has a route to %s that drover did not make (see ip route): remove it for the node's pods to be reachable", p)
			}
			errs = append(errs, fmt.Errorf("route to node %s's pods (%s) via %s: %w", w.node, p, w.via, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveRoutes removes every route the agent made (the machine leaves the cluster).
func RemoveRoutes() error { return syncRoutes(nil) }

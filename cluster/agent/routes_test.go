package agent

import (
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drover/drover/internal/testutil"
)

func node(name, podCIDR, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{PodCIDR: podCIDR}}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}
	}
	return n
}

func TestPeerRoutes(t *testing.T) {
	cluster := netip.MustParsePrefix("10.244.0.0/16")
	got := peerRoutes("n1", cluster, []*corev1.Node{
		node("n1", "10.244.1.0/24", "10.0.0.1"), // itself
		node("n2", "10.244.2.0/24", "10.0.0.2"), // routed
		node("n3", "", "10.0.0.3"),              // no podCIDR yet
		node("n4", "10.244.4.0/24", ""),         // no InternalIP yet
		node("n5", "0.0.0.0/1", "10.0.0.5"),     // outside the cluster's range
		node("n6", "10.244.0.0/15", "10.0.0.6"), // wider than the cluster's range
		node("n7", "fd00:1::/64", "10.0.0.7"),   // not IPv4
		node("n8", "10.244.8.0/24", "fd00::8"),  // no IPv4 InternalIP
		node("n9", "10.244.9.0/24", "10.0.0.9"), // routed
	})
	want := map[netip.Prefix]peerRoute{
		netip.MustParsePrefix("10.244.2.0/24"): {node: "n2", via: netip.MustParseAddr("10.0.0.2")},
		netip.MustParsePrefix("10.244.9.0/24"): {node: "n9", via: netip.MustParseAddr("10.0.0.9")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got %v, want %v", p, got[p], w)
		}
	}
}

// TestSyncRoutes makes, corrects and removes routes in a network namespace of its own,
// next to a route of someone else's that must stay.
func TestSyncRoutes(t *testing.T) {
	testutil.RequiresRoot(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	host, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	ns, err := netns.New() // and enter it
	if err != nil {
		t.Fatal(err)
	}
	defer func() { netns.Set(host); ns.Close() }()

	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "seg0"}}
	addr, _ := netlink.ParseAddr("10.99.0.1/24")
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(br, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		t.Fatal(err)
	}
	_, other, _ := net.ParseCIDR("10.98.0.0/24")
	if err := netlink.RouteAdd(&netlink.Route{Dst: other, Gw: net.ParseIP("10.99.0.9"), Protocol: unix.RTPROT_STATIC}); err != nil {
		t.Fatal(err)
	}
	routes := func() map[string]string {
		rs, err := netlink.RouteList(nil, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rs {
			if r.Dst != nil && r.Gw != nil {
				out[r.Dst.String()] = r.Gw.String()
				if r.Protocol != routeProtocol && r.Dst.String() != "10.98.0.0/24" && r.Dst.String() != "10.244.7.0/24" {
					t.Errorf("route to %s has protocol %d", r.Dst, r.Protocol)
				}
			}
		}
		return out
	}
	pr := func(node, via string) peerRoute { return peerRoute{node: node, via: netip.MustParseAddr(via)} }

	if err := syncRoutes(map[netip.Prefix]peerRoute{
		netip.MustParsePrefix("10.244.1.0/24"): pr("n2", "10.99.0.2"),
		netip.MustParsePrefix("10.244.2.0/24"): pr("n3", "10.99.0.3"),
	}); err != nil {
		t.Fatal(err)
	}
	if got := routes(); got["10.244.1.0/24"] != "10.99.0.2" || got["10.244.2.0/24"] != "10.99.0.3" || got["10.98.0.0/24"] != "10.99.0.9" {
		t.Fatalf("after the first sync: %v", got)
	}
	// n2 left, n3 moved to another address.
	if err := syncRoutes(map[netip.Prefix]peerRoute{netip.MustParsePrefix("10.244.2.0/24"): pr("n3", "10.99.0.4")}); err != nil {
		t.Fatal(err)
	}
	if got := routes(); len(got) != 2 || got["10.244.2.0/24"] != "10.99.0.4" || got["10.98.0.0/24"] != "10.99.0.9" {
		t.Fatalf("after the second sync: %v", got)
	}
	// A node off this machine's segments: a clear error, the other routes unharmed.
	err = syncRoutes(map[netip.Prefix]peerRoute{
		netip.MustParsePrefix("10.244.2.0/24"): pr("n3", "10.99.0.4"),
		netip.MustParsePrefix("10.244.5.0/24"): pr("n5", "192.0.2.5"),
	})
	if err == nil || !strings.Contains(err.Error(), "n5") || !strings.Contains(err.Error(), "share a network segment") {
		t.Errorf("an unreachable node: %v", err)
	}
	if got := routes(); got["10.244.2.0/24"] != "10.99.0.4" {
		t.Errorf("after the failed sync: %v", got)
	}
	// Someone else's route to a node's pod range is left alone, and reported.
	_, foreign, _ := net.ParseCIDR("10.244.7.0/24")
	if err := netlink.RouteAdd(&netlink.Route{Dst: foreign, Gw: net.ParseIP("10.99.0.8"), Protocol: unix.RTPROT_STATIC}); err != nil {
		t.Fatal(err)
	}
	err = syncRoutes(map[netip.Prefix]peerRoute{netip.MustParsePrefix("10.244.7.0/24"): pr("n7", "10.99.0.7")})
	if err == nil || !strings.Contains(err.Error(), "did not make") {
		t.Errorf("a foreign route in the way: %v", err)
	}
	if got := routes(); got["10.244.7.0/24"] != "10.99.0.8" {
		t.Errorf("the foreign route was changed: %v", got)
	}
	if err := netlink.RouteDel(&netlink.Route{Dst: foreign, Gw: net.ParseIP("10.99.0.8"), Protocol: unix.RTPROT_STATIC}); err != nil {
		t.Fatal(err)
	}
	if err := RemoveRoutes(); err != nil {
		t.Fatal(err)
	}
	if got := routes(); len(got) != 1 || got["10.98.0.0/24"] != "10.99.0.9" {
		t.Errorf("after RemoveRoutes: %v", got)
	}
}

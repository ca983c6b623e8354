package network

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestTwoNamespacesOneNetwork(t *testing.T) {
	m := newTestManager(t, Config{})
	nsA, nsB := newNS(t, m, "ca"), newNS(t, m, "cb")
	a, err := m.Attach(nsA, AttachOptions{ContainerID: "ca", Network: DefaultNetwork})
	if err != nil {
		t.Fatalf("Attach a: %v", err)
	}
	if _, err := m.Attach(nsB, AttachOptions{ContainerID: "cb", Network: DefaultNetwork}); err != nil {
		t.Fatalf("Attach b: %v", err)
	}
	addr := serveHTTP(t, nsA, net.JoinHostPort(a.IP, "8080"), "hello from a")
	body, err := get(t, nsB, addr)
	if err != nil || body != "hello from a" {
		t.Fatalf("get %s from b: %q, %v", addr, body, err)
	}
}

func TestTwoNetworksAreIsolated(t *testing.T) {
	forEachFirewall(t, func(t *testing.T, fw string) {
		m := newTestManager(t, Config{Firewall: fw})
		other, err := m.Create(CreateOptions{Name: "other"})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		nsA, nsB, nsC := newNS(t, m, "ca"), newNS(t, m, "cb"), newNS(t, m, "cc")
		a := mustAttach(t, m, nsA, AttachOptions{ContainerID: "ca", Network: DefaultNetwork})
		mustAttach(t, m, nsB, AttachOptions{ContainerID: "cb", Network: other.Name})
		mustAttach(t, m, nsC, AttachOptions{ContainerID: "cc", Network: DefaultNetwork})
		addr := serveHTTP(t, nsA, net.JoinHostPort(a.IP, "8080"), "a")

		// Positive control: a peer on the same network gets through.
		if body, err := get(t, nsC, addr); err != nil || body != "a" {
			t.Fatalf("same network: %q, %v", body, err)
		}
		if body, err := get(t, nsB, addr); err == nil {
			t.Fatalf("other network reached %s: %q", addr, body)
		}
	})
}

func TestInternalNetworkCannotLeave(t *testing.T) {
	forEachFirewall(t, func(t *testing.T, fw string) {
		m := newTestManager(t, Config{Firewall: fw})
		internal, err := m.Create(CreateOptions{Name: "internal", Internal: true})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		// A host address outside every drover network, with a server on it.
		hostIP := "198.18.77.1"
		addHostLink(t, m.Prefix()[:3]+"dum", hostIP+"/32")
		addr := serveHTTP(t, "", net.JoinHostPort(hostIP, "0"), "host")

		nsI, nsI2, nsP := newNS(t, m, "ci"), newNS(t, m, "ci2"), newNS(t, m, "cp")
		i := mustAttach(t, m, nsI, AttachOptions{ContainerID: "ci", Network: internal.Name})
		mustAttach(t, m, nsI2, AttachOptions{ContainerID: "ci2", Network: internal.Name})
		mustAttach(t, m, nsP, AttachOptions{ContainerID: "cp", Network: DefaultNetwork})
		if i.DefaultRoute {
			t.Errorf("endpoint on an internal network got the default route")
		}
		// Give the internal container a route anyway, so that only the firewall stops it.
		if err := inNS(t, nsI, func() error {
			l, err := netlink.LinkByName(i.IfName)
			if err != nil {
				return err
			}
			return netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(i.Gateway)})
		}); err != nil {
			t.Fatalf("add route: %v", err)
		}

		// Positive control: a container on a normal network reaches the host address.
		if body, err := get(t, nsP, addr); err != nil || body != "host" {
			t.Fatalf("normal network to host: %q, %v", body, err)
		}
		if body, err := get(t, nsI, addr); err == nil {
			t.Fatalf("internal network reached the host at %s: %q", addr, body)
		}
		// Inside the internal network traffic still flows.
		peer := serveHTTP(t, nsI, net.JoinHostPort(i.IP, "8080"), "i")
		if body, err := get(t, nsI2, peer); err != nil || body != "i" {
			t.Fatalf("inside internal network: %q, %v", body, err)
		}
	})
}

// TestNonMasqueradeKeepsSourceAddress: traffic from a network to one of its
// non-masquerade destinations (another machine's pods, routed) arrives with the
// container's own address; to anywhere else it is masqueraded as before.
func TestNonMasqueradeKeepsSourceAddress(t *testing.T) {
	forEachFirewall(t, func(t *testing.T, fw string) {
		m := newTestManager(t, Config{Firewall: fw})
		routed, err := m.Create(CreateOptions{Name: "routed", NonMasquerade: []string{"198.18.78.0/24"}})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if got := routed.NonMasquerade; len(got) != 1 || got[0] != "198.18.78.0/24" {
			t.Errorf("NonMasquerade = %v", got)
		}
		// A remote machine: a namespace behind a veth, with an address in the routed
		// range and one outside it, and a route back to the network's subnet via the host.
		remote := newNS(t, m, "remote")
		hostIf, remoteIf := m.Prefix()[:3]+"rh", m.Prefix()[:3]+"rr"
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostIf}, PeerName: remoteIf}); err != nil {
			t.Fatalf("veth: %v", err)
		}
		t.Cleanup(func() { deleteLink(hostIf) })
		host, _ := netlink.LinkByName(hostIf)
		peer, _ := netlink.LinkByName(remoteIf)
		hostAddr, _ := netlink.ParseAddr("198.18.78.1/24")
		if err := errors.Join(netlink.AddrAdd(host, hostAddr), netlink.LinkSetUp(host)); err != nil {
			t.Fatal(err)
		}
		fd, err := os.Open(remote)
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		if err := netlink.LinkSetNsFd(peer, int(fd.Fd())); err != nil {
			t.Fatal(err)
		}
		if err := inNS(t, remote, func() error {
			l, err := netlink.LinkByName(remoteIf)
			if err != nil {
				return err
			}
			a1, _ := netlink.ParseAddr("198.18.78.2/24")
			a2, _ := netlink.ParseAddr("198.18.79.2/32")
			_, back, _ := net.ParseCIDR(routed.Subnet)
			lo, _ := netlink.LinkByName("lo")
			return errors.Join(netlink.AddrAdd(l, a1), netlink.AddrAdd(l, a2), netlink.LinkSetUp(l), netlink.LinkSetUp(lo),
				netlink.RouteAdd(&netlink.Route{Dst: back, Gw: net.ParseIP("198.18.78.1")}))
		}); err != nil {
			t.Fatalf("remote namespace: %v", err)
		}
		_, outside, _ := net.ParseCIDR("198.18.79.2/32")
		if err := netlink.RouteAdd(&netlink.Route{Dst: outside, Gw: net.ParseIP("198.18.78.2")}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { netlink.RouteDel(&netlink.Route{Dst: outside, Gw: net.ParseIP("198.18.78.2")}) })
		peerAddr := serveRemoteAddr(t, remote, "0.0.0.0:8080")
		_, port, _ := net.SplitHostPort(peerAddr)

		ns := newNS(t, m, "c1")
		c := mustAttach(t, m, ns, AttachOptions{ContainerID: "c1", Network: routed.Name})
		if got, err := get(t, ns, net.JoinHostPort("198.18.78.2", port)); err != nil || got != c.IP {
			t.Errorf("to a non-masquerade destination the source should stay %s: got %q, %v", c.IP, got, err)
		}
		if got, err := get(t, ns, net.JoinHostPort("198.18.79.2", port)); err != nil || got != "198.18.78.1" {
			t.Errorf("elsewhere the source should be masqueraded to 198.18.78.1: got %q, %v", got, err)
		}
	})
}

// serveRemoteAddr serves, inside the namespace at path, the address each client comes from.
func serveRemoteAddr(t *testing.T, path, addr string) string {
	t.Helper()
	var l net.Listener
	if err := inNS(t, path, func() (err error) {
		l, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, host)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

package network

import (
	"net"
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

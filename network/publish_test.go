package network

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/drover/drover/internal/errdefs"
)

func TestPublishedPortAnswersOnLoopback(t *testing.T) {
	forEachFirewall(t, func(t *testing.T, fw string) {
		m := newTestManager(t, Config{Firewall: fw})
		ns := newNS(t, m, "web")
		ep := mustAttach(t, m, ns, AttachOptions{ContainerID: "web", Network: DefaultNetwork})
		serveHTTP(t, ns, net.JoinHostPort(ep.IP, "80"), "published")

		got, err := m.Publish("web", []PortBinding{{ContainerPort: 80}})
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if len(got) != 1 || got[0].HostPort == 0 || got[0].Proto != "tcp" || got[0].HostIP != "0.0.0.0" {
			t.Fatalf("Publish returned %+v", got)
		}
		hostAddr := fmt.Sprintf("127.0.0.1:%d", got[0].HostPort)
		if body, err := get(t, "", hostAddr); err != nil || body != "published" {
			t.Fatalf("get %s: %q, %v", hostAddr, body, err)
		}

		// The port is held: another program cannot take it, and neither can a second
		// publish (even of another container).
		if l, err := net.Listen("tcp4", hostAddr); err == nil {
			l.Close()
			t.Fatalf("net.Listen on a published port succeeded")
		}
		ns2 := newNS(t, m, "web2")
		mustAttach(t, m, ns2, AttachOptions{ContainerID: "web2", Network: DefaultNetwork})
		_, err = m.Publish("web2", []PortBinding{{HostPort: got[0].HostPort, ContainerPort: 80}})
		want := fmt.Sprintf("port %d/tcp on 0.0.0.0 is already in use: pick another host port", got[0].HostPort)
		if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), want) {
			t.Fatalf("second Publish: got %v, want %q", err, want)
		}
		if ports := m.Ports("web2"); len(ports) != 0 {
			t.Fatalf("failed Publish left ports %+v", ports)
		}

		if err := m.Release("web"); err != nil {
			t.Fatalf("Release: %v", err)
		}
		l, err := net.Listen("tcp4", hostAddr)
		if err != nil {
			t.Fatalf("port still taken after Release: %v", err)
		}
		l.Close()
		if eps := m.Endpoints("web"); len(eps) != 0 {
			t.Fatalf("endpoints after Release: %+v", eps)
		}
	})
}

func TestPublishSpecificHostIPAndUDP(t *testing.T) {
	m := newTestManager(t, Config{})
	ns := newNS(t, m, "c")
	ep := mustAttach(t, m, ns, AttachOptions{ContainerID: "c", Network: DefaultNetwork})
	serveHTTP(t, ns, net.JoinHostPort(ep.IP, "8080"), "ok")
	got, err := m.Publish("c", []PortBinding{
		{HostIP: "127.0.0.1", ContainerPort: 8080},
		{ContainerPort: 53, Proto: "UDP"},
	})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if got[0].HostIP != "127.0.0.1" || got[1].Proto != "udp" || got[1].HostPort == 0 {
		t.Fatalf("Publish returned %+v", got)
	}
	if body, err := get(t, "", fmt.Sprintf("127.0.0.1:%d", got[0].HostPort)); err != nil || body != "ok" {
		t.Fatalf("get: %q, %v", body, err)
	}
	// The UDP port is held as a bound socket.
	if c, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", got[1].HostPort)); err == nil {
		c.Close()
		t.Fatalf("udp port not held")
	}
}

func TestPublishBadInput(t *testing.T) {
	m := newTestManager(t, Config{})
	internal, err := m.Create(CreateOptions{Name: "int", Internal: true})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNS(t, m, "c")
	mustAttach(t, m, ns, AttachOptions{ContainerID: "c", Network: DefaultNetwork})
	nsI := newNS(t, m, "i")
	mustAttach(t, m, nsI, AttachOptions{ContainerID: "i", Network: internal.Name})
	tests := []struct {
		name, id string
		ports    []PortBinding
		want     error
	}{
		{"no endpoint", "nobody", []PortBinding{{ContainerPort: 80}}, errdefs.ErrConflict},
		{"internal only", "i", []PortBinding{{ContainerPort: 80}}, errdefs.ErrConflict},
		{"bad proto", "c", []PortBinding{{ContainerPort: 80, Proto: "sctp"}}, errdefs.ErrInvalidArgument},
		{"no container port", "c", []PortBinding{{}}, errdefs.ErrInvalidArgument},
		{"ipv6 host ip", "c", []PortBinding{{HostIP: "::1", ContainerPort: 80}}, errdefs.ErrInvalidArgument},
		{"foreign host ip", "c", []PortBinding{{HostIP: "203.0.113.9", ContainerPort: 80}}, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Publish(tt.id, tt.ports)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if p := m.Ports(tt.id); len(p) != 0 {
				t.Fatalf("ports left: %+v", p)
			}
		})
	}
}

func TestPublishedPortFromOtherNetwork(t *testing.T) {
	forEachFirewall(t, func(t *testing.T, fw string) {
		m := newTestManager(t, Config{Firewall: fw})
		other, err := m.Create(CreateOptions{Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		ns, client := newNS(t, m, "web"), newNS(t, m, "client")
		ep := mustAttach(t, m, ns, AttachOptions{ContainerID: "web", Network: DefaultNetwork})
		mustAttach(t, m, client, AttachOptions{ContainerID: "client", Network: other.Name})
		serveHTTP(t, ns, net.JoinHostPort(ep.IP, "80"), "published")
		got, err := m.Publish("web", []PortBinding{{ContainerPort: 80}})
		if err != nil {
			t.Fatal(err)
		}
		// The default bridge's gateway is a host address: this goes through prerouting.
		addr := fmt.Sprintf("%s:%d", ep.Gateway, got[0].HostPort)
		if body, err := get(t, client, addr); err != nil || body != "published" {
			t.Fatalf("get %s from other network: %q, %v", addr, body, err)
		}
		// Hairpin: the container reaches its own published port through the host.
		if body, err := get(t, ns, addr); err != nil || body != "published" {
			t.Fatalf("get %s from the container itself: %q, %v", addr, body, err)
		}
		// Without the published port the other network still cannot reach the container.
		if body, err := get(t, client, net.JoinHostPort(ep.IP, "80")); err == nil {
			t.Fatalf("other network reached the container directly: %q", body)
		}
	})
}

package network

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/drover/drover/internal/errdefs"
	"golang.org/x/sys/unix"
)

// Publish forwards host ports to the container. Every host port is reserved first (a
// bound socket the manager holds), so a port in use fails before any rule is written;
// then the nftables DNAT rules are rewritten. HostPort 0 picks a free port. The returned
// bindings have HostIP, HostPort and Proto filled in. A second Publish adds to the first.
func (m *Manager) Publish(containerID string, ports []PortBinding) ([]PortBinding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return nil, err
	}
	var target *Endpoint
	for _, e := range m.containerEndpoints(containerID) {
		if n := m.nets[e.NetworkID]; n != nil && !n.Internal {
			target = &e
			break
		}
	}
	if target == nil {
		return nil, fmt.Errorf("publish ports of %s: the container has no endpoint on a non-internal network: connect it to one first: %w", shortID(containerID), errdefs.ErrConflict)
	}
	if rec := m.ports[containerID]; rec != nil && rec.NetworkID != target.NetworkID {
		return nil, fmt.Errorf("publish ports of %s: ports are already published to network %s: %w", shortID(containerID), rec.NetworkID, errdefs.ErrConflict)
	}
	bindings, err := normalizeBindings(ports)
	if err != nil {
		return nil, err
	}
	rs, err := reserveAll(bindings)
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		bindings[i].HostPort = r.port
	}
	prev := m.ports[containerID]
	rec := &portRecord{ContainerID: containerID, NetworkID: target.NetworkID, TargetIP: target.IP}
	if prev != nil {
		rec.Bindings = append(rec.Bindings, prev.Bindings...)
	}
	rec.Bindings = append(rec.Bindings, bindings...)
	if err := m.st.put(bucketPorts, []byte(containerID), rec); err != nil {
		releaseAll(rs)
		return nil, fmt.Errorf("publish ports of %s: save: %w", shortID(containerID), err)
	}
	m.ports[containerID] = rec
	m.held[containerID] = append(m.held[containerID], rs...)
	if err := m.sync(); err != nil {
		// Put the previous state back, rules included.
		errs := []error{err}
		if prev != nil {
			m.ports[containerID] = prev
			errs = append(errs, m.st.put(bucketPorts, []byte(containerID), prev))
		} else {
			delete(m.ports, containerID)
			errs = append(errs, m.st.del(bucketPorts, []byte(containerID)))
		}
		m.held[containerID] = m.held[containerID][:len(m.held[containerID])-len(rs)]
		releaseAll(rs)
		errs = append(errs, m.sync())
		return nil, fmt.Errorf("publish ports of %s: %w", shortID(containerID), errors.Join(errs...))
	}
	return bindings, nil
}

// Unpublish removes every published port of the container and frees the host ports.
func (m *Manager) Unpublish(containerID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	return m.unpublish(containerID)
}

func (m *Manager) unpublish(containerID string) error {
	if m.ports[containerID] != nil {
		if err := m.st.del(bucketPorts, []byte(containerID)); err != nil {
			return fmt.Errorf("unpublish ports of %s: %w", shortID(containerID), err)
		}
		delete(m.ports, containerID)
		if err := m.sync(); err != nil {
			return fmt.Errorf("unpublish ports of %s: %w", shortID(containerID), err)
		}
	}
	// Free the ports only once no rule points at them any more.
	releaseAll(m.held[containerID])
	delete(m.held, containerID)
	return nil
}

// Ports returns the container's published ports.
func (m *Manager) Ports(containerID string) []PortBinding {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec := m.ports[containerID]; rec != nil {
		return append([]PortBinding(nil), rec.Bindings...)
	}
	return nil
}

// normalizeBindings validates bindings and fills in defaults (tcp, 0.0.0.0).
func normalizeBindings(in []PortBinding) ([]PortBinding, error) {
	out := make([]PortBinding, 0, len(in))
	for _, b := range in {
		b.Proto = strings.ToLower(b.Proto)
		if b.Proto == "" {
			b.Proto = "tcp"
		}
		if b.Proto != "tcp" && b.Proto != "udp" {
			return nil, fmt.Errorf("port protocol %q: use tcp or udp: %w", b.Proto, errdefs.ErrInvalidArgument)
		}
		if b.ContainerPort == 0 {
			return nil, fmt.Errorf("container port 0/%s: give the port the container listens on: %w", b.Proto, errdefs.ErrInvalidArgument)
		}
		ip := netip.IPv4Unspecified()
		if b.HostIP != "" {
			a, err := netip.ParseAddr(b.HostIP)
			if err != nil || !a.Is4() {
				return nil, fmt.Errorf("host IP %q: only IPv4 addresses are supported: %w", b.HostIP, errdefs.ErrInvalidArgument)
			}
			ip = a
		}
		b.HostIP = ip.String()
		out = append(out, b)
	}
	return out, nil
}

// reserveAll reserves every binding's host port, all or none.
func reserveAll(bindings []PortBinding) ([]*reservation, error) {
	var rs []*reservation
	for _, b := range bindings {
		ip, err := netip.ParseAddr(b.HostIP)
		if err != nil {
			ip = netip.IPv4Unspecified()
		}
		r, err := reservePort(b.Proto, ip, b.HostPort)
		if err != nil {
			releaseAll(rs)
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func protoNumber(p string) byte {
	if p == "udp" {
		return unix.IPPROTO_UDP
	}
	return unix.IPPROTO_TCP
}

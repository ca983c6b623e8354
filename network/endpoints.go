package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drover/drover/internal/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Attach connects the namespace at netnsPath to a network: it allocates an address,
// creates a veth pair with one end inside the namespace (renamed, addressed, up, with the
// default route when it is the container's first non-internal network) and the other on
// the bridge. The allocation is recorded first and everything is undone on failure.
func (m *Manager) Attach(netnsPath string, o AttachOptions) (Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return Endpoint{}, err
	}
	if err := validContainerID(o.ContainerID); err != nil {
		return Endpoint{}, err
	}
	n, err := m.lookup(o.Network)
	if err != nil {
		return Endpoint{}, err
	}
	key := string(endpointKey(o.ContainerID, n.ID))
	if m.eps[key] != nil {
		return Endpoint{}, fmt.Errorf("container %s is already connected to network %s: %w", shortID(o.ContainerID), n.Name, errdefs.ErrAlreadyExists)
	}
	mine := m.containerEndpoints(o.ContainerID)
	ifName, err := pickIfName(o.IfName, mine)
	if err != nil {
		return Endpoint{}, err
	}
	ip, err := m.allocate(n, o.IP)
	if err != nil {
		return Endpoint{}, err
	}
	mac := macFromIP(ip)
	if o.MAC != "" {
		if mac, err = net.ParseMAC(o.MAC); err != nil || len(mac) != 6 || mac[0]&1 == 1 {
			return Endpoint{}, fmt.Errorf("MAC address %q: want a unicast Ethernet address like 02:42:ac:11:00:02: %w", o.MAC, errdefs.ErrInvalidArgument)
		}
	}
	hasDefault := false
	for _, e := range mine {
		hasDefault = hasDefault || e.DefaultRoute
	}
	subnet := netip.MustParsePrefix(n.Subnet)
	ep := &Endpoint{
		ContainerID:  o.ContainerID,
		Network:      n.Name,
		NetworkID:    n.ID,
		IfName:       ifName,
		HostIf:       randomVethName(m.cfg.vethPrefix()),
		IP:           ip.String(),
		MAC:          mac.String(),
		Gateway:      n.Gateway,
		PrefixLen:    subnet.Bits(),
		Aliases:      append([]string(nil), o.Aliases...),
		NetnsPath:    netnsPath,
		DefaultRoute: !n.Internal && !hasDefault,
	}
	// Record first: a crash from here on leaves a record Restore can clean up, never
	// an unrecorded veth or a doubly handed-out address.
	prevLast := n.LastIP
	n.LastIP = ep.IP
	if err := m.st.put(bucketNetworks, []byte(n.ID), n); err != nil {
		n.LastIP = prevLast
		return Endpoint{}, fmt.Errorf("attach %s to %s: save: %w", shortID(o.ContainerID), n.Name, err)
	}
	if err := m.st.put(bucketEndpoints, []byte(key), ep); err != nil {
		n.LastIP = prevLast
		m.st.put(bucketNetworks, []byte(n.ID), n)
		return Endpoint{}, fmt.Errorf("attach %s to %s: save: %w", shortID(o.ContainerID), n.Name, err)
	}
	m.eps[key] = ep
	if err := plumb(netnsPath, ep, n.Bridge, mac); err != nil {
		delete(m.eps, key)
		n.LastIP = prevLast
		errs := []error{err, deleteLink(ep.HostIf), m.st.del(bucketEndpoints, []byte(key)), m.st.put(bucketNetworks, []byte(n.ID), n)}
		return Endpoint{}, fmt.Errorf("attach %s to network %s: %w", shortID(o.ContainerID), n.Name, errors.Join(errs...))
	}
	return copyEndpoint(ep), nil
}

// plumb creates the veth pair for ep and configures both ends.
func plumb(netnsPath string, ep *Endpoint, bridge string, mac net.HardwareAddr) error {
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", netnsPath, err)
	}
	defer ns.Close()
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", bridge, err)
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: ep.HostIf, MasterIndex: br.Attrs().Index, MTU: br.Attrs().MTU},
		PeerName:         ep.IfName,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(ns),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create veth: an interface named %s already exists in the container: %w", ep.IfName, errdefs.ErrConflict)
		}
		return fmt.Errorf("create veth %s: %w", ep.HostIf, err)
	}
	host, err := netlink.LinkByName(ep.HostIf)
	if err != nil {
		return fmt.Errorf("find veth %s: %w", ep.HostIf, err)
	}
	// Hairpin lets a container reach its own published port through the host: with
	// br_netfilter the DNATed packet is bridged back out the port it came in on.
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("set hairpin on veth %s: %w", ep.HostIf, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("set veth %s up: %w", ep.HostIf, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in netns %s: %w", netnsPath, err)
	}
	defer h.Close()
	peer, err := h.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("find %s in netns: %w", ep.IfName, err)
	}
	ipnet := &net.IPNet{IP: net.ParseIP(ep.IP).To4(), Mask: net.CIDRMask(ep.PrefixLen, 32)}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipnet}); err != nil {
		return fmt.Errorf("add address %s to %s: %w", ipnet, ep.IfName, err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("set %s up: %w", ep.IfName, err)
	}
	if ep.DefaultRoute {
		route := &netlink.Route{LinkIndex: peer.Attrs().Index, Gw: net.ParseIP(ep.Gateway).To4()}
		if err := h.RouteReplace(route); err != nil {
			return fmt.Errorf("add default route via %s: %w", ep.Gateway, err)
		}
	}
	return nil
}

// allocate returns the explicit address if it is valid and free, else the next free one.
func (m *Manager) allocate(n *netRecord, want string) (netip.Addr, error) {
	subnet := netip.MustParsePrefix(n.Subnet)
	gw := netip.MustParseAddr(n.Gateway)
	used := map[netip.Addr]bool{gw: true}
	for _, e := range m.eps {
		if e.NetworkID == n.ID {
			used[netip.MustParseAddr(e.IP)] = true
		}
	}
	if want != "" {
		a, err := parseAddrIn("IP address", want, subnet)
		if err != nil {
			return netip.Addr{}, err
		}
		if a == gw {
			return netip.Addr{}, fmt.Errorf("IP address %s is the gateway of network %s: pick another: %w", a, n.Name, errdefs.ErrConflict)
		}
		if used[a] {
			return netip.Addr{}, fmt.Errorf("IP address %s is already in use on network %s: pick another: %w", a, n.Name, errdefs.ErrConflict)
		}
		return a, nil
	}
	var last netip.Addr
	if n.LastIP != "" {
		last, _ = netip.ParseAddr(n.LastIP)
	}
	return nextFree(subnet, last, used)
}

// pickIfName validates an explicit name or returns the first unused ethN.
func pickIfName(want string, mine []Endpoint) (string, error) {
	taken := map[string]bool{}
	for _, e := range mine {
		taken[e.IfName] = true
	}
	if want != "" {
		if len(want) > 15 || strings.ContainsAny(want, "/ \t\n:") || want == "." || want == ".." {
			return "", fmt.Errorf("interface name %q is invalid: use at most 15 characters without '/', ':' or spaces: %w", want, errdefs.ErrInvalidArgument)
		}
		if taken[want] {
			return "", fmt.Errorf("interface name %s is already used by the container: %w", want, errdefs.ErrConflict)
		}
		return want, nil
	}
	for i := 0; ; i++ {
		if name := fmt.Sprintf("eth%d", i); !taken[name] {
			return name, nil
		}
	}
}

// Detach disconnects a container from a network: its veth goes (the end inside the
// namespace with it), its address is released and ports published to it are dropped.
func (m *Manager) Detach(containerID, network string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	n, err := m.lookup(network)
	if err != nil {
		return err
	}
	key := string(endpointKey(containerID, n.ID))
	if m.eps[key] == nil {
		return fmt.Errorf("container %s is not connected to network %s: %w", shortID(containerID), n.Name, errdefs.ErrNotFound)
	}
	if rec := m.ports[containerID]; rec != nil && rec.NetworkID == n.ID {
		if err := m.unpublish(containerID); err != nil {
			return err
		}
	}
	hadDefault := m.eps[key].DefaultRoute
	if err := m.detach(key, false); err != nil {
		return err
	}
	if hadDefault {
		m.moveDefaultRoute(containerID)
	}
	return nil
}

// moveDefaultRoute gives the default route to another non-internal endpoint of the
// container after the one holding it went, as a container keeps its way out while it
// has one. Failures leave the container without a default route, nothing worse.
func (m *Manager) moveDefaultRoute(containerID string) {
	for _, e := range m.containerEndpoints(containerID) {
		n := m.nets[e.NetworkID]
		if n == nil || n.Internal {
			continue
		}
		h, closeFn, err := handleAt(e.NetnsPath)
		if err != nil {
			return
		}
		defer closeFn()
		link, err := h.LinkByName(e.IfName)
		if err != nil {
			return
		}
		if err := h.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.ParseIP(e.Gateway).To4()}); err != nil {
			return
		}
		key := string(endpointKey(containerID, e.NetworkID))
		m.eps[key].DefaultRoute = true
		m.st.put(bucketEndpoints, []byte(key), m.eps[key])
		return
	}
}

// detach removes an endpoint: its record and address, and its veth unless the caller is
// about to remove the endpoint's namespace (keepLink), which takes the veth pair with it.
func (m *Manager) detach(key string, keepLink bool) error {
	ep := m.eps[key]
	if !keepLink {
		if err := deleteLink(ep.HostIf); err != nil {
			return fmt.Errorf("detach %s from %s: %w", shortID(ep.ContainerID), ep.Network, err)
		}
	}
	if err := m.st.del(bucketEndpoints, []byte(key)); err != nil {
		return fmt.Errorf("detach %s from %s: %w", shortID(ep.ContainerID), ep.Network, err)
	}
	delete(m.eps, key)
	return nil
}

// Endpoints returns a container's endpoints, ordered by interface name.
func (m *Manager) Endpoints(containerID string) []Endpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.containerEndpoints(containerID)
}

func (m *Manager) containerEndpoints(containerID string) []Endpoint {
	var out []Endpoint
	for _, e := range m.eps {
		if e.ContainerID == containerID {
			out = append(out, copyEndpoint(e))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IfName < out[j].IfName })
	return out
}

// Release undoes all networking of a removed container: published ports, endpoints and
// its namespace file at NamespacePath.
func (m *Manager) Release(containerID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	return m.release(containerID)
}

func (m *Manager) release(containerID string) error {
	var errs []error
	if m.ports[containerID] != nil || m.held[containerID] != nil {
		errs = append(errs, m.unpublish(containerID))
	}
	paths := map[string]bool{m.NamespacePath(containerID): true}
	for key, e := range m.eps {
		if e.ContainerID != containerID {
			continue
		}
		// A namespace of our own goes below, and the kernel deletes its veths with it,
		// off the caller's path: deleting a veth here waits ~15 ms for RCU.
		ours := filepath.Dir(e.NetnsPath) == filepath.Clean(m.cfg.NetnsDir)
		if ours {
			paths[e.NetnsPath] = true
		}
		errs = append(errs, m.detach(key, ours))
	}
	for p := range paths {
		errs = append(errs, RemoveNamespace(p))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("release network of %s: %w", shortID(containerID), err)
	}
	return nil
}

// Restore runs at daemon start: it releases everything of containers that are no longer
// alive (endpoints, ports, namespace files) and makes sure the port reservations of the
// others are held.
func (m *Manager) Restore(alive func(containerID string) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, e := range m.eps {
		ids[e.ContainerID] = true
	}
	for cid := range m.ports {
		ids[cid] = true
	}
	if entries, err := os.ReadDir(m.cfg.NetnsDir); err == nil {
		for _, ent := range entries {
			// Directories hold the other namespace files of a pod (the daemon's).
			if !ent.IsDir() {
				ids[ent.Name()] = true
			}
		}
	}
	var errs []error
	for cid := range ids {
		if alive(cid) {
			continue
		}
		errs = append(errs, m.release(cid))
	}
	for cid, rec := range m.ports {
		if m.held[cid] != nil {
			continue
		}
		rs, err := reserveAll(rec.Bindings)
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", shortID(cid), err))
			continue
		}
		m.held[cid] = rs
	}
	errs = append(errs, m.sync())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore networks: %w", err)
	}
	return nil
}

// validContainerID keeps IDs usable as file names under NetnsDir and as state keys.
func validContainerID(id string) error {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return fmt.Errorf("container ID %q is invalid: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

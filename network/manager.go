package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/drover/drover/internal/errdefs"
	"github.com/vishvananda/netlink"
)

// Manager owns drover's networks on this host. It is safe for concurrent use.
type Manager struct {
	cfg Config
	fw  firewall

	mu    sync.Mutex
	st    *store
	nets  map[string]*netRecord  // by network ID
	eps   map[string]*Endpoint   // by endpointKey(containerID, networkID)
	ports map[string]*portRecord // by container ID
	held  map[string][]*reservation
}

// New opens the state, makes sure the default network exists and re-creates whatever
// host state the persisted state describes but the host lacks (bridges, rules, port
// reservations) after a daemon restart, crash or reboot. Calling it again is harmless.
func New(cfg Config) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	fw, err := pickFirewall(cfg)
	if err != nil {
		return nil, err
	}
	st, err := openStore(cfg.StateFile)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, fw: fw, st: st, held: map[string][]*reservation{}}
	if err := m.start(); err != nil {
		m.mu.Lock()
		m.releaseHeld()
		if len(m.eps) == 0 {
			// Bridges nothing uses yet: a failed start leaves none behind.
			for _, n := range m.nets {
				deleteLink(n.Bridge)
			}
		}
		m.mu.Unlock()
		st.close()
		// The namespace directory mount goes too, unless namespaces live in it.
		if entries, rerr := os.ReadDir(cfg.NetnsDir); rerr == nil && len(entries) == 0 {
			releaseNetnsDir(cfg.NetnsDir)
		}
		return nil, err
	}
	return m, nil
}

// start loads the state and brings the host in line with it.
func (m *Manager) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	if m.nets, m.eps, m.ports, err = m.st.load(); err != nil {
		return err
	}
	// Containers reach anything beyond their bridge only through the host's routing.
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	if err := ensureNetnsDir(m.cfg.NetnsDir); err != nil {
		return err
	}
	unlock, err := lockHost()
	if err != nil {
		return err
	}
	if m.byName(DefaultNetwork) == nil {
		err = m.createDefault()
	}
	for _, n := range m.nets {
		if err == nil {
			err = m.ensureNetworkLinks(n)
		}
	}
	unlock()
	if err != nil {
		return err
	}
	for _, e := range m.eps {
		// A bridge re-created above lost its ports; put surviving veths back on it.
		if n := m.nets[e.NetworkID]; n != nil {
			enslave(e.HostIf, n.Bridge)
		}
	}
	for cid, rec := range m.ports {
		if _, ok := m.held[cid]; ok {
			continue
		}
		rs, err := reserveAll(rec.Bindings)
		if err != nil {
			// The rules still forward the port; only the guard against other
			// programs is missing, which is worth a warning and not a failed start.
			m.cfg.Logf("network: container %s: %v", cid, err)
			continue
		}
		m.held[cid] = rs
	}
	return m.sync()
}

// createDefault creates the record of the default network; ensureNetworkLinks makes it.
func (m *Manager) createDefault() error {
	var subnet netip.Prefix
	var err error
	if m.cfg.DefaultSubnet != "" {
		if subnet, err = parseSubnet(m.cfg.DefaultSubnet); err != nil {
			return fmt.Errorf("default network: %w", err)
		}
		if err := m.checkSubnetFree(subnet); err != nil {
			return fmt.Errorf("default network: %w", err)
		}
	} else if subnet, err = m.pickSubnet(defaultCandidates()); err != nil {
		return fmt.Errorf("default network: %w", err)
	}
	rec := &netRecord{
		ID:      newID(),
		Name:    DefaultNetwork,
		Subnet:  subnet.String(),
		Gateway: uintAddr(addrUint(subnet.Addr()) + 1).String(),
		Bridge:  m.cfg.defaultBridge(),
		Created: time.Now().UTC(),
	}
	if err := m.st.put(bucketNetworks, []byte(rec.ID), rec); err != nil {
		return fmt.Errorf("save default network: %w", err)
	}
	m.nets[rec.ID] = rec
	return nil
}

// ensureNetworkLinks creates the bridge of n if it is missing.
func (m *Manager) ensureNetworkLinks(n *netRecord) error {
	subnet, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return fmt.Errorf("network %s: stored subnet %q: %w", n.Name, n.Subnet, err)
	}
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil {
		return fmt.Errorf("network %s: stored gateway %q: %w", n.Name, n.Gateway, err)
	}
	if err := ensureBridge(n.Bridge, gw, subnet.Bits()); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	return nil
}

// enslave puts a host veth on bridge if both exist; failures are left for Restore.
func enslave(hostIf, bridge string) {
	l, err := netlink.LinkByName(hostIf)
	if err != nil {
		return
	}
	br, err := netlink.LinkByName(bridge)
	if err != nil || l.Attrs().MasterIndex == br.Attrs().Index {
		return
	}
	netlink.LinkSetMaster(l, br)
	netlink.LinkSetHairpin(l, true)
	netlink.LinkSetUp(l)
}

// prefixes parses CIDRs a record holds (checked when it was made).
func prefixes(cidrs []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// sync rewrites the firewall rules from the in-memory state.
func (m *Manager) sync() error {
	var nets []ruleNet
	for _, n := range m.sortedNets() {
		nets = append(nets, ruleNet{
			Bridge:        n.Bridge,
			Subnet:        netip.MustParsePrefix(n.Subnet),
			Gateway:       netip.MustParseAddr(n.Gateway),
			Internal:      n.Internal,
			NonMasquerade: prefixes(n.NonMasquerade),
		})
	}
	var ports []rulePort
	cids := make([]string, 0, len(m.ports))
	for cid := range m.ports {
		cids = append(cids, cid)
	}
	sort.Strings(cids)
	for _, cid := range cids {
		rec := m.ports[cid]
		if m.eps[string(endpointKey(cid, rec.NetworkID))] == nil {
			continue // only to a network the container is still on
		}
		target := netip.MustParseAddr(rec.TargetIP)
		for _, b := range rec.Bindings {
			ports = append(ports, rulePort{
				HostIP:   netip.MustParseAddr(b.HostIP),
				HostPort: b.HostPort,
				Proto:    protoNumber(b.Proto),
				Target:   target,
				Port:     b.ContainerPort,
			})
		}
	}
	return m.fw.sync(nets, ports)
}

// Close closes the state file. Host objects stay: running containers keep their network.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.releaseHeld()
	if m.st == nil {
		return nil
	}
	err := m.st.close()
	m.st = nil
	return err
}

// releaseHeld closes every port reservation.
func (m *Manager) releaseHeld() {
	for cid, rs := range m.held {
		releaseAll(rs)
		delete(m.held, cid)
	}
}

// Destroy removes everything the manager made: veths, bridges, the nftables table,
// namespace files, port reservations and the state file itself. The manager is closed
// afterwards. It is for tests and `drover daemon --cleanup`.
func (m *Manager) Destroy() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	m.releaseHeld()
	for _, e := range m.eps {
		errs = append(errs, deleteLink(e.HostIf))
	}
	for _, n := range m.nets {
		// Ports of the bridge that the state lost track of (a crash mid-attach).
		ports, err := portsOf(n.Bridge)
		errs = append(errs, err)
		for _, p := range ports {
			errs = append(errs, deleteLink(p))
		}
		errs = append(errs, deleteLink(n.Bridge))
	}
	errs = append(errs, m.fw.remove())
	if entries, err := os.ReadDir(m.cfg.NetnsDir); err == nil {
		for _, ent := range entries {
			errs = append(errs, RemoveNamespace(filepath.Join(m.cfg.NetnsDir, ent.Name())))
		}
	}
	errs = append(errs, releaseNetnsDir(m.cfg.NetnsDir))
	if m.st != nil {
		errs = append(errs, m.st.close())
		m.st = nil
	}
	if err := os.Remove(m.cfg.StateFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	m.nets, m.eps, m.ports = map[string]*netRecord{}, map[string]*Endpoint{}, map[string]*portRecord{}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy networks: %w", err)
	}
	return nil
}

// NamespacePath is where the namespace file of a container lives by convention. Release
// and Restore remove the file there.
func (m *Manager) NamespacePath(containerID string) string {
	return filepath.Join(m.cfg.NetnsDir, containerID)
}

// Prefix returns the prefix every host object of the manager is named from.
func (m *Manager) Prefix() string { return m.cfg.Prefix }

// Firewall names the backend holding the rules: nftables or iptables.
func (m *Manager) Firewall() string { return m.fw.name() }

// checkOpen fails once Close or Destroy ran.
func (m *Manager) checkOpen() error {
	if m.st == nil {
		return fmt.Errorf("network manager is closed: %w", errdefs.ErrConflict)
	}
	return nil
}

func (m *Manager) byName(name string) *netRecord {
	for _, n := range m.nets {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// lookup resolves a name, a full ID or a unique ID prefix.
func (m *Manager) lookup(idOrName string) (*netRecord, error) {
	if idOrName == "" {
		return nil, fmt.Errorf("no network given: %w", errdefs.ErrInvalidArgument)
	}
	if n := m.byName(idOrName); n != nil {
		return n, nil
	}
	if n, ok := m.nets[idOrName]; ok {
		return n, nil
	}
	var found []*netRecord
	for id, n := range m.nets {
		if strings.HasPrefix(id, idOrName) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("network %s: %w", idOrName, errdefs.ErrNotFound)
	}
	return nil, fmt.Errorf("network ID prefix %s matches %d networks: give more of the ID: %w", idOrName, len(found), errdefs.ErrInvalidArgument)
}

func (m *Manager) sortedNets() []*netRecord {
	out := make([]*netRecord, 0, len(m.nets))
	for _, n := range m.nets {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// ownBridges names the manager's bridges, so subnet checks skip their routes.
func (m *Manager) ownBridges() map[string]bool {
	out := map[string]bool{}
	for _, n := range m.nets {
		out[n.Bridge] = true
	}
	return out
}

// checkSubnetFree refuses a subnet overlapping another network or a host route.
func (m *Manager) checkSubnetFree(p netip.Prefix) error {
	for _, n := range m.nets {
		if overlaps(p, netip.MustParsePrefix(n.Subnet)) {
			return fmt.Errorf("subnet %s overlaps network %s (%s): choose another subnet: %w", p, n.Name, n.Subnet, errdefs.ErrConflict)
		}
	}
	clash, err := hostClash(p, m.ownBridges())
	if err != nil {
		return err
	}
	if clash != "" {
		return fmt.Errorf("subnet %s overlaps %s: choose another subnet: %w", p, clash, errdefs.ErrConflict)
	}
	return nil
}

// pickSubnet returns the first candidate that is free.
func (m *Manager) pickSubnet(cands []netip.Prefix) (netip.Prefix, error) {
	for _, c := range cands {
		err := m.checkSubnetFree(c)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, errdefs.ErrConflict) {
			return netip.Prefix{}, err
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free subnet left in the address pools: give --subnet or remove unused networks: %w", errdefs.ErrConflict)
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

package network

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/drover/drover/internal/errdefs"
)

// Create makes a user network: a record, a bridge and its rules. Nothing is left behind
// when it fails.
func (m *Manager) Create(o CreateOptions) (Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return Network{}, err
	}
	if err := validateName(o.Name); err != nil {
		return Network{}, err
	}
	if m.byName(o.Name) != nil {
		return Network{}, fmt.Errorf("network with name %s already exists: pick another name: %w", o.Name, errdefs.ErrAlreadyExists)
	}
	if o.Gateway != "" && o.Subnet == "" {
		return Network{}, fmt.Errorf("gateway %s needs a subnet: give --subnet too: %w", o.Gateway, errdefs.ErrInvalidArgument)
	}
	unlock, err := lockHost()
	if err != nil {
		return Network{}, err
	}
	defer unlock()

	var subnet netip.Prefix
	if o.Subnet != "" {
		if subnet, err = parseSubnet(o.Subnet); err != nil {
			return Network{}, err
		}
		if err := m.checkSubnetFree(subnet); err != nil {
			return Network{}, err
		}
	} else {
		cands, err := poolCandidates(m.cfg.UserPools)
		if err != nil {
			return Network{}, err
		}
		if subnet, err = m.pickSubnet(cands); err != nil {
			return Network{}, err
		}
	}
	nonMasq, err := parseNonMasquerade(o.NonMasquerade, o.Internal)
	if err != nil {
		return Network{}, err
	}
	gw := uintAddr(addrUint(subnet.Addr()) + 1)
	if o.Gateway != "" {
		if gw, err = parseAddrIn("gateway", o.Gateway, subnet); err != nil {
			return Network{}, err
		}
	}
	id := newID()
	rec := &netRecord{
		ID:            id,
		Name:          o.Name,
		Subnet:        subnet.String(),
		Gateway:       gw.String(),
		Bridge:        m.cfg.userBridge(id),
		Internal:      o.Internal,
		NonMasquerade: nonMasq,
		Labels:        maps.Clone(o.Labels),
		Created:       time.Now().UTC(),
	}
	if err := m.st.put(bucketNetworks, []byte(id), rec); err != nil {
		return Network{}, fmt.Errorf("save network %s: %w", o.Name, err)
	}
	m.nets[id] = rec
	undo := func(cause error) (Network, error) {
		delete(m.nets, id)
		errs := []error{cause, m.st.del(bucketNetworks, []byte(id)), deleteLink(rec.Bridge), m.sync()}
		return Network{}, fmt.Errorf("create network %s: %w", o.Name, errors.Join(errs...))
	}
	if err := m.ensureNetworkLinks(rec); err != nil {
		return undo(err)
	}
	if err := m.sync(); err != nil {
		return undo(err)
	}
	return m.view(rec), nil
}

// Get returns a network by name, ID or unique ID prefix.
func (m *Manager) Get(idOrName string) (Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(idOrName)
	if err != nil {
		return Network{}, err
	}
	return m.view(n), nil
}

// List returns every network, oldest first.
func (m *Manager) List() ([]Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Network
	for _, n := range m.sortedNets() {
		out = append(out, m.view(n))
	}
	return out, nil
}

// Remove deletes a user network that has no endpoints.
func (m *Manager) Remove(idOrName string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return err
	}
	n, err := m.lookup(idOrName)
	if err != nil {
		return err
	}
	return m.remove(n)
}

func (m *Manager) remove(n *netRecord) error {
	if n.Name == DefaultNetwork {
		return fmt.Errorf("network %s is the default network and cannot be removed: %w", n.Name, errdefs.ErrConflict)
	}
	if eps := m.networkEndpoints(n.ID); len(eps) > 0 {
		var ids []string
		for _, e := range eps {
			ids = append(ids, shortID(e.ContainerID))
		}
		return fmt.Errorf("network %s has active endpoints (containers %s): disconnect or remove them first: %w", n.Name, strings.Join(ids, ", "), errdefs.ErrConflict)
	}
	if err := deleteLink(n.Bridge); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if err := m.st.del(bucketNetworks, []byte(n.ID)); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	delete(m.nets, n.ID)
	if err := m.sync(); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	return nil
}

// Prune removes the user networks without endpoints and returns their names.
func (m *Manager) Prune(match func(Network) bool) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkOpen(); err != nil {
		return nil, err
	}
	var removed []string
	for _, n := range m.sortedNets() {
		if n.Name == DefaultNetwork || len(m.networkEndpoints(n.ID)) > 0 || match != nil && !match(m.view(n)) {
			continue
		}
		if err := m.remove(n); err != nil {
			return removed, err
		}
		removed = append(removed, n.Name)
	}
	return removed, nil
}

// networkEndpoints lists the endpoints of one network, sorted by container ID.
func (m *Manager) networkEndpoints(networkID string) []Endpoint {
	var out []Endpoint
	for _, e := range m.eps {
		if e.NetworkID == networkID {
			out = append(out, copyEndpoint(e))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerID < out[j].ContainerID })
	return out
}

// view turns a record into the public Network value (a copy the caller may keep).
func (m *Manager) view(n *netRecord) Network {
	return Network{
		ID:            n.ID,
		Name:          n.Name,
		Driver:        DriverBridge,
		Subnet:        n.Subnet,
		Gateway:       n.Gateway,
		Bridge:        n.Bridge,
		Internal:      n.Internal,
		NonMasquerade: slices.Clone(n.NonMasquerade),
		Labels:        maps.Clone(n.Labels),
		Created:       n.Created,
		Endpoints:     m.networkEndpoints(n.ID),
	}
}

func copyEndpoint(e *Endpoint) Endpoint {
	c := *e
	c.Aliases = append([]string(nil), e.Aliases...)
	return c
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

package daemon

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/network"
)

func (d *Daemon) networkRoutes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("GET /networks", func(w http.ResponseWriter, r *http.Request) error {
		nets, err := d.net.List()
		if err != nil {
			return err
		}
		out := make([]api.Network, 0, len(nets))
		for _, n := range nets {
			out = append(out, d.networkView(n))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
	handle("POST /networks", func(w http.ResponseWriter, r *http.Request) error {
		var req api.NetworkCreate
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		n, err := d.CreateNetwork(r.Context(), req)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, n)
		return nil
	})
	handle("POST /networks/prune", func(w http.ResponseWriter, r *http.Request) error {
		f, err := pruneFilter(r)
		if err != nil {
			return err
		}
		removed, err := d.PruneNetworks(r.Context(), f)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, api.PruneResponse{Deleted: append([]string{}, removed...)})
		return nil
	})
	handle("GET /networks/{id}", func(w http.ResponseWriter, r *http.Request) error {
		n, err := d.net.Get(r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d.networkView(n))
		return nil
	})
	handle("DELETE /networks/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, d.RemoveNetwork(r.Context(), r.PathValue("id")))
	})
	// connect and disconnect name the network in the path and the container in the body.
	withConnect := func(op func(c *container, network string, req api.NetworkConnect) error) func(http.ResponseWriter, *http.Request) error {
		return func(w http.ResponseWriter, r *http.Request) error {
			var req api.NetworkConnect
			if err := decodeBody(r, &req); err != nil {
				return err
			}
			c, err := d.lookup(req.Container)
			if err != nil {
				return err
			}
			return noContent(w, op(c, r.PathValue("id"), req))
		}
	}
	handle("POST /networks/{id}/connect", withConnect(func(c *container, network string, req api.NetworkConnect) error {
		return d.ConnectNetwork(context.Background(), network, c.rec.ID, req.Endpoint)
	}))
	handle("POST /networks/{id}/disconnect", withConnect(func(c *container, network string, _ api.NetworkConnect) error {
		return d.DisconnectNetwork(context.Background(), network, c.rec.ID)
	}))
}

func (d *Daemon) networkView(n network.Network) api.Network {
	out := api.Network{ID: n.ID, Name: n.Name, Driver: n.Driver, Subnet: n.Subnet, Gateway: n.Gateway, Bridge: n.Bridge,
		Internal: n.Internal, NonMasquerade: n.NonMasquerade, Labels: n.Labels, Created: n.Created, Containers: map[string]api.NetworkContainer{}}
	for _, ep := range n.Endpoints {
		name := ""
		if c, err := d.lookup(ep.ContainerID); err == nil {
			name = c.rec.Name
		}
		out.Containers[ep.ContainerID] = api.NetworkContainer{Name: name, IPv4: fmt.Sprintf("%s/%d", ep.IP, ep.PrefixLen), MacAddress: ep.MAC}
	}
	return out
}

// ownNetworks tells whether c's networking is its own (a bridge network), which
// connect and disconnect need.
func ownNetworks(cfg api.ContainerConfig) error {
	h := cfg.Host
	switch {
	case h.Pod != "":
		return fmt.Errorf("a container in a pod uses the pod's network: connect and disconnect do not apply: %w", errdefs.ErrConflict)
	case h.NetworkMode == "host" || h.NetworkMode == "none" || h.NetworkMode == api.NetworkCNI || strings.HasPrefix(h.NetworkMode, "container:"):
		return fmt.Errorf("container uses the %s network mode: connect and disconnect only apply to containers on bridge networks: %w", h.NetworkMode, errdefs.ErrConflict)
	}
	return nil
}

// connectTarget finds the network of a connect or disconnect and checks that c's
// networking is its own. The caller holds c.busy.
func (d *Daemon) connectTarget(c *container, ref string) (network.Network, api.ContainerConfig, error) {
	n, err := d.net.Get(ref)
	if err != nil {
		return n, api.ContainerConfig{}, err
	}
	c.mu.Lock()
	cfg := c.rec.Config
	c.mu.Unlock()
	return n, cfg, ownNetworks(cfg)
}

// connect attaches c to a network now if it runs, and at every later start.
func (d *Daemon) connect(c *container, ref string, ec api.EndpointConfig) error {
	c.busy.Lock()
	defer c.busy.Unlock()
	n, cfg, err := d.connectTarget(c, ref)
	if err != nil {
		return err
	}
	if _, ok := cfg.Networks[n.Name]; ok || cfg.Host.NetworkMode == n.Name {
		return fmt.Errorf("container %s is already connected to network %s: %w", c.rec.Name, n.Name, errdefs.ErrAlreadyExists)
	}
	if n.Name == network.DefaultNetwork && (ec.IPAddress != "" || len(ec.Aliases) > 0) {
		return fmt.Errorf("--ip and --alias are supported on user-defined networks only: %w", errdefs.ErrInvalidArgument)
	}
	var settings *api.EndpointSettings
	if c.running() {
		ep, err := d.net.Attach(d.net.NamespacePath(c.rec.ID), network.AttachOptions{ContainerID: c.rec.ID, Network: n.ID, IP: ec.IPAddress, MAC: ec.MacAddress, Aliases: ec.Aliases})
		if err != nil {
			return err
		}
		s := endpointSettings(ep)
		settings = &s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.Config.Networks == nil {
		c.rec.Config.Networks = map[string]api.EndpointConfig{}
	}
	c.rec.Config.Networks[n.Name] = ec
	if settings != nil {
		if c.rec.NetworkSettings.Networks == nil {
			c.rec.NetworkSettings.Networks = map[string]api.EndpointSettings{}
		}
		c.rec.NetworkSettings.Networks[n.Name] = *settings
	}
	return d.save(c)
}

// disconnect detaches c from a network now and for later starts.
func (d *Daemon) disconnect(c *container, ref string) error {
	c.busy.Lock()
	defer c.busy.Unlock()
	n, cfg, err := d.connectTarget(c, ref)
	if err != nil {
		return err
	}
	if _, ok := cfg.Networks[n.Name]; !ok && cfg.Host.NetworkMode != n.Name {
		return fmt.Errorf("container %s is not connected to network %s: %w", c.rec.Name, n.Name, errdefs.ErrNotFound)
	}
	if c.running() {
		if err := d.net.Detach(c.rec.ID, n.ID); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.rec.Config.Networks, n.Name)
	delete(c.rec.NetworkSettings.Networks, n.Name)
	if c.rec.Config.Host.NetworkMode == n.Name {
		rest := make([]string, 0, len(c.rec.Config.Networks))
		for name := range c.rec.Config.Networks {
			rest = append(rest, name)
		}
		sort.Strings(rest)
		c.rec.Config.Host.NetworkMode = "none"
		if len(rest) > 0 {
			c.rec.Config.Host.NetworkMode = rest[0]
		}
	}
	return d.save(c)
}

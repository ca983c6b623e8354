package dockerapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

func (s *Server) networkRoutes() {
	s.handle("GET /networks", s.handleNetworkList)
	s.handle("GET /networks/{$}", s.handleNetworkList)
	s.handle("POST /networks/create", s.handleNetworkCreate)
	s.handle("POST /networks/prune", func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseFilters(r.URL.Query().Get("filters"))
		if err != nil {
			return err
		}
		pf, err := f.prune()
		if err != nil {
			return err
		}
		removed, err := s.engine.PruneNetworks(r.Context(), pf)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: append([]string{}, removed...)})
		return nil
	})
	s.handle("GET /networks/{id}", func(w http.ResponseWriter, r *http.Request) error {
		if n, ok := predefinedNetwork(r.PathValue("id")); ok {
			writeJSON(w, http.StatusOK, n)
			return nil
		}
		n, err := s.engine.InspectNetwork(r.Context(), r.PathValue("id"))
		if err != nil {
			return networkNotFound(err, r.PathValue("id"))
		}
		writeJSON(w, http.StatusOK, toNetworkInspect(n))
		return nil
	})
	s.handle("DELETE /networks/{id}", func(w http.ResponseWriter, r *http.Request) error {
		ref := r.PathValue("id")
		if ref == "bridge" || ref == "host" || ref == "none" {
			return fmt.Errorf("%s is a pre-defined network and cannot be removed: %w", ref, errdefs.ErrConflict)
		}
		return noContent(w, networkNotFound(s.engine.RemoveNetwork(r.Context(), ref), ref))
	})
	s.handle("POST /networks/{id}/connect", func(w http.ResponseWriter, r *http.Request) error {
		var req network.ConnectRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		ref := r.PathValue("id")
		if _, err := s.engine.InspectNetwork(r.Context(), ref); err != nil {
			return networkNotFound(err, ref)
		}
		c, err := s.engine.InspectContainer(r.Context(), req.Container)
		if err != nil {
			return notFound(err, "container", req.Container)
		}
		var ep api.EndpointConfig
		if req.EndpointConfig != nil {
			ep = toEndpointConfig(req.EndpointConfig)
		}
		if err := s.engine.ConnectNetwork(r.Context(), ref, c.ID, ep); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
	s.handle("POST /networks/{id}/disconnect", func(w http.ResponseWriter, r *http.Request) error {
		var req network.DisconnectRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		ref := r.PathValue("id")
		if _, err := s.engine.InspectNetwork(r.Context(), ref); err != nil {
			return networkNotFound(err, ref)
		}
		c, err := s.engine.InspectContainer(r.Context(), req.Container)
		if err != nil {
			return notFound(err, "container", req.Container)
		}
		if err := s.engine.DisconnectNetwork(r.Context(), ref, c.ID); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

func networkNotFound(err error, ref string) error {
	if err != nil && errorsIsNotFound(err) {
		return fmt.Errorf("network %s not found: %w", ref, errdefs.ErrNotFound)
	}
	return err
}

func toNetwork(n api.Network) network.Network {
	out := network.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: "bridge", EnableIPv4: true,
		IPAM: network.IPAM{Driver: "default", Options: map[string]string{}}, Internal: n.Internal,
		Options: map[string]string{}, Labels: n.Labels,
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if n.Bridge != "" && n.Name == "bridge" {
		// Only the default network names its bridge, as Docker's docker0: Compose
		// compares a network's options with its file's and recreates on a difference.
		out.Options["com.docker.network.bridge.name"] = n.Bridge
	}
	if p, err := netip.ParsePrefix(n.Subnet); err == nil {
		cfg := network.IPAMConfig{Subnet: p}
		cfg.Gateway, _ = netip.ParseAddr(n.Gateway)
		out.IPAM.Config = []network.IPAMConfig{cfg}
	}
	return out
}

func toNetworkInspect(n api.Network) network.Inspect {
	out := network.Inspect{Network: toNetwork(n), Containers: map[string]network.EndpointResource{}}
	prefixLen := 16
	if p, err := netip.ParsePrefix(n.Subnet); err == nil {
		prefixLen = p.Bits()
	}
	for id, c := range n.Containers {
		er := network.EndpointResource{Name: c.Name, EndpointID: id}
		if a, err := netip.ParseAddr(c.IPv4); err == nil {
			er.IPv4Address = netip.PrefixFrom(a, prefixLen)
		} else if p, err := netip.ParsePrefix(c.IPv4); err == nil {
			er.IPv4Address = p
		}
		er.MacAddress, _ = parseMAC(c.MacAddress)
		out.Containers[id] = er
	}
	return out
}

func (s *Server) handleNetworkList(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilters(r.URL.Query().Get("filters"))
	if err != nil {
		return err
	}
	if err := f.validate("name", "id", "label", "driver", "type", "scope", "dangling"); err != nil {
		return err
	}
	nets, err := s.engine.ListNetworks(r.Context())
	if err != nil {
		return err
	}
	out := []network.Inspect{}
	for _, name := range []string{"host", "none"} {
		n, _ := predefinedNetwork(name)
		if f.match("name", func(v string) bool { return strings.Contains(name, v) }) &&
			f.match("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
			f.match("driver", func(v string) bool { return v == n.Driver }) && len(f["label"]) == 0 &&
			f.match("type", func(v string) bool { return v == "builtin" }) && f.match("scope", func(v string) bool { return v == "local" }) &&
			f.match("dangling", func(v string) bool { return v == "false" || v == "0" }) {
			out = append(out, n)
		}
	}
	for _, n := range nets {
		ok := f.match("name", func(v string) bool { return strings.Contains(n.Name, v) }) &&
			f.match("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) &&
			f.matchLabels(n.Labels) &&
			f.match("driver", func(v string) bool { return v == "bridge" }) &&
			f.match("scope", func(v string) bool { return v == "local" }) &&
			f.match("type", func(v string) bool {
				return (v == "builtin") == (n.Name == "bridge")
			}) &&
			f.match("dangling", func(v string) bool { return (v == "true" || v == "1") == (len(n.Containers) == 0) })
		if ok {
			out = append(out, toNetworkInspect(n))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleNetworkCreate(w http.ResponseWriter, r *http.Request) error {
	var req network.CreateRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		return fmt.Errorf("network name is required: %w", errdefs.ErrInvalidArgument)
	}
	switch {
	case req.Driver != "" && req.Driver != "bridge":
		return fmt.Errorf("network driver %q is not supported by drover: use bridge: %w", req.Driver, errdefs.ErrInvalidArgument)
	case req.EnableIPv6 != nil && *req.EnableIPv6:
		return fmt.Errorf("EnableIPv6 is not supported by drover: %w", errdefs.ErrInvalidArgument)
	case req.Scope != "" && req.Scope != "local":
		return fmt.Errorf("network scope %q is not supported by drover: use local: %w", req.Scope, errdefs.ErrInvalidArgument)
	case req.Ingress || req.ConfigOnly || req.ConfigFrom != nil:
		return fmt.Errorf("swarm network options (Ingress, ConfigOnly, ConfigFrom) are not supported by drover: %w", errdefs.ErrInvalidArgument)
	}
	for k := range req.Options {
		if k != "com.docker.network.bridge.name" && k != "com.docker.network.driver.mtu" {
			return fmt.Errorf("network option %q is not supported by drover: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	nc := api.NetworkCreate{Name: req.Name, Internal: req.Internal, Labels: req.Labels}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return fmt.Errorf("IPAM driver %q is not supported by drover: %w", req.IPAM.Driver, errdefs.ErrInvalidArgument)
		}
		if len(req.IPAM.Config) > 1 {
			return fmt.Errorf("drover networks take one IPAM config (subnet), not %d: %w", len(req.IPAM.Config), errdefs.ErrInvalidArgument)
		}
		for _, c := range req.IPAM.Config {
			if c.IPRange.IsValid() || len(c.AuxAddress) > 0 {
				return fmt.Errorf("IPAM IPRange and AuxiliaryAddresses are not supported by drover: %w", errdefs.ErrInvalidArgument)
			}
			if c.Subnet.IsValid() {
				nc.Subnet = c.Subnet.String()
			}
			if c.Gateway.IsValid() {
				nc.Gateway = c.Gateway.String()
			}
		}
	}
	n, err := s.engine.CreateNetwork(r.Context(), nc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID})
	return nil
}

func (s *Server) volumeRoutes() {
	s.handle("GET /volumes", func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseFilters(r.URL.Query().Get("filters"))
		if err != nil {
			return err
		}
		if err := f.validate("name", "label", "dangling", "driver"); err != nil {
			return err
		}
		vs, err := s.engine.ListVolumes(r.Context())
		if err != nil {
			return err
		}
		out := volume.ListResponse{Volumes: []volume.Volume{}, Warnings: []string{}}
		for _, v := range vs {
			ok := f.match("name", func(x string) bool { return strings.Contains(v.Name, x) }) &&
				f.matchLabels(v.Labels) &&
				f.match("driver", func(x string) bool { return x == "local" }) &&
				f.match("dangling", func(x string) bool { return (x == "true" || x == "1") == (v.RefCount == 0) })
			if ok {
				out.Volumes = append(out.Volumes, toVolume(v))
			}
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
	s.handle("POST /volumes/create", func(w http.ResponseWriter, r *http.Request) error {
		var req volume.CreateRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		if req.Driver != "" && req.Driver != "local" {
			return fmt.Errorf("volume driver %q is not supported by drover: use local: %w", req.Driver, errdefs.ErrInvalidArgument)
		}
		if req.ClusterVolumeSpec != nil {
			return fmt.Errorf("cluster volumes are not supported by drover: %w", errdefs.ErrInvalidArgument)
		}
		v, err := s.engine.CreateVolume(r.Context(), api.VolumeCreate{Name: req.Name, DriverOpts: req.DriverOpts, Labels: req.Labels})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, toVolume(v))
		return nil
	})
	s.handle("POST /volumes/prune", func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseFilters(r.URL.Query().Get("filters"))
		if err != nil {
			return err
		}
		if err := f.validate("all"); err != nil {
			return err
		}
		all := false
		for _, v := range f["all"] {
			all = all || v == "true" || v == "1"
		}
		res, err := s.engine.PruneVolumes(r.Context(), all)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, volume.PruneReport{VolumesDeleted: append([]string{}, res.Deleted...), SpaceReclaimed: uint64(res.SpaceReclaimed)})
		return nil
	})
	s.handle("GET /volumes/{name}", func(w http.ResponseWriter, r *http.Request) error {
		v, err := s.engine.InspectVolume(r.Context(), r.PathValue("name"))
		if err != nil {
			return volumeNotFound(err, r.PathValue("name"))
		}
		writeJSON(w, http.StatusOK, toVolume(v))
		return nil
	})
	s.handle("DELETE /volumes/{name}", func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		return noContent(w, volumeNotFound(s.engine.RemoveVolume(r.Context(), name, boolQuery(r, "force")), name))
	})
}

func volumeNotFound(err error, name string) error {
	if err != nil && errorsIsNotFound(err) {
		return fmt.Errorf("get %s: no such volume: %w", name, errdefs.ErrNotFound)
	}
	return err
}

func toVolume(v api.Volume) volume.Volume {
	out := volume.Volume{Name: v.Name, Driver: "local", Mountpoint: v.Mountpoint, CreatedAt: dockerTime(v.CreatedAt),
		Labels: v.Labels, Options: v.Options, Scope: "local", UsageData: &volume.UsageData{Size: -1, RefCount: int64(v.RefCount)}}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	return out
}

// predefinedNetwork answers for Docker's "host" and "none" networks, which in drover are
// network modes and not objects; listing them keeps scripts that look for them working.
func predefinedNetwork(ref string) (network.Inspect, bool) {
	var n network.Inspect
	switch ref {
	case "host", hostNetworkID, hostNetworkID[:12]:
		n.Name, n.ID, n.Driver = "host", hostNetworkID, "host"
	case "none", noneNetworkID, noneNetworkID[:12]:
		n.Name, n.ID, n.Driver = "none", noneNetworkID, "null"
	default:
		return n, false
	}
	n.Scope = "local"
	n.IPAM = network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{}}
	n.Options, n.Labels, n.Containers = map[string]string{}, map[string]string{}, map[string]network.EndpointResource{}
	return n, true
}

// Fixed IDs of the predefined networks (the sha256 of their names).
const (
	hostNetworkID = "4740ae6347b0172c01254ff55bae5aff5199f4446e7f6d643d40185b3f475145"
	noneNetworkID = "140bedbf9c3f6d56a9846d2ba7088798683f4da0c248231336e6a05679e4fdfe"
)

package dockerapi

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// unsupported names the first option of a create request that drover cannot honour, so the
// client hears which one instead of getting a container that silently differs.
func unsupported(req container.CreateRequest) string {
	c, h := req.Config, req.HostConfig
	if c.Domainname != "" {
		return "Domainname"
	}
	if h == nil {
		return ""
	}
	checks := []struct {
		name string
		set  bool
	}{
		{"HostConfig.VolumesFrom", len(h.VolumesFrom) > 0},
		{"HostConfig.Links", len(h.Links) > 0},
		{"HostConfig.UTSMode", h.UTSMode != ""},
		{"HostConfig.UsernsMode", h.UsernsMode != ""},
		{"HostConfig.IpcMode", h.IpcMode != "" && h.IpcMode != "private" && h.IpcMode != "shareable" && h.IpcMode != "host"},
		{"HostConfig.CgroupnsMode", h.CgroupnsMode != "" && h.CgroupnsMode != "private"},
		{"HostConfig.Devices", len(h.Devices) > 0},
		{"HostConfig.DeviceRequests", len(h.DeviceRequests) > 0},
		{"HostConfig.DeviceCgroupRules", len(h.DeviceCgroupRules) > 0},
		{"HostConfig.Cgroup", h.Cgroup != ""},
		{"HostConfig.CpuPeriod", h.CPUPeriod != 0},
		{"HostConfig.CpuQuota", h.CPUQuota != 0},
		{"HostConfig.CpuRealtimePeriod", h.CPURealtimePeriod != 0},
		{"HostConfig.CpuRealtimeRuntime", h.CPURealtimeRuntime != 0},
		{"HostConfig.BlkioWeight", h.BlkioWeight != 0},
		{"HostConfig.BlkioWeightDevice", len(h.BlkioWeightDevice) > 0},
		{"HostConfig.BlkioDeviceReadBps", len(h.BlkioDeviceReadBps) > 0},
		{"HostConfig.BlkioDeviceWriteBps", len(h.BlkioDeviceWriteBps) > 0},
		{"HostConfig.BlkioDeviceReadIOps", len(h.BlkioDeviceReadIOps) > 0},
		{"HostConfig.BlkioDeviceWriteIOps", len(h.BlkioDeviceWriteIOps) > 0},
		{"HostConfig.MemoryReservation", h.MemoryReservation != 0},
		{"HostConfig.OomKillDisable", h.OomKillDisable != nil && *h.OomKillDisable},
		{"HostConfig.StorageOpt", len(h.StorageOpt) > 0},
		{"HostConfig.VolumeDriver", h.VolumeDriver != "" && h.VolumeDriver != "local"},
		{"HostConfig.Isolation", h.Isolation != "" && h.Isolation != "default"},
		{"HostConfig.Umask", h.Umask != nil},
	}
	for _, c := range checks {
		if c.set {
			return c.name
		}
	}
	return ""
}

// toCreateConfig translates a Docker create request into drover's container config.
func toCreateConfig(name string, req container.CreateRequest) (api.ContainerConfig, error) {
	if req.Config == nil {
		return api.ContainerConfig{}, fmt.Errorf("config cannot be empty in order to create a container: %w", errdefs.ErrInvalidArgument)
	}
	if opt := unsupported(req); opt != "" {
		return api.ContainerConfig{}, fmt.Errorf("%s is not supported by drover: remove the option and try again: %w", opt, errdefs.ErrInvalidArgument)
	}
	c := req.Config
	h := req.HostConfig
	if h == nil {
		h = &container.HostConfig{}
	}
	cfg := api.ContainerConfig{
		Name: strings.TrimPrefix(name, "/"), Image: c.Image, Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env,
		WorkingDir: c.WorkingDir, User: c.User, Hostname: c.Hostname, Labels: c.Labels, Tty: c.Tty,
		OpenStdin: c.OpenStdin, StdinOnce: c.StdinOnce, StopSignal: c.StopSignal, StopTimeout: c.StopTimeout,
	}
	if hc := c.Healthcheck; hc != nil {
		cfg.Healthcheck = &api.HealthConfig{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
	}
	if len(c.ExposedPorts) > 0 {
		cfg.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			if !p.IsValid() {
				return api.ContainerConfig{}, fmt.Errorf("invalid port in ExposedPorts: want PORT/PROTO such as 80/tcp: %w", errdefs.ErrInvalidArgument)
			}
			cfg.ExposedPorts[p.String()] = struct{}{}
		}
	}
	hc := api.HostConfig{
		Tmpfs: h.Tmpfs, ReadonlyRootfs: h.ReadonlyRootfs, Memory: h.Memory, MemorySwap: h.MemorySwap,
		NanoCPUs: h.NanoCPUs, CPUShares: h.CPUShares, CapAdd: h.CapAdd, CapDrop: h.CapDrop,
		SecurityOpt: h.SecurityOpt, Privileged: h.Privileged, AutoRemove: h.AutoRemove,
		RestartPolicy:   api.RestartPolicy{Name: string(h.RestartPolicy.Name), MaximumRetryCount: h.RestartPolicy.MaximumRetryCount},
		PublishAllPorts: h.PublishAllPorts, DNSSearch: h.DNSSearch, DNSOptions: h.DNSOptions, ExtraHosts: h.ExtraHosts,
		Runtime: h.Runtime, ShmSize: h.ShmSize,
		LogConfig: api.LogConfig{Type: h.LogConfig.Type, Config: h.LogConfig.Config},
		Sysctls:   h.Sysctls, GroupAdd: h.GroupAdd, MaskedPaths: h.MaskedPaths, ReadonlyPaths: h.ReadonlyPaths,
		CpusetCpus: h.CpusetCpus, CpusetMems: h.CpusetMems, OomScoreAdj: h.OomScoreAdj, CgroupParent: h.CgroupParent,
	}
	if h.PidMode != "private" {
		hc.PidMode = string(h.PidMode)
	}
	if h.IpcMode == "host" {
		hc.IpcMode = "host"
	}
	if hc.Runtime == "runc" {
		hc.Runtime = "" // what Docker calls its default runtime is drover's embedded one
	}
	if h.PidsLimit != nil && *h.PidsLimit > 0 {
		hc.PidsLimit = *h.PidsLimit
	}
	if h.Init != nil {
		hc.Init = *h.Init
	}
	for _, u := range h.Ulimits {
		if u != nil {
			hc.Ulimits = append(hc.Ulimits, api.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		}
	}
	for _, a := range h.DNS {
		hc.DNS = append(hc.DNS, a.String())
	}
	switch mode := string(h.NetworkMode); {
	case c.NetworkDisabled:
		hc.NetworkMode = "none"
	case mode == "" || mode == "default":
		hc.NetworkMode = "bridge"
	default:
		hc.NetworkMode = mode
	}
	ports := make([]network.Port, 0, len(h.PortBindings))
	for p := range h.PortBindings {
		if !p.IsValid() {
			return api.ContainerConfig{}, fmt.Errorf("invalid port in PortBindings: want PORT/PROTO such as 80/tcp: %w", errdefs.ErrInvalidArgument)
		}
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].String() < ports[j].String() })
	for _, p := range ports {
		ps := p.String()
		proto := string(p.Proto())
		if proto != "tcp" && proto != "udp" {
			return api.ContainerConfig{}, fmt.Errorf("port %s: protocol %s is not supported: use tcp or udp: %w", ps, proto, errdefs.ErrInvalidArgument)
		}
		for _, b := range h.PortBindings[p] {
			pb := api.PortBinding{ContainerPort: p.Num(), Proto: proto}
			if b.HostIP.IsValid() && !b.HostIP.IsUnspecified() {
				pb.HostIP = b.HostIP.String()
			}
			if b.HostPort != "" {
				lo, hi, err := parsePortRange(b.HostPort)
				if err != nil {
					return api.ContainerConfig{}, fmt.Errorf("invalid host port %q for %s: %w", b.HostPort, ps, errdefs.ErrInvalidArgument)
				}
				if lo != hi {
					return api.ContainerConfig{}, fmt.Errorf("host port range %q for %s is not supported: publish a single port: %w", b.HostPort, ps, errdefs.ErrInvalidArgument)
				}
				pb.HostPort = lo
			}
			hc.PortBindings = append(hc.PortBindings, pb)
		}
	}
	targets := map[string]bool{}
	for _, b := range h.Binds {
		m, err := parseBind(b)
		if err != nil {
			return api.ContainerConfig{}, err
		}
		targets[m.Target] = true
		if m.Type == "bind" && m.Propagation == "" {
			hc.Binds = append(hc.Binds, bindString(m))
			continue
		}
		hc.Mounts = append(hc.Mounts, m)
	}
	for _, m := range h.Mounts {
		am := api.Mount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		switch m.Type {
		case mount.TypeBind:
			if o := m.BindOptions; o != nil {
				am.Propagation = string(o.Propagation)
			}
		case mount.TypeVolume:
			if o := m.VolumeOptions; o != nil {
				if o.Subpath != "" || (o.DriverConfig != nil && o.DriverConfig.Name != "" && o.DriverConfig.Name != "local") {
					return api.ContainerConfig{}, fmt.Errorf("mount %s: volume subpath and drivers other than local are not supported: %w", m.Target, errdefs.ErrInvalidArgument)
				}
				am.NoCopy = o.NoCopy
			}
		case mount.TypeTmpfs:
			if o := m.TmpfsOptions; o != nil {
				am.TmpfsSize, am.TmpfsMode = o.SizeBytes, uint32(o.Mode.Perm())
			}
		default:
			return api.ContainerConfig{}, fmt.Errorf("mount type %q is not supported: use bind, volume or tmpfs: %w", m.Type, errdefs.ErrInvalidArgument)
		}
		targets[path.Clean(m.Target)] = true
		hc.Mounts = append(hc.Mounts, am)
	}
	// Config.Volumes are anonymous volumes, unless a bind or mount already covers the path
	// (Compose lists every volume path there too).
	vols := make([]string, 0, len(c.Volumes))
	for v := range c.Volumes {
		vols = append(vols, v)
	}
	sort.Strings(vols)
	for _, v := range vols {
		if !targets[path.Clean(v)] {
			hc.Mounts = append(hc.Mounts, api.Mount{Type: "volume", Target: v})
		}
	}
	cfg.Host = hc
	if nc := req.NetworkingConfig; nc != nil && len(nc.EndpointsConfig) > 0 {
		cfg.Networks = map[string]api.EndpointConfig{}
		for name, ep := range nc.EndpointsConfig {
			if ep == nil {
				ep = &network.EndpointSettings{}
			}
			if name == "default" {
				name = "bridge"
			}
			cfg.Networks[name] = toEndpointConfig(ep)
		}
	}
	return cfg, nil
}

func toEndpointConfig(ep *network.EndpointSettings) api.EndpointConfig {
	out := api.EndpointConfig{Aliases: ep.Aliases}
	if ep.IPAMConfig != nil && ep.IPAMConfig.IPv4Address.IsValid() {
		out.IPAddress = ep.IPAMConfig.IPv4Address.String()
	}
	if len(ep.MacAddress) > 0 {
		out.MacAddress = ep.MacAddress.String()
	}
	return out
}

func parsePortRange(s string) (uint16, uint16, error) {
	var lo, hi uint16
	if a, b, ok := strings.Cut(s, "-"); ok {
		if _, err := fmt.Sscanf(a+" "+b, "%d %d", &lo, &hi); err != nil {
			return 0, 0, err
		}
		return lo, hi, nil
	}
	if _, err := fmt.Sscanf(s, "%d", &lo); err != nil {
		return 0, 0, err
	}
	return lo, lo, nil
}

// parseBind reads a Docker -v value, "src:dst[:opts]": src is a host path (a bind) or a
// volume name.
func parseBind(b string) (api.Mount, error) {
	parts := strings.Split(b, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return api.Mount{}, fmt.Errorf("invalid volume specification: %q: use SOURCE:TARGET[:OPTIONS]: %w", b, errdefs.ErrInvalidArgument)
	}
	m := api.Mount{Type: "volume", Source: parts[0], Target: parts[1]}
	if strings.HasPrefix(m.Source, "/") {
		m.Type = "bind"
	}
	if !path.IsAbs(m.Target) {
		return api.Mount{}, fmt.Errorf("invalid volume specification: %q: the target must be an absolute path: %w", b, errdefs.ErrInvalidArgument)
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw", "z", "Z", "":
			case "nocopy":
				m.NoCopy = true
			case "private", "rprivate", "shared", "rshared", "slave", "rslave":
				m.Propagation = o
			default:
				return api.Mount{}, fmt.Errorf("invalid volume specification: %q: unknown option %q: %w", b, o, errdefs.ErrInvalidArgument)
			}
		}
	}
	return m, nil
}

func bindString(m api.Mount) string {
	s := m.Source + ":" + m.Target
	if m.ReadOnly {
		s += ":ro"
	}
	return s
}

// dockerTime formats a time as Docker does in inspect (zero: 0001-01-01T00:00:00Z).
func dockerTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// toInspect renders drover's view of a container as Docker's inspect answer.
func toInspect(c api.Container, execIDs []string) container.InspectResponse {
	st := c.State
	state := &container.State{
		Status: container.ContainerState(st.Status), Running: st.Running, Paused: st.Paused, Restarting: st.Restarting,
		OOMKilled: st.OOMKilled, Dead: st.Dead, Pid: st.Pid, ExitCode: st.ExitCode, Error: st.Error,
		StartedAt: dockerTime(st.StartedAt), FinishedAt: dockerTime(st.FinishedAt),
	}
	if h := st.Health; h != nil {
		state.Health = &container.Health{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak, Log: []*container.HealthcheckResult{}}
		for _, l := range h.Log {
			state.Health.Log = append(state.Health.Log, &container.HealthcheckResult{Start: l.Start, End: l.End, ExitCode: l.ExitCode, Output: l.Output})
		}
	}
	out := container.InspectResponse{
		ID: c.ID, Created: dockerTime(c.Created), Path: c.Path, Args: c.Args, State: state, Image: c.Image,
		Name: "/" + c.Name, RestartCount: c.RestartCount, Driver: "overlay2", Platform: "linux", LogPath: c.LogPath,
		ExecIDs: execIDs, HostConfig: toHostConfig(c.Config.Host), Config: toConfig(c), Mounts: toMountPoints(c.Mounts),
		NetworkSettings: toNetworkSettings(c),
	}
	if out.Args == nil {
		out.Args = []string{}
	}
	if g := c.GraphDriver; g != nil {
		out.GraphDriver = &storage.DriverData{Name: g.Name, Data: g.Data}
	}
	return out
}

func toConfig(c api.Container) *container.Config {
	cc := c.Config
	out := &container.Config{
		Hostname: cc.Hostname, User: cc.User, Tty: cc.Tty, OpenStdin: cc.OpenStdin, StdinOnce: cc.StdinOnce,
		Env: cc.Env, Cmd: cc.Cmd, Image: c.ImageName, WorkingDir: cc.WorkingDir, Entrypoint: cc.Entrypoint,
		Labels: cc.Labels, StopSignal: cc.StopSignal, StopTimeout: cc.StopTimeout,
		AttachStdout: true, AttachStderr: true, AttachStdin: cc.OpenStdin,
	}
	if out.Hostname == "" && len(c.ID) >= 12 {
		out.Hostname = c.ID[:12]
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if len(cc.ExposedPorts) > 0 {
		out.ExposedPorts = network.PortSet{}
		for p := range cc.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				out.ExposedPorts[port] = struct{}{}
			}
		}
	}
	if hc := cc.Healthcheck; hc != nil {
		out.Healthcheck = &container.HealthConfig{Test: hc.Test, Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: hc.StartPeriod, Retries: hc.Retries}
	}
	return out
}

func toHostConfig(h api.HostConfig) *container.HostConfig {
	out := &container.HostConfig{
		Binds: h.Binds, Tmpfs: h.Tmpfs, ReadonlyRootfs: h.ReadonlyRootfs, CapAdd: h.CapAdd, CapDrop: h.CapDrop,
		SecurityOpt: h.SecurityOpt, Privileged: h.Privileged, AutoRemove: h.AutoRemove,
		RestartPolicy:   container.RestartPolicy{Name: container.RestartPolicyMode(h.RestartPolicy.Name), MaximumRetryCount: h.RestartPolicy.MaximumRetryCount},
		NetworkMode:     container.NetworkMode(h.NetworkMode),
		PublishAllPorts: h.PublishAllPorts, DNSSearch: h.DNSSearch, DNSOptions: h.DNSOptions, ExtraHosts: h.ExtraHosts,
		ShmSize: h.ShmSize, Runtime: "runc",
		LogConfig: container.LogConfig{Type: h.LogConfig.Type, Config: h.LogConfig.Config},
		PidMode:   container.PidMode(h.PidMode), IpcMode: container.IpcMode(h.IpcMode), Sysctls: h.Sysctls,
		GroupAdd: h.GroupAdd, MaskedPaths: h.MaskedPaths, ReadonlyPaths: h.ReadonlyPaths,
	}
	out.CpusetCpus, out.CpusetMems, out.OomScoreAdj, out.CgroupParent = h.CpusetCpus, h.CpusetMems, h.OomScoreAdj, h.CgroupParent
	if out.LogConfig.Type == "" {
		out.LogConfig.Type = "json-file"
	}
	if out.RestartPolicy.Name == "" {
		out.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if out.LogConfig.Config == nil {
		out.LogConfig.Config = map[string]string{}
	}
	out.Memory, out.MemorySwap, out.NanoCPUs, out.CPUShares = h.Memory, h.MemorySwap, h.NanoCPUs, h.CPUShares
	if h.PidsLimit > 0 {
		p := h.PidsLimit
		out.PidsLimit = &p
	}
	if h.Init {
		t := true
		out.Init = &t
	}
	for _, u := range h.Ulimits {
		out.Ulimits = append(out.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, d := range h.DNS {
		if a, err := netip.ParseAddr(d); err == nil {
			out.DNS = append(out.DNS, a)
		}
	}
	for _, b := range h.PortBindings {
		p, ok := network.PortFrom(b.ContainerPort, network.IPProtocol(protoOr(b.Proto)))
		if !ok {
			continue
		}
		if out.PortBindings == nil {
			out.PortBindings = network.PortMap{}
		}
		pb := network.PortBinding{}
		if b.HostIP != "" {
			pb.HostIP, _ = netip.ParseAddr(b.HostIP)
		}
		if b.HostPort != 0 {
			pb.HostPort = fmt.Sprint(b.HostPort)
		}
		out.PortBindings[p] = append(out.PortBindings[p], pb)
	}
	for _, m := range h.Mounts {
		dm := mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		out.Mounts = append(out.Mounts, dm)
	}
	return out
}

func protoOr(p string) string {
	if p == "" {
		return "tcp"
	}
	return p
}

func toMountPoints(ms []api.MountPoint) []container.MountPoint {
	out := []container.MountPoint{}
	for _, m := range ms {
		mode := ""
		if !m.RW {
			mode = "ro"
		}
		mp := container.MountPoint{Type: mount.Type(m.Type), Name: m.Name, Source: m.Source, Destination: m.Destination, RW: m.RW, Mode: mode}
		if m.Type == "volume" {
			mp.Driver = "local"
		}
		if m.Type == "bind" {
			mp.Propagation = mount.PropagationRPrivate
		}
		out = append(out, mp)
	}
	return out
}

func toNetworkSettings(c api.Container) *container.NetworkSettings {
	ns := c.NetworkSettings
	out := &container.NetworkSettings{SandboxKey: ns.SandboxKey, Ports: network.PortMap{}, Networks: map[string]*network.EndpointSettings{}}
	for p := range c.Config.ExposedPorts {
		if port, err := network.ParsePort(p); err == nil {
			out.Ports[port] = nil
		}
	}
	for _, b := range ns.Ports {
		p, ok := network.PortFrom(b.ContainerPort, network.IPProtocol(protoOr(b.Proto)))
		if !ok {
			continue
		}
		pb := network.PortBinding{HostPort: fmt.Sprint(b.HostPort)}
		pb.HostIP, _ = netip.ParseAddr(b.HostIP)
		if !pb.HostIP.IsValid() {
			pb.HostIP = netip.IPv4Unspecified()
		}
		out.Ports[p] = append(out.Ports[p], pb)
	}
	for name, ep := range ns.Networks {
		es := toEndpointSettings(ep, c.Config.Networks[name])
		if name != "bridge" && len(c.ID) >= 12 && !contains(es.Aliases, c.ID[:12]) {
			// Docker answers on user networks to the short ID too, and lists it; Compose
			// 1.29 takes a container without it for one to reconnect.
			es.Aliases = append(append([]string{}, es.Aliases...), c.ID[:12])
		}
		out.Networks[name] = es
	}
	if len(out.Networks) == 0 && c.Config.Host.NetworkMode != "" && !c.State.Running {
		// A stopped container still names its networks, as Docker's inspect does.
		for _, name := range networkNames(c.Config) {
			ec := c.Config.Networks[name]
			es := &network.EndpointSettings{Aliases: ec.Aliases}
			if name != "bridge" && len(c.ID) >= 12 && !contains(es.Aliases, c.ID[:12]) {
				es.Aliases = append(append([]string{}, es.Aliases...), c.ID[:12])
			}
			out.Networks[name] = es
		}
	}
	return out
}

// networkNames lists the networks a container's config asks for.
func networkNames(cfg api.ContainerConfig) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && !seen[n] && n != "none" && n != "host" && !strings.HasPrefix(n, "container:") {
			seen[n] = true
			out = append(out, n)
		}
	}
	add(cfg.Host.NetworkMode)
	names := make([]string, 0, len(cfg.Networks))
	for n := range cfg.Networks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		add(n)
	}
	return out
}

func toEndpointSettings(ep api.EndpointSettings, ec api.EndpointConfig) *network.EndpointSettings {
	out := &network.EndpointSettings{NetworkID: ep.NetworkID, EndpointID: ep.NetworkID, IPPrefixLen: ep.IPPrefixLen, Aliases: ep.Aliases}
	out.IPAddress, _ = netip.ParseAddr(ep.IPAddress)
	out.Gateway, _ = netip.ParseAddr(ep.Gateway)
	if mac, err := parseMAC(ep.MacAddress); err == nil {
		out.MacAddress = mac
	}
	if out.Aliases == nil {
		out.Aliases = ec.Aliases
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parseMAC(s string) (network.HardwareAddr, error) {
	var m network.HardwareAddr
	err := m.UnmarshalText([]byte(s))
	return m, err
}

// toSummary renders a container as a row of GET /containers/json.
func toSummary(c api.Container) container.Summary {
	cmd := strings.Join(append([]string{c.Path}, c.Args...), " ")
	out := container.Summary{
		ID: c.ID, Names: []string{"/" + c.Name}, Image: c.ImageName, ImageID: c.Image, Command: cmd,
		Created: c.Created.Unix(), Ports: []container.PortSummary{}, Labels: c.Config.Labels,
		State: container.ContainerState(c.State.Status), Status: statusText(c.State),
		Mounts: toMountPoints(c.Mounts),
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.HostConfig.NetworkMode = c.Config.Host.NetworkMode
	ns := toNetworkSettings(c)
	out.NetworkSettings = &container.NetworkSettingsSummary{Networks: ns.Networks}
	for _, b := range c.NetworkSettings.Ports {
		ps := container.PortSummary{PrivatePort: b.ContainerPort, PublicPort: b.HostPort, Type: protoOr(b.Proto)}
		ps.IP, _ = netip.ParseAddr(b.HostIP)
		if !ps.IP.IsValid() {
			ps.IP = netip.IPv4Unspecified()
		}
		out.Ports = append(out.Ports, ps)
	}
	if h := c.State.Health; h != nil {
		out.Health = &container.HealthSummary{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak}
	}
	return out
}

// statusText is the human status of docker ps ("Up 3 minutes", "Exited (0) 2 seconds ago").
func statusText(s api.ContainerState) string {
	switch s.Status {
	case api.StatusRunning, api.StatusPaused:
		t := "Up " + units.HumanDuration(time.Since(s.StartedAt))
		if s.Paused {
			t += " (Paused)"
		}
		if h := s.Health; h != nil {
			switch h.Status {
			case api.HealthStarting:
				t += " (health: starting)"
			default:
				t += " (" + h.Status + ")"
			}
		}
		return t
	case api.StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(time.Since(s.FinishedAt)))
	case api.StatusExited:
		if s.FinishedAt.IsZero() {
			return "Created"
		}
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(time.Since(s.FinishedAt)))
	case api.StatusCreated:
		return "Created"
	case api.StatusRemoving:
		return "Removal In Progress"
	case api.StatusDead:
		return "Dead"
	}
	return s.Status
}

// legacyInspect is the inspect answer before API 1.52, whose NetworkSettings also had the
// first network's address at the top (scripts use {{.NetworkSettings.IPAddress}}).
type legacyInspect struct {
	container.InspectResponse
	NetworkSettings *legacyNetworkSettings
}

type legacyNetworkSettings struct {
	container.NetworkSettings
	Bridge                 string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
}

// toLegacyInspect is in, Docker's inspect of c, in the shape API versions before 1.52 have.
func toLegacyInspect(c api.Container, in container.InspectResponse) legacyInspect {
	ns := &legacyNetworkSettings{NetworkSettings: *in.NetworkSettings, IPAddress: c.NetworkSettings.IPAddress, Gateway: c.NetworkSettings.Gateway}
	for _, name := range networkNames(c.Config) {
		if ep, ok := c.NetworkSettings.Networks[name]; ok {
			ns.IPAddress, ns.Gateway, ns.IPPrefixLen, ns.MacAddress, ns.EndpointID = ep.IPAddress, ep.Gateway, ep.IPPrefixLen, ep.MacAddress, ep.NetworkID
			break
		}
	}
	return legacyInspect{InspectResponse: in, NetworkSettings: ns}
}

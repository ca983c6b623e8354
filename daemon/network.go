package daemon

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/network"
	"github.com/drover/drover/runtime/spec"
)

// netPlan is how one run of a container joins the network: the namespaces the spec
// names, the files the engine bind-mounts (/etc/hosts, /etc/resolv.conf, /etc/hostname)
// and what inspect shows.
type netPlan struct {
	mode     spec.NetworkMode
	ipc, uts string
	mounts   []spec.Mount
	settings api.NetworkSettings
}

// Engine-written files in a container's bundle, bind-mounted over the image's.
var netFiles = []string{"hosts", "resolv.conf", "hostname"}

// setupNetwork makes the network of one run. On failure nothing of it is left; on success
// cleanupRun undoes it (network.Manager.Release).
func (d *Daemon) setupNetwork(c *container) (p netPlan, retErr error) {
	c.mu.Lock()
	cfg := c.rec.Config
	id, bundle := c.rec.ID, c.rec.Bundle
	c.mu.Unlock()
	h := cfg.Host
	switch {
	case h.Pod != "" || strings.HasPrefix(h.NetworkMode, "container:"):
		return d.joinNetwork(c, cfg)
	case h.NetworkMode == "host":
		p.mode = spec.NetworkHost
		hosts, _ := os.ReadFile("/etc/hosts")
		if err := writeNetFiles(bundle, hosts, d.resolvConf(cfg, nil), cfg.Hostname); err != nil {
			return p, err
		}
		p.mounts = netFileMounts(bundle)
		return p, nil
	case h.NetworkMode == api.NetworkCNI:
		return d.setupCNI(c)
	case h.NetworkMode == "none":
		p.mode = spec.NetworkNone
		if err := writeNetFiles(bundle, hostsFile(cfg, ""), d.resolvConf(cfg, nil), cfg.Hostname); err != nil {
			return p, err
		}
		p.mounts = netFileMounts(bundle)
		return p, nil
	}

	nsPath := d.net.NamespacePath(id)
	if err := network.NewNamespace(nsPath); err != nil {
		return p, fmt.Errorf("create network namespace: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = d.net.Release(id)
		}
	}()
	p.mode = spec.NetworkMode(nsPath)
	p.settings = api.NetworkSettings{SandboxKey: nsPath, Networks: map[string]api.EndpointSettings{}}
	var first *network.Endpoint
	for _, name := range attachOrder(cfg) {
		ec := cfg.Networks[name]
		ep, err := d.net.Attach(nsPath, network.AttachOptions{ContainerID: id, Network: name, IP: ec.IPAddress, MAC: ec.MacAddress, Aliases: ec.Aliases})
		if err != nil {
			return p, err
		}
		if first == nil {
			first = &ep
		}
		p.settings.Networks[ep.Network] = endpointSettings(ep)
	}
	if first != nil {
		p.settings.IPAddress, p.settings.Gateway = first.IP, first.Gateway
	}
	if ports := portsToPublish(cfg); len(ports) > 0 {
		got, err := d.net.Publish(id, ports)
		if err != nil {
			return p, err
		}
		for _, b := range got {
			p.settings.Ports = append(p.settings.Ports, api.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort, ContainerPort: b.ContainerPort, Proto: b.Proto})
		}
	}
	ip := ""
	var dnsServer []netip.Addr
	if first != nil {
		ip = first.IP
		if gw, ok := d.dnsAddr(first.NetworkID); ok {
			dnsServer = []netip.Addr{gw}
		}
	}
	if err := writeNetFiles(bundle, hostsFile(cfg, ip), d.resolvConf(cfg, dnsServer), cfg.Hostname); err != nil {
		return p, err
	}
	p.mounts = netFileMounts(bundle)
	return p, nil
}

// joinNetwork shares the namespaces of a running container: the pod's infra container
// (network, IPC and UTS: its process's, or its files when it is pinned) or the container
// of --network container:X (network only).
func (d *Daemon) joinNetwork(c *container, cfg api.ContainerConfig) (netPlan, error) {
	var p netPlan
	ref, what := strings.TrimPrefix(cfg.Host.NetworkMode, "container:"), "container"
	if cfg.Host.Pod != "" {
		pod, err := d.podTab.get(cfg.Host.Pod)
		if err != nil {
			return p, err
		}
		if err := d.ensurePodRunning(pod); err != nil {
			return p, err
		}
		ref, what = pod.InfraID, "pod "+pod.Name
	}
	other, err := d.lookup(ref)
	if err != nil {
		return p, fmt.Errorf("join the network of %s: %w", what, err)
	}
	other.mu.Lock()
	pid, running := other.rec.State.Pid, other.rec.State.Running
	mode, settings, bundle := other.rec.Config.Host.NetworkMode, other.rec.NetworkSettings, other.rec.Bundle
	ipcMode, pinned := other.rec.Config.Host.IpcMode, other.rec.Pinned
	other.mu.Unlock()
	if !running || pid == 0 && !pinned {
		return p, fmt.Errorf("cannot join the network of %s %s: it is not running: start it first: %w", what, other.rec.Name, errdefs.ErrConflict)
	}
	nsPath := func(kind string) string {
		if pinned {
			return d.podNSPath(other.rec.ID, kind)
		}
		return fmt.Sprintf("/proc/%d/ns/%s", pid, kind)
	}
	switch {
	case mode == "host":
		p.mode = spec.NetworkHost
	case pinned:
		p.mode = spec.NetworkMode(settings.SandboxKey)
	default:
		p.mode = spec.NetworkMode(nsPath("net"))
	}
	if cfg.Host.Pod != "" {
		p.ipc, p.uts = nsPath("ipc"), nsPath("uts")
		if ipcMode == "host" {
			p.ipc = "host"
		}
	}
	p.settings = api.NetworkSettings{SandboxKey: settings.SandboxKey}
	p.mounts = netFileMounts(bundle)
	return p, nil
}

// attachOrder is the container's networks, the one of NetworkMode first (it gets eth0
// and the default route), then the ones connected later, by name.
func attachOrder(cfg api.ContainerConfig) []string {
	out := []string{cfg.Host.NetworkMode}
	var rest []string
	for name := range cfg.Networks {
		if name != cfg.Host.NetworkMode {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func endpointSettings(ep network.Endpoint) api.EndpointSettings {
	return api.EndpointSettings{NetworkID: ep.NetworkID, IPAddress: ep.IP, IPPrefixLen: ep.PrefixLen, Gateway: ep.Gateway, MacAddress: ep.MAC, Aliases: ep.Aliases}
}

// portsToPublish is -p plus, with -P, every exposed port not already published.
func portsToPublish(cfg api.ContainerConfig) []network.PortBinding {
	var out []network.PortBinding
	bound := map[string]bool{}
	for _, b := range cfg.Host.PortBindings {
		out = append(out, network.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort, ContainerPort: b.ContainerPort, Proto: b.Proto})
		bound[portKey(b.ContainerPort, b.Proto)] = true
	}
	if cfg.Host.PublishAllPorts {
		keys := make([]string, 0, len(cfg.ExposedPorts))
		for k := range cfg.ExposedPorts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			bs, err := network.ParsePortSpec(k)
			if err != nil || len(bs) != 1 || bound[portKey(bs[0].ContainerPort, bs[0].Proto)] {
				continue
			}
			out = append(out, bs[0])
		}
	}
	return out
}

func portKey(port uint16, proto string) string {
	if proto == "" {
		proto = "tcp"
	}
	return fmt.Sprintf("%d/%s", port, proto)
}

// hostsFile is /etc/hosts as Docker writes it: loopback names, --add-host entries, then
// the container's own address and hostname.
func hostsFile(cfg api.ContainerConfig, ip string) []byte {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, e := range cfg.Host.ExtraHosts {
		name, addr, _ := splitExtraHost(e)
		fmt.Fprintf(&b, "%s\t%s\n", addr, name)
	}
	if ip != "" {
		fmt.Fprintf(&b, "%s\t%s\n", ip, cfg.Hostname)
	}
	return []byte(b.String())
}

// splitExtraHost reads an --add-host value: NAME:IP, or NAME=IP as newer Docker accepts.
func splitExtraHost(e string) (name, addr string, ok bool) {
	if i := strings.IndexByte(e, '='); i > 0 {
		return e[:i], e[i+1:], true
	}
	return strings.Cut(e, ":")
}

// resolvConf is the container's /etc/resolv.conf: the embedded DNS server of its network
// (which forwards other names to the --dns servers if given, else to the host's), else the
// --dns servers, else the host's (loopback ones dropped: the container cannot reach the
// host's loopback). Search domains and options come from --dns-search and --dns-option,
// else from the host.
func (d *Daemon) resolvConf(cfg api.ContainerConfig, embedded []netip.Addr) []byte {
	hostData, _ := os.ReadFile(d.cfg.ResolvConf)
	hostNS, search, opts := parseResolvConf(hostData)
	var servers []string
	switch {
	case len(embedded) > 0:
		for _, a := range embedded {
			servers = append(servers, a.String())
		}
	case len(cfg.Host.DNS) > 0:
		servers = cfg.Host.DNS
	default:
		for _, a := range hostNS {
			servers = append(servers, a.String())
		}
	}
	if len(cfg.Host.DNSSearch) > 0 {
		search = cfg.Host.DNSSearch
	}
	if len(cfg.Host.DNSOptions) > 0 {
		opts = cfg.Host.DNSOptions
	}
	if len(embedded) > 0 && !slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(o, "ndots:") }) {
		// As Docker: a bare container name is asked as it is before any search domain
		// is tried, so "web" finds the container even with search domains set.
		opts = append(append([]string{}, opts...), "ndots:0")
	}
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(opts) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(opts, " "))
	}
	return []byte(b.String())
}

func writeNetFiles(bundle string, hosts, resolv []byte, hostname string) error {
	for name, data := range map[string][]byte{"hosts": hosts, "resolv.conf": resolv, "hostname": []byte(hostname + "\n")} {
		if err := atomicfile.Replace(filepath.Join(bundle, name), data, 0o644); err != nil {
			return fmt.Errorf("write /etc/%s of the container: %w", name, err)
		}
	}
	return nil
}

func netFileMounts(bundle string) []spec.Mount {
	var ms []spec.Mount
	for _, name := range netFiles {
		ms = append(ms, spec.Mount{Type: spec.MountBind, Source: filepath.Join(bundle, name), Destination: "/etc/" + name})
	}
	return ms
}

// validateNetwork checks the network options of a new container and normalises
// NetworkMode ("" and "default" mean the default bridge network).
func (d *Daemon) validateNetwork(cfg *api.ContainerConfig) error {
	h := &cfg.Host
	bad := func(format string, args ...any) error {
		return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
	}
	if h.NetworkMode == "" || h.NetworkMode == "default" {
		h.NetworkMode = network.DefaultNetwork
	}
	for _, b := range h.PortBindings {
		if _, err := network.ParsePortSpec(portKey(b.ContainerPort, b.Proto)); err != nil {
			return err
		}
		if b.HostIP != "" {
			if a, err := netip.ParseAddr(b.HostIP); err != nil || !a.Is4() {
				return bad("published port %d: host address %q is not an IPv4 address", b.ContainerPort, b.HostIP)
			}
		}
	}
	for _, e := range h.ExtraHosts {
		name, addr, ok := splitExtraHost(e)
		if _, err := netip.ParseAddr(addr); !ok || name == "" || strings.ContainsAny(name, " \t\r\n#") || err != nil {
			return bad("invalid --add-host %q: want NAME:IP", e)
		}
	}
	for _, v := range append(append([]string{}, h.DNSSearch...), h.DNSOptions...) {
		if v == "" || strings.ContainsAny(v, " \t\r\n#;") {
			return bad("invalid --dns-search or --dns-option %q: one word each", v)
		}
	}
	for _, s := range h.DNS {
		if _, err := netip.ParseAddr(s); err != nil {
			return bad("invalid --dns %q: want an IP address", s)
		}
	}
	publishes := len(h.PortBindings) > 0 || h.PublishAllPorts
	user := cfg.Networks[h.NetworkMode]
	switch {
	case h.Pod != "":
		if h.NetworkMode != network.DefaultNetwork {
			return bad("conflicting options: a container in a pod shares the pod's network: drop --network")
		}
		if publishes {
			return bad("conflicting options: publish ports on the pod (pod create -p), not on its containers")
		}
		if cfg.Hostname != "" {
			return bad("conflicting options: a container in a pod shares the pod's hostname: drop --hostname")
		}
		pod, err := d.podTab.get(h.Pod)
		if err != nil {
			return err
		}
		h.Pod = pod.ID
		if infra, err := d.lookup(pod.InfraID); err == nil {
			cfg.Hostname = infra.rec.Config.Hostname
			if h.CgroupParent == "" {
				h.CgroupParent = infra.rec.Config.Host.CgroupParent // the pod's members share its cgroup parent
			}
		}
		return nil
	case strings.HasPrefix(h.NetworkMode, "container:"):
		other, err := d.lookup(strings.TrimPrefix(h.NetworkMode, "container:"))
		if err != nil {
			return fmt.Errorf("--network %s: %w", h.NetworkMode, err)
		}
		if publishes {
			return bad("conflicting options: port publishing and the container network mode: publish on %s instead", other.rec.Name)
		}
		h.NetworkMode = "container:" + other.rec.ID
		if cfg.Hostname == "" {
			cfg.Hostname = other.rec.Config.Hostname
		}
		return nil
	case h.NetworkMode == api.NetworkCNI:
		return d.validateCNI(cfg)
	case h.NetworkMode == "none" || h.NetworkMode == "host":
		if publishes && h.NetworkMode == "none" {
			return bad("conflicting options: port publishing and the none network mode")
		}
		if user.IPAddress != "" || len(user.Aliases) > 0 || user.MacAddress != "" {
			return bad("--ip, --network-alias and --mac-address need a network: they do not apply to --network %s", h.NetworkMode)
		}
		if publishes {
			h.PortBindings, h.PublishAllPorts = nil, false // as Docker: host networking publishes nothing
		}
		return nil
	}
	n, err := d.net.Get(h.NetworkMode)
	if err != nil {
		return fmt.Errorf("network %s not found: create it with drover network create, or pick one from drover network ls: %w", h.NetworkMode, errdefs.ErrNotFound)
	}
	if n.Name == network.DefaultNetwork && (user.IPAddress != "" || len(user.Aliases) > 0) {
		return bad("--ip and --network-alias are supported on user-defined networks only: create one with drover network create")
	}
	if user.IPAddress != "" {
		a, err := netip.ParseAddr(user.IPAddress)
		if err != nil || !a.Is4() || !netip.MustParsePrefix(n.Subnet).Contains(a) {
			return bad("--ip %s is not an IPv4 address in the subnet %s of network %s", user.IPAddress, n.Subnet, n.Name)
		}
	}
	if n.Internal && publishes {
		return bad("cannot publish ports on the internal network %s: it has no way in or out", n.Name)
	}
	// Keep the name the user gave a stable key; the network itself is found again by name.
	if h.NetworkMode != n.Name {
		if ec, ok := cfg.Networks[h.NetworkMode]; ok {
			delete(cfg.Networks, h.NetworkMode)
			cfg.Networks[n.Name] = ec
		}
		h.NetworkMode = n.Name
	}
	return nil
}

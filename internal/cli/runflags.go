package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"

	"github.com/drover/drover/api"
	"github.com/drover/drover/network"
)

// containerFlags are the flags of run and create.
type containerFlags struct {
	name, workdir, user, hostname, entrypoint, memory, memorySwap, cpus, restart, stopSignal string
	network, runtime, shmSize, healthCmd, logDriver                                          string
	pull, platform, ip, mac, pod                                                             string
	env, envFile, volumes, tmpfs, ulimits, capAdd, capDrop, securityOpt, labels, logOpts     []string
	publish, aliases, dns, dnsSearch, dnsOptions, addHosts, mounts, expose                   []string
	interactive, tty, readOnly, privileged, init, rm, noHealthcheck, publishAll              bool
	cpuShares, pidsLimit                                                                     int64
	stopTimeout, healthRetries                                                               int
	healthInterval, healthTimeout, healthStartPeriod                                         time.Duration
}

func (f *containerFlags) register(fs *pflag.FlagSet) {
	fs.SetInterspersed(false)
	fs.StringVar(&f.name, "name", "", "assign a name to the container")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "user[:group] to run as")
	fs.StringVar(&f.hostname, "hostname", "", "container host name")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "override the image's entrypoint (\"\" clears it)")
	stringsVar(fs, &f.env, "env", "e", "set environment variables (KEY=VALUE, or KEY to copy it)")
	stringsVar(fs, &f.envFile, "env-file", "", "read environment variables from a file")
	stringsVar(fs, &f.volumes, "volume", "v", "mount a volume or host path: [NAME|SRC:]DST[:ro|rw]")
	stringsVar(fs, &f.tmpfs, "tmpfs", "", "mount a tmpfs: PATH[:OPTIONS]")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the root filesystem read-only")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 512m)")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit; -1 for unlimited swap")
	fs.StringVar(&f.cpus, "cpus", "", "number of CPUs (e.g. 1.5)")
	fs.Int64Var(&f.cpuShares, "cpu-shares", 0, "relative CPU weight")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "maximum number of processes (-1 unlimited)")
	stringsVar(fs, &f.ulimits, "ulimit", "", "resource limit: NAME=SOFT[:HARD]")
	stringsVar(fs, &f.capAdd, "cap-add", "", "add Linux capabilities")
	stringsVar(fs, &f.capDrop, "cap-drop", "", "drop Linux capabilities")
	stringsVar(fs, &f.securityOpt, "security-opt", "", "security options: no-new-privileges, seccomp=unconfined|FILE")
	fs.BoolVar(&f.privileged, "privileged", false, "give the container all capabilities and devices, no seccomp (see docs)")
	fs.StringVar(&f.restart, "restart", "no", "restart policy: no, on-failure[:N], always, unless-stopped")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", -2, "seconds to wait for the stop signal before killing")
	stringsVar(fs, &f.labels, "label", "l", "set metadata (KEY=VALUE)")
	fs.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&f.pull, "pull", "missing", "pull the image before creating: always, missing or never")
	fs.StringVar(&f.platform, "platform", "", "platform of the image to pull (os/arch[/variant])")
	fs.StringVar(&f.network, "network", "", "connect to a network: bridge (default), NAME, none, host or container:NAME|ID")
	fs.StringVar(&f.network, "net", "", "same as --network")
	_ = fs.MarkHidden("net")
	stringsVar(fs, &f.publish, "publish", "p", "publish a port: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], ranges allowed")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish every exposed port on a random host port")
	stringsVar(fs, &f.expose, "expose", "", "expose a port or range without publishing it: PORT[/tcp|udp]")
	fs.StringVar(&f.ip, "ip", "", "IPv4 address on the user network (e.g. 172.30.0.10)")
	stringsVar(fs, &f.aliases, "network-alias", "", "another DNS name of the container on its network")
	fs.StringVar(&f.mac, "mac-address", "", "MAC address of the container's interface (e.g. 02:42:ac:11:00:02)")
	stringsVar(fs, &f.dns, "dns", "", "DNS server for the container")
	stringsVar(fs, &f.dnsSearch, "dns-search", "", "DNS search domain")
	stringsVar(fs, &f.dnsOptions, "dns-option", "", "resolv.conf option (e.g. ndots:2)")
	stringsVar(fs, &f.addHosts, "add-host", "", "add a line to /etc/hosts: NAME:IP")
	fs.StringVar(&f.pod, "pod", "", "run in a pod: share its network, IPC and UTS namespaces")
	stringsVar(fs, &f.mounts, "mount", "", "mount: type=volume|bind|tmpfs,source=...,target=...[,readonly]")
	fs.StringVar(&f.runtime, "runtime", "", "OCI runtime for this container (default: embedded)")
	fs.StringVar(&f.logDriver, "log-driver", "", "log format: json-file (default) or k8s-file (the CRI's, which kubelet and crictl read)")
	stringsVar(fs, &f.logOpts, "log-opt", "", "log driver options: max-size=SIZE, max-file=N; path=FILE for k8s-file")
	fs.StringVar(&f.shmSize, "shm-size", "", "size of /dev/shm")
	fs.StringVar(&f.healthCmd, "health-cmd", "", "command to run to check health")
	fs.DurationVar(&f.healthInterval, "health-interval", 0, "time between health checks")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "maximum time a check may run")
	fs.DurationVar(&f.healthStartPeriod, "health-start-period", 0, "start period in which failures do not count")
	fs.IntVar(&f.healthRetries, "health-retries", 0, "consecutive failures before unhealthy")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "disable the image's health check")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep stdin open")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-terminal")
}

func badFlag(flag, value, hint string) error {
	return exitCode(125, fmt.Sprintf("invalid value %q for --%s: %s\nSee 'drover run --help'.", value, flag, hint))
}

// config turns the flags and the IMAGE [COMMAND...] arguments into a create request.
func (f *containerFlags) config(fs *pflag.FlagSet, args []string) (api.ContainerConfig, error) {
	cfg := api.ContainerConfig{Name: f.name, Image: args[0], WorkingDir: f.workdir, User: f.user, Hostname: f.hostname,
		Tty: f.tty, OpenStdin: f.interactive, StdinOnce: f.interactive, StopSignal: f.stopSignal}
	if len(args) > 1 {
		cfg.Cmd = args[1:]
	}
	if fs.Changed("entrypoint") {
		cfg.Entrypoint = []string{}
		if f.entrypoint != "" {
			cfg.Entrypoint = []string{f.entrypoint}
		}
	}
	if f.stopTimeout != -2 {
		t := f.stopTimeout
		cfg.StopTimeout = &t
	}
	for _, file := range f.envFile {
		vars, err := readEnvFile(file)
		if err != nil {
			return cfg, exitCode(125, err.Error())
		}
		cfg.Env = append(cfg.Env, vars...)
	}
	for _, e := range f.env {
		if !strings.Contains(e, "=") {
			v, ok := os.LookupEnv(e)
			if !ok {
				continue
			}
			e += "=" + v
		}
		cfg.Env = append(cfg.Env, e)
	}
	if len(f.labels) > 0 {
		cfg.Labels = map[string]string{}
		for _, l := range f.labels {
			k, v, _ := strings.Cut(l, "=")
			cfg.Labels[k] = v
		}
	}
	h := &cfg.Host
	h.ReadonlyRootfs, h.Privileged, h.Init, h.AutoRemove = f.readOnly, f.privileged, f.init, f.rm
	h.CapAdd, h.CapDrop, h.SecurityOpt = f.capAdd, f.capDrop, f.securityOpt
	h.NetworkMode, h.Runtime, h.CPUShares, h.PidsLimit = f.network, f.runtime, f.cpuShares, f.pidsLimit
	h.Pod, h.PublishAllPorts = f.pod, f.publishAll
	h.DNS, h.DNSSearch, h.DNSOptions, h.ExtraHosts = f.dns, f.dnsSearch, f.dnsOptions, f.addHosts
	for _, p := range f.publish {
		bs, err := network.ParsePortSpec(p)
		if err != nil {
			return cfg, badFlag("publish", p, "use [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], e.g. 8080:80")
		}
		for _, b := range bs {
			h.PortBindings = append(h.PortBindings, api.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort, ContainerPort: b.ContainerPort, Proto: b.Proto})
		}
	}
	for _, x := range f.expose {
		bs, err := network.ParsePortSpec(x)
		if err != nil || strings.Contains(x, ":") {
			return cfg, badFlag("expose", x, "use PORT[-PORT][/tcp|udp]")
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, b := range bs {
			cfg.ExposedPorts[fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto)] = struct{}{}
		}
	}
	if f.ip != "" || f.mac != "" || len(f.aliases) > 0 {
		key := f.network
		if key == "" {
			key = "bridge"
		}
		cfg.Networks = map[string]api.EndpointConfig{key: {IPAddress: f.ip, MacAddress: f.mac, Aliases: f.aliases}}
	}
	for _, v := range f.volumes {
		m, bind, err := parseVolumeFlag(v)
		if err != nil {
			return cfg, badFlag("volume", v, err.Error())
		}
		if m != nil {
			h.Mounts = append(h.Mounts, *m)
			continue
		}
		h.Binds = append(h.Binds, bind)
	}
	for _, v := range f.mounts {
		m, err := parseMountFlag(v)
		if err != nil {
			return cfg, badFlag("mount", v, err.Error())
		}
		h.Mounts = append(h.Mounts, m)
	}
	if len(f.tmpfs) > 0 {
		h.Tmpfs = map[string]string{}
		for _, t := range f.tmpfs {
			p, opts, _ := strings.Cut(t, ":")
			h.Tmpfs[p] = opts
		}
	}
	var err error
	if f.memory != "" {
		if h.Memory, err = units.RAMInBytes(f.memory); err != nil || h.Memory <= 0 {
			return cfg, badFlag("memory", f.memory, "give a size such as 512m or 1g")
		}
	}
	if f.memorySwap == "-1" {
		h.MemorySwap = -1
	} else if f.memorySwap != "" {
		if h.MemorySwap, err = units.RAMInBytes(f.memorySwap); err != nil {
			return cfg, badFlag("memory-swap", f.memorySwap, "give a size such as 1g, or -1")
		}
	}
	if f.shmSize != "" {
		if h.ShmSize, err = units.RAMInBytes(f.shmSize); err != nil || h.ShmSize <= 0 {
			return cfg, badFlag("shm-size", f.shmSize, "give a size such as 64m")
		}
	}
	if f.cpus != "" {
		c, err := strconv.ParseFloat(f.cpus, 64)
		if err != nil || c <= 0 {
			return cfg, badFlag("cpus", f.cpus, "give a positive number such as 0.5")
		}
		h.NanoCPUs = int64(c * 1e9)
	}
	for _, u := range f.ulimits {
		ul, err := parseUlimit(u)
		if err != nil {
			return cfg, badFlag("ulimit", u, err.Error())
		}
		h.Ulimits = append(h.Ulimits, ul)
	}
	if h.RestartPolicy, err = parseRestart(f.restart); err != nil {
		return cfg, badFlag("restart", f.restart, err.Error())
	}
	h.LogConfig.Type = f.logDriver
	if len(f.logOpts) > 0 {
		h.LogConfig.Config = map[string]string{}
		for _, o := range f.logOpts {
			k, v, ok := strings.Cut(o, "=")
			if !ok {
				return cfg, badFlag("log-opt", o, "use KEY=VALUE")
			}
			h.LogConfig.Config[k] = v
		}
	}
	switch {
	case f.noHealthcheck:
		cfg.Healthcheck = &api.HealthConfig{Test: []string{"NONE"}}
	case f.healthCmd != "" || f.healthInterval > 0 || f.healthTimeout > 0 || f.healthRetries > 0 || f.healthStartPeriod > 0:
		cfg.Healthcheck = &api.HealthConfig{Interval: f.healthInterval, Timeout: f.healthTimeout, StartPeriod: f.healthStartPeriod, Retries: f.healthRetries}
		if f.healthCmd != "" {
			cfg.Healthcheck.Test = []string{"CMD-SHELL", f.healthCmd}
		}
	}
	return cfg, nil
}

func parseUlimit(s string) (api.Ulimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return api.Ulimit{}, fmt.Errorf("use NAME=SOFT[:HARD], e.g. nofile=1024:2048")
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	soft, err := strconv.ParseInt(softS, 10, 64)
	if err != nil {
		return api.Ulimit{}, fmt.Errorf("soft limit must be a number")
	}
	hard := soft
	if hasHard {
		if hard, err = strconv.ParseInt(hardS, 10, 64); err != nil {
			return api.Ulimit{}, fmt.Errorf("hard limit must be a number")
		}
	}
	if soft > hard && hard != -1 {
		return api.Ulimit{}, fmt.Errorf("soft limit cannot exceed the hard limit")
	}
	return api.Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

func parseRestart(s string) (api.RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	switch name {
	case "", "no", "always", "unless-stopped":
		if hasCount {
			return api.RestartPolicy{}, fmt.Errorf("only on-failure takes a retry count")
		}
		return api.RestartPolicy{Name: name}, nil
	case "on-failure":
		p := api.RestartPolicy{Name: name}
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, fmt.Errorf("the retry count must be a non-negative number")
			}
			p.MaximumRetryCount = n
		}
		return p, nil
	}
	return api.RestartPolicy{}, fmt.Errorf("use no, on-failure[:N], always or unless-stopped")
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped, a bare KEY
// copies the variable from this environment.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open env file: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, "=") {
			if v, ok := os.LookupEnv(line); ok {
				out = append(out, line+"="+v)
			}
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// parseVolumeFlag reads one -v value as Docker does: "/ctr" is an anonymous volume,
// "NAME:/ctr[:ro]" a named volume, "SRC:/ctr[:opts]" with SRC a path (absolute, or starting
// with . or containing /) a bind mount, returned as its Binds form with SRC made absolute.
func parseVolumeFlag(v string) (*api.Mount, string, error) {
	parts := strings.Split(v, ":")
	if len(parts) == 1 {
		if !filepath.IsAbs(v) {
			return nil, "", fmt.Errorf("the container path must be absolute")
		}
		return &api.Mount{Type: "volume", Target: v}, "", nil
	}
	src := parts[0]
	if filepath.IsAbs(src) || strings.HasPrefix(src, ".") || strings.Contains(src, "/") {
		if !filepath.IsAbs(src) {
			if abs, err := filepath.Abs(src); err == nil {
				v = abs + v[len(src):]
			}
		}
		return nil, v, nil
	}
	if len(parts) > 3 || !filepath.IsAbs(parts[1]) {
		return nil, "", fmt.Errorf("use NAME:/PATH[:ro|rw] for a volume, or /HOST/PATH:/PATH for a bind mount")
	}
	m := &api.Mount{Type: "volume", Source: src, Target: parts[1]}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw", "":
			case "nocopy":
				m.NoCopy = true
			default:
				return nil, "", fmt.Errorf("unknown volume option %q: use ro, rw or nocopy", o)
			}
		}
	}
	return m, "", nil
}

// parseMountFlag reads one --mount value: comma-separated key=value pairs as Docker's.
func parseMountFlag(v string) (api.Mount, error) {
	m := api.Mount{Type: "volume"}
	for _, field := range strings.Split(v, ",") {
		k, val, hasVal := strings.Cut(field, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		boolVal := func() (bool, error) {
			if !hasVal {
				return true, nil
			}
			b, err := strconv.ParseBool(val)
			if err != nil {
				return false, fmt.Errorf("%s: want true or false", k)
			}
			return b, nil
		}
		var err error
		switch k {
		case "type":
			m.Type = val
		case "source", "src":
			m.Source = val
		case "target", "destination", "dst":
			m.Target = val
		case "readonly", "ro":
			m.ReadOnly, err = boolVal()
		case "volume-nocopy":
			m.NoCopy, err = boolVal()
		case "bind-propagation":
			m.Propagation = val
		case "subpath", "volume-subpath":
			m.SubPath = val
		case "tmpfs-size":
			m.TmpfsSize, err = units.RAMInBytes(val)
		case "tmpfs-mode":
			var mode uint64
			mode, err = strconv.ParseUint(val, 8, 32)
			m.TmpfsMode = uint32(mode)
		case "":
		default:
			return m, fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return m, err
		}
	}
	switch m.Type {
	case "volume", "bind", "tmpfs":
	case "image":
		// An image's files, read-only, as podman's --mount type=image.
		if m.Source == "" {
			return m, fmt.Errorf("an image mount needs source=IMAGE")
		}
		m.ReadOnly = true
	default:
		return m, fmt.Errorf("type must be volume, bind, tmpfs or image")
	}
	if m.SubPath != "" && m.Type != "image" {
		return m, fmt.Errorf("subpath applies to image mounts only")
	}
	if !filepath.IsAbs(m.Target) {
		return m, fmt.Errorf("target must be an absolute path inside the container")
	}
	if m.Type == "bind" {
		if m.Source == "" {
			return m, fmt.Errorf("a bind mount needs source=HOST-PATH")
		}
		abs, err := filepath.Abs(m.Source)
		if err != nil {
			return m, err
		}
		m.Source = abs
	}
	if m.Type == "tmpfs" && m.Source != "" {
		return m, fmt.Errorf("a tmpfs mount takes no source")
	}
	return m, nil
}

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
)

// containerFlags are the flags of run and create.
type containerFlags struct {
	name, workdir, user, hostname, entrypoint, memory, memorySwap, cpus, restart, stopSignal string
	network, runtime, shmSize, healthCmd                                                     string
	pull, platform                                                                           string
	env, envFile, volumes, tmpfs, ulimits, capAdd, capDrop, securityOpt, labels, logOpts     []string
	interactive, tty, readOnly, privileged, init, rm, noHealthcheck                          bool
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
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables (KEY=VALUE, or KEY to copy it)")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "read environment variables from a file")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount a host path: SRC:DST[:ro|rw]")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs: PATH[:OPTIONS]")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the root filesystem read-only")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 512m)")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit; -1 for unlimited swap")
	fs.StringVar(&f.cpus, "cpus", "", "number of CPUs (e.g. 1.5)")
	fs.Int64Var(&f.cpuShares, "cpu-shares", 0, "relative CPU weight")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "maximum number of processes (-1 unlimited)")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "resource limit: NAME=SOFT[:HARD]")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "security options: no-new-privileges, seccomp=unconfined|FILE")
	fs.BoolVar(&f.privileged, "privileged", false, "give the container all capabilities and devices, no seccomp (see docs)")
	fs.StringVar(&f.restart, "restart", "no", "restart policy: no, on-failure[:N], always, unless-stopped")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", -2, "seconds to wait for the stop signal before killing")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "set metadata (KEY=VALUE)")
	fs.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&f.pull, "pull", "missing", "pull the image before creating: always, missing or never")
	fs.StringVar(&f.platform, "platform", "", "platform of the image to pull (os/arch[/variant])")
	fs.StringVar(&f.network, "network", "", "network mode: none (default) or host")
	fs.StringVar(&f.runtime, "runtime", "", "OCI runtime for this container (default: embedded)")
	fs.StringArrayVar(&f.logOpts, "log-opt", nil, "log driver options: max-size=SIZE, max-file=N")
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
	for _, v := range f.volumes {
		src, rest, ok := strings.Cut(v, ":")
		if ok && !filepath.IsAbs(src) && (strings.HasPrefix(src, ".") || strings.Contains(src, "/")) {
			abs, err := filepath.Abs(src)
			if err == nil {
				v = abs + ":" + rest
			}
		}
		h.Binds = append(h.Binds, v)
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

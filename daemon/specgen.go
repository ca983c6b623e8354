package daemon

import (
	"fmt"
	"os"
	"path"
	goruntime "runtime"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime/spec"
)

// buildSpec turns a container's configuration into its OCI runtime spec, and fails early,
// with Docker's wording, when the command cannot be found in the image.
func (d *Daemon) buildSpec(rec *record, rootfs string, plan netPlan) (*specs.Spec, error) {
	cfg := rec.Config
	h := cfg.Host
	args := append([]string{rec.Path}, rec.Args...)
	o := spec.Options{
		ID:             rec.ID,
		Rootfs:         rootfs,
		ReadonlyRootfs: h.ReadonlyRootfs,
		Args:           args,
		Env:            cfg.Env,
		Cwd:            cfg.WorkingDir,
		User:           cfg.User,
		Hostname:       cfg.Hostname,
		Terminal:       cfg.Tty,
		CapAdd:         h.CapAdd,
		CapDrop:        h.CapDrop,
		Privileged:     h.Privileged,
		CgroupsPath:    d.containerCgroup(rec),
		Network:        spec.NetworkNone,
		ShmSize:        h.ShmSize,
		Labels:         cfg.Labels,
		Resources:      specResources(h),
		OOMScoreAdj:    h.OomScoreAdj,
	}
	o.Network, o.IPCNamespace, o.UTSNamespace = plan.mode, plan.ipc, plan.uts
	if h.IpcMode == "host" {
		o.IPCNamespace = "host"
	}
	pidNS, err := d.pidNamespace(h.PidMode)
	if err != nil {
		return nil, err
	}
	o.PIDNamespace, o.Sysctls, o.GroupAdd, o.MaskedPaths, o.ReadonlyPaths = pidNS, h.Sysctls, h.GroupAdd, h.MaskedPaths, h.ReadonlyPaths
	o.GroupsPolicy = h.GroupsPolicy
	o.CompatABI = d.compatImage(rec.Image)
	o.Mounts = append(o.Mounts, plan.mounts...)
	if rec.Infra {
		o.Mounts = append(o.Mounts, spec.Mount{Type: spec.MountBind, Source: d.cfg.Self, Destination: pauseDest, ReadOnly: true})
	}
	for _, u := range h.Ulimits {
		o.Ulimits = append(o.Ulimits, spec.Ulimit{Name: u.Name, Soft: uint64(u.Soft), Hard: uint64(u.Hard)})
	}
	for _, b := range h.Binds {
		m, err := spec.ParseVolume(b)
		if err != nil {
			return nil, err
		}
		o.Mounts = append(o.Mounts, m)
	}
	dsts := make([]string, 0, len(h.Tmpfs))
	for dst := range h.Tmpfs {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	for _, dst := range dsts {
		arg := dst
		if opts := h.Tmpfs[dst]; opts != "" {
			arg += ":" + opts
		}
		m, err := spec.ParseTmpfs(arg)
		if err != nil {
			return nil, err
		}
		o.Mounts = append(o.Mounts, m)
	}
	// Parents before children, whatever flag each came from: /data before /data/cache.
	sort.SliceStable(o.Mounts, func(i, j int) bool {
		return strings.Count(path.Clean(o.Mounts[i].Destination), "/") < strings.Count(path.Clean(o.Mounts[j].Destination), "/")
	})
	for _, raw := range h.SecurityOpt {
		so, err := spec.ParseSecurityOpt(raw)
		if err != nil {
			return nil, err
		}
		if so.NoNewPrivileges != nil {
			o.NoNewPrivileges = *so.NoNewPrivileges
		}
		if so.Seccomp != nil {
			o.Seccomp.Mode = *so.Seccomp
			if *so.Seccomp == spec.SeccompCustom {
				prof, err := loadSeccompFile(so.SeccompProfilePath)
				if err != nil {
					return nil, err
				}
				o.Seccomp.Profile = prof
			}
		}
	}
	if h.Init {
		path, err := d.initPath()
		if err != nil {
			return nil, err
		}
		o.InitPath = path
	}
	if rec.Infra {
		s, err := spec.Generate(o)
		if err != nil {
			return nil, err
		}
		return infraSpec(s), nil
	}
	if _, err := spec.LookPath(rootfs, args[0], o.Env); err != nil {
		return nil, err
	}
	return spec.Generate(o)
}

// infraSpec trims a pod's infra container to what its pause process and the runtime's
// init need: the binary, /dev and /proc (the init reads it after pivot_root). Each mount is
// work at every pod's start (on cgroup v1 the cgroup filesystem alone is a bind mount per
// controller), and pause reads nothing. Masked paths that are not there are skipped.
func infraSpec(s *specs.Spec) *specs.Spec {
	keep := s.Mounts[:0]
	for _, m := range s.Mounts {
		switch m.Destination {
		case "/sys", "/sys/fs/cgroup", "/dev/pts", "/dev/mqueue", "/dev/shm":
		default:
			keep = append(keep, m)
		}
	}
	s.Mounts = keep
	return s
}

func loadSeccompFile(path string) (*spec.SeccompProfile, error) {
	var data []byte
	if strings.HasPrefix(strings.TrimSpace(path), "{") {
		data = []byte(path) // the profile itself, as Docker's CLI sends it
	} else {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read seccomp profile: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	prof, err := spec.ParseSeccompProfile(data)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	return prof, nil
}

// initPath is the static init injected by --init.
func (d *Daemon) initPath() (string, error) {
	if d.cfg.InitPath != "" {
		return d.cfg.InitPath, nil
	}
	return "", fmt.Errorf("--init needs a static init binary: install tini (apt-get install tini) or start the daemon with --init-path: %w", errdefs.ErrInvalidArgument)
}

// compatImage tells whether an image is built for the host's 32-bit compat ABI (386 on
// amd64, arm on arm64), whose syscalls the default seccomp profile then allows too.
func (d *Daemon) compatImage(id string) bool {
	if id == "" {
		return false
	}
	// An image ID is the digest of its config: the answer never changes.
	if v, ok := d.compatABI.Load(id); ok {
		return v.(bool)
	}
	img, err := d.images.Get(id)
	if err != nil {
		return false
	}
	compat := map[string]string{"amd64": "386", "arm64": "arm"}[goruntime.GOARCH]
	v := compat != "" && img.Config.Architecture == compat
	d.compatABI.Store(id, v)
	return v
}

// pidNamespace resolves a PidMode to what the spec generator takes: "", "host", or the
// namespace file of the running container named by "container:REF".
func (d *Daemon) pidNamespace(mode string) (string, error) {
	ref, ok := strings.CutPrefix(mode, "container:")
	switch {
	case mode == "" || mode == "private":
		return "", nil
	case mode == "host":
		return "host", nil
	case !ok || ref == "":
		return "", fmt.Errorf("pid mode %q: want host or container:NAME: %w", mode, errdefs.ErrInvalidArgument)
	}
	other, err := d.lookup(ref)
	if err != nil {
		return "", fmt.Errorf("share the PID namespace of %s: %w", ref, err)
	}
	if other.rec.Pinned {
		return "", pinnedPID(other.rec.Name)
	}
	other.mu.Lock()
	pid, running := other.rec.State.Pid, other.rec.State.Running
	other.mu.Unlock()
	if !running || pid == 0 {
		return "", fmt.Errorf("cannot share the PID namespace of %s: it is not running: start it first: %w", other.rec.Name, errdefs.ErrConflict)
	}
	return fmt.Sprintf("/proc/%d/ns/pid", pid), nil
}

package daemon

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/jsonlog"
	"github.com/drover/drover/runtime/spec"
)

// create validates cfg, merges it with the image's config and records a new container.
// Nothing is left behind when it fails. durable commits the record before returning; a
// create that a start follows at once leaves that to the start, which commits the record
// while the process starts (a crash before then leaves files that recovery removes).
func (d *Daemon) create(ctx context.Context, cfg api.ContainerConfig, durable bool) (_ *container, retErr error) {
	if cfg.Image == "" {
		return nil, fmt.Errorf("no image given: name the image to run: %w", errdefs.ErrInvalidArgument)
	}
	img, err := d.images.Get(cfg.Image)
	if err != nil {
		return nil, err
	}
	if err := validateHostConfig(&cfg.Host); err != nil {
		return nil, err
	}
	if err := d.validateNetwork(&cfg); err != nil {
		return nil, err
	}
	addImageVolumes(&cfg.Host, img)
	newVolumes, err := d.prepareMounts(&cfg.Host)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			d.dropVolumes(newVolumes)
		}
	}()
	runtimePath, err := d.resolveRuntime(cfg.Host.Runtime)
	if err != nil {
		return nil, err
	}
	mergeImageConfig(&cfg, img)
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command specified: the image has no CMD or ENTRYPOINT, give a command after the image name: %w", errdefs.ErrInvalidArgument)
	}

	return d.register(cfg, func(rec *record) {
		rec.Image, rec.ImageName = img.ID.String(), cfg.Image
		rec.Path, rec.Args = args[0], args[1:]
		rec.Runtime, rec.RuntimePath = runtimeName(runtimePath), runtimePath
	}, img.ChainID, durable)
}

// register records a new container: its name, log directory, writable layer on chain
// ("" for an empty root) and metadata; fill sets what differs between kinds of
// containers. Nothing is left behind when it fails.
func (d *Daemon) register(cfg api.ContainerConfig, fill func(*record), chain digest.Digest, durable bool) (_ *container, retErr error) {
	id := newID()
	name, err := d.reserveName(cfg.Name, id)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			d.releaseName(name)
		}
	}()
	cfg.Name = name
	if cfg.Hostname == "" && cfg.Host.NetworkMode != "host" {
		cfg.Hostname = id[:12]
	}
	logPath, undoLog, err := d.prepareLog(id, cfg.Host.LogConfig)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			undoLog()
		}
	}()
	rec := &record{
		Container: api.Container{
			ID:      id,
			Name:    name,
			Created: time.Now().UTC(),
			Config:  cfg,
			State:   api.ContainerState{Status: api.StatusCreated},
			LogPath: logPath,
		},
		Bundle: filepath.Join(d.cfg.ExecRoot, "containers", id),
	}
	fill(rec)
	if !rec.Pinned { // a pinned infra container has no root filesystem
		if err := d.images.Snapshots().Prepare(id, chain); err != nil {
			return nil, fmt.Errorf("prepare root filesystem: %w", err)
		}
	}
	defer func() {
		if retErr != nil {
			_ = d.images.Snapshots().Remove(id)
		}
	}()
	undoImageVolumes, err := d.prepareImageVolumes(id, cfg.Host)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			undoImageVolumes()
		}
	}()
	if durable {
		if err := d.store.put(rec); err != nil {
			return nil, err
		}
	}
	c := newContainer(rec)
	d.mu.Lock()
	d.containers[id] = c
	d.mu.Unlock()
	d.emitContainer(c, "create", nil)
	return c, nil
}

func runtimeName(path string) string {
	if path == "" {
		return "drover"
	}
	return filepath.Base(path)
}

// mergeImageConfig fills what the user left unset from the image, as Docker does: an
// explicit entrypoint drops the image's CMD too.
func mergeImageConfig(cfg *api.ContainerConfig, img *image.Image) {
	ic := img.Config.Config
	if cfg.Entrypoint == nil {
		cfg.Entrypoint = ic.Entrypoint
		if cfg.Cmd == nil {
			cfg.Cmd = ic.Cmd
		}
	}
	cfg.Env = mergeEnv(ic.Env, cfg.Env)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ic.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.StopSignal
	}
	// Published ports are exposed too, as Docker's -p implies --expose.
	exposed := maps.Clone(cfg.ExposedPorts)
	if exposed == nil {
		exposed = map[string]struct{}{}
	}
	maps.Copy(exposed, ic.ExposedPorts)
	for _, b := range cfg.Host.PortBindings {
		exposed[portKey(b.ContainerPort, b.Proto)] = struct{}{}
	}
	if len(exposed) > 0 {
		cfg.ExposedPorts = exposed
	}
	if cfg.Healthcheck == nil && img.Healthcheck != nil {
		h := *img.Healthcheck
		cfg.Healthcheck = &api.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	} else if cfg.Healthcheck != nil && img.Healthcheck != nil && len(cfg.Healthcheck.Test) == 0 {
		// --health-interval and friends without --health-cmd tune the image's check.
		cfg.Healthcheck.Test = img.Healthcheck.Test
	}
	if cfg.Labels == nil && len(ic.Labels) > 0 {
		cfg.Labels = map[string]string{}
	}
	for k, v := range ic.Labels {
		if _, set := cfg.Labels[k]; !set {
			cfg.Labels[k] = v
		}
	}
}

// mergeEnv overlays user variables on the image's, keyed by name.
func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func validateHostConfig(h *api.HostConfig) error {
	switch h.RestartPolicy.Name {
	case "", "no", "always", "unless-stopped":
		if h.RestartPolicy.MaximumRetryCount != 0 {
			return fmt.Errorf("maximum retry count only applies to the on-failure restart policy: %w", errdefs.ErrInvalidArgument)
		}
	case "on-failure":
		if h.RestartPolicy.MaximumRetryCount < 0 {
			return fmt.Errorf("maximum retry count cannot be negative: %w", errdefs.ErrInvalidArgument)
		}
	default:
		return fmt.Errorf("invalid restart policy %q: use no, on-failure[:N], always or unless-stopped: %w", h.RestartPolicy.Name, errdefs.ErrInvalidArgument)
	}
	if h.AutoRemove && h.RestartPolicy.Name != "" && h.RestartPolicy.Name != "no" {
		return fmt.Errorf("conflicting options: --restart and --rm cannot be used together: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := jsonlog.ParseConfig(h.LogConfig.Type, h.LogConfig.Config); err != nil {
		return fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	if p := h.CgroupParent; p != "" && (strings.Contains(p, "..") || strings.ContainsAny(p, ":\n") || strings.Trim(p, "/") == "") {
		return fmt.Errorf("cgroup parent %q: want a cgroup path such as /kubepods/pod1, without '..': %w", p, errdefs.ErrInvalidArgument)
	}
	switch h.IpcMode {
	case "", "private", "shareable", "host":
	default:
		return fmt.Errorf("ipc mode %q is not supported: use private, shareable or host: %w", h.IpcMode, errdefs.ErrInvalidArgument)
	}
	if h.PidMode != "" && h.PidMode != "private" && h.PidMode != "host" && !strings.HasPrefix(h.PidMode, "container:") {
		return fmt.Errorf("pid mode %q is not supported: use host or container:NAME: %w", h.PidMode, errdefs.ErrInvalidArgument)
	}
	if h.Memory > 0 && h.Memory < minMemory {
		return fmt.Errorf("minimum memory limit allowed is 6MB: %w", errdefs.ErrInvalidArgument)
	}
	if h.Memory > 0 && h.MemorySwap > 0 && h.MemorySwap < h.Memory {
		return fmt.Errorf("--memory-swap must be at least --memory (or -1 for unlimited swap): %w", errdefs.ErrInvalidArgument)
	}
	if h.MemorySwap > 0 && h.Memory == 0 {
		return fmt.Errorf("--memory-swap needs --memory to be set too: %w", errdefs.ErrInvalidArgument)
	}
	for _, b := range h.Binds {
		m, err := spec.ParseVolume(b)
		if err != nil {
			return err
		}
		if _, err := os.Stat(m.Source); err != nil {
			return fmt.Errorf("invalid mount config: bind source path does not exist: %s: create it or fix the -v value: %w", m.Source, errdefs.ErrInvalidArgument)
		}
	}
	for dst, opts := range h.Tmpfs {
		if _, err := spec.ParseTmpfs(dst + ":" + opts); err != nil {
			return err
		}
	}
	for _, o := range h.SecurityOpt {
		so, err := spec.ParseSecurityOpt(o)
		if err != nil {
			return err
		}
		if so.Seccomp != nil && *so.Seccomp == spec.SeccompCustom {
			if _, err := loadSeccompFile(so.SeccompProfilePath); err != nil {
				return err
			}
		}
	}
	for _, c := range append(append([]string{}, h.CapAdd...), h.CapDrop...) {
		if _, err := spec.NormalizeCapability(c); err != nil {
			return err
		}
	}
	return nil
}

// minMemory is the smallest memory limit a container starts in, as Docker enforces.
const minMemory = 6 << 20

// addImageVolumes gives the container an anonymous volume at each of the image's VOLUME
// paths that no -v, --mount or --tmpfs of the user already covers, as Docker does.
func addImageVolumes(h *api.HostConfig, img *image.Image) {
	taken := map[string]bool{}
	for _, m := range h.Mounts {
		taken[path.Clean(m.Target)] = true
	}
	for _, b := range h.Binds {
		if m, err := spec.ParseVolume(b); err == nil {
			taken[path.Clean(m.Destination)] = true
		}
	}
	for dst := range h.Tmpfs {
		taken[path.Clean(dst)] = true
	}
	var paths []string
	for p := range img.Config.Config.Volumes {
		if path.IsAbs(p) && !taken[path.Clean(p)] {
			paths = append(paths, path.Clean(p))
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		h.Mounts = append(h.Mounts, api.Mount{Type: "volume", Target: p})
	}
}

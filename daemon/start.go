package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/moby/sys/mount"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/jsonlog"
	"github.com/drover/drover/runtime/cgroupwarm"
	"github.com/drover/drover/shim"
)

// starter lets the created container's process run in its own way: attach does it on its
// stream's connection, so no output is lost and it takes one round trip to the shim.
type starter func(c *container) error

// start runs a created or stopped container; run, when not nil, does the final step. The
// caller holds c.busy.
func (d *Daemon) start(ctx context.Context, c *container, run starter) (retErr error) {
	c.mu.Lock()
	st := c.rec.State.Status
	c.mu.Unlock()
	switch st {
	case api.StatusRunning, api.StatusPaused:
		return fmt.Errorf("container %s is already running: %w", c.rec.Name, errdefs.ErrConflict)
	case api.StatusRemoving:
		return fmt.Errorf("container %s is being removed: %w", c.rec.Name, errdefs.ErrConflict)
	}
	defer func() {
		if retErr != nil {
			d.recordStartError(c, retErr)
		}
	}()
	if c.rec.Pinned {
		if run != nil {
			return noProcess(c)
		}
		return d.startPinned(c)
	}
	// The runtime will move the container's init into its cgroups; the kernel's wait that
	// comes with the first such move runs meanwhile.
	cgroupwarm.Warm()
	t0 := time.Now()
	trace := func(step string) {
		d.log.Debug("start", "container", c.rec.ID[:12], "step", step, "at", time.Since(t0))
	}
	bundle := c.rec.Bundle
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return err
	}
	undo := func() { d.cleanupRun(c) }
	if err := d.images.Snapshots().Mount(c.rec.ID, rootfs, false); err != nil {
		undo()
		return fmt.Errorf("mount root filesystem: %w", err)
	}
	trace("mounted")
	if err := ensureDockerEnv(rootfs); err != nil {
		d.log.Warn("create /.dockerenv", "container", c.rec.ID, "err", err)
	}
	plan, err := d.setupNetwork(c)
	if err != nil {
		undo()
		return err
	}
	trace("network ready")
	vmounts, points, err := d.mountVolumes(c.rec, rootfs)
	if err != nil {
		undo()
		return err
	}
	plan.mounts = append(plan.mounts, vmounts...)
	s, err := d.buildSpec(c.rec, rootfs, plan)
	if err != nil {
		undo()
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		undo()
		return err
	}
	if err := atomicfile.Replace(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		undo()
		return err
	}
	logCfg, _ := jsonlog.ParseConfig(c.rec.Config.Host.LogConfig.Type, c.rec.Config.Host.LogConfig.Config)
	cfg := c.rec.Config
	shimCfg := shim.Config{
		ID:          c.rec.ID,
		Bundle:      bundle,
		Runtime:     c.rec.RuntimePath,
		RuntimeRoot: d.runtimeRoot(c.rec.RuntimePath),
		LogPath:     c.rec.LogPath,
		LogFormat:   logCfg.Format,
		LogMaxSize:  logCfg.MaxSize,
		LogMaxFiles: logCfg.MaxFiles,
		Terminal:    cfg.Tty,
		OpenStdin:   cfg.OpenStdin,
		OOMFile:     oomFile(d.containerCgroup(c.rec)),
		Ephemeral:   cfg.Host.AutoRemove && (cfg.Host.RestartPolicy.Name == "" || cfg.Host.RestartPolicy.Name == "no"),
	}
	trace("spec written")
	shimPid, initPid, err := d.launcher.Launch(shimCfg)
	trace("shim created the container")
	if err != nil {
		undo()
		return startError(err)
	}
	exited := make(chan struct{})
	c.mu.Lock()
	c.exited = exited
	c.rec.ShimPid = shimPid
	c.rec.ManuallyStopped = false
	c.rec.State = api.ContainerState{
		Status:    api.StatusRunning,
		Running:   true,
		Pid:       initPid,
		StartedAt: time.Now().UTC(),
		Health:    initialHealth(cfg.Healthcheck),
	}
	c.rec.NetworkSettings = plan.settings
	c.rec.Mounts = points
	// The record is written to disk while the process starts: the commit mostly waits for
	// the disk. The monitor starts only after it, so a later save cannot be overtaken.
	saved := d.saveAsync(c)
	c.mu.Unlock()
	if run == nil {
		run = func(c *container) error {
			_, err := c.shim().Call(ctx, shim.Request{Op: shim.OpStart})
			return err
		}
	}
	err = startError(run(c))
	trace("started")
	if serr := <-saved; err == nil {
		err = serr
	}
	trace("saved")
	if err != nil {
		// The shim reports the exit of the killed init; the monitor then cleans up.
		rt, rerr := d.runtimeFor(c.rec.RuntimePath)
		if rerr == nil {
			_ = rt.Delete(context.Background(), c.rec.ID, true)
		}
		d.bg.Add(1)
		go func() { defer d.bg.Done(); d.monitor(c, exited) }()
		<-exited
		return err
	}
	d.bg.Add(1)
	go func() { defer d.bg.Done(); d.monitor(c, exited) }()
	d.startHealth(c)
	d.emitContainer(c, "start", nil)
	return nil
}

// startError turns the runtime's failure to exec the user's command into Docker's wording,
// which the CLI maps to exit codes 126 and 127.
func startError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return fmt.Errorf("failed to start container: %s: %w", msg, errdefs.ErrInvalidArgument)
	case strings.Contains(msg, "permission denied"):
		return fmt.Errorf("failed to start container: %s: %w", msg, errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("failed to start container: %w", err)
}

// recordStartError keeps a failed start visible in inspect, with Docker's exit codes.
func (d *Daemon) recordStartError(c *container, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := err.Error()
	code := 128
	switch {
	case !strings.Contains(msg, "exec: "):
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		code = 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
		code = 126
	}
	c.rec.State.Error = msg
	c.rec.State.ExitCode = code
	c.rec.State.Running = false
	c.rec.State.Pid = 0
	if c.rec.State.Status == api.StatusRunning {
		c.rec.State.Status = api.StatusExited
	}
	_ = d.save(c)
}

func (d *Daemon) runtimeRoot(runtimePath string) string {
	if runtimePath == "" {
		return filepath.Join(d.cfg.ExecRoot, "runtime")
	}
	return d.ociRoot(runtimePath)
}

func (d *Daemon) cgroupsPath(id string) string {
	return "/" + strings.Trim(d.cfg.CgroupParent, "/") + "/" + id
}

// containerCgroup is a container's cgroup: below its own cgroup parent (--cgroup-parent,
// a CRI sandbox's cgroup_parent) when it has one, else below the daemon's.
func (d *Daemon) containerCgroup(rec *record) string {
	if p := rec.Config.Host.CgroupParent; p != "" {
		return "/" + strings.Trim(p, "/") + "/" + rec.ID
	}
	return d.cgroupsPath(rec.ID)
}

// oomFile is the cgroup file counting OOM kills for a container cgroup.
func oomFile(cgroupsPath string) string {
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err == nil {
		return filepath.Join("/sys/fs/cgroup/memory", cgroupsPath, "memory.oom_control")
	}
	return filepath.Join("/sys/fs/cgroup", cgroupsPath, "memory.events")
}

func initialHealth(h *api.HealthConfig) *api.Health {
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	return &api.Health{Status: api.HealthStarting}
}

// cleanupRun removes the host state of a run: what others may be waiting for (its network
// addresses and ports, its use of volumes), then the runtime's state, the rootfs mount and
// the bundle. It is idempotent, so recovery can call it for any container.
func (d *Daemon) cleanupRun(c *container) {
	d.releaseRun(c)
	d.cleanupBundle(c)
}

// releaseRun gives back what the run held that other containers and commands may want at
// once: addresses and published ports, and its use of volumes.
func (d *Daemon) releaseRun(c *container) {
	if d.vols != nil {
		d.releaseVolumes(c.rec)
	}
	if d.cni != nil {
		d.releaseCNI(c.rec)
	}
	if d.net != nil && c.rec.ID != "" {
		if err := d.net.Release(c.rec.ID); err != nil {
			d.log.Warn("release network", "container", c.rec.ID, "err", err)
		}
	}
}

// cleanupBundle removes the runtime's state, the rootfs mount and the bundle of a run.
func (d *Daemon) cleanupBundle(c *container) {
	if c.rec.Pinned {
		if err := d.unpinPodNamespaces(c.rec.ID); err != nil {
			d.log.Warn("remove pod namespaces", "container", c.rec.ID, "err", err)
		}
	} else if rt, err := d.runtimeFor(c.rec.RuntimePath); err == nil {
		_ = rt.Delete(context.Background(), c.rec.ID, true)
	}
	rootfs := filepath.Join(c.rec.Bundle, "rootfs")
	if err := d.images.Snapshots().Unmount(rootfs); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Warn("unmount root filesystem", "container", c.rec.ID, "err", err)
	}
	if vols := filepath.Join(c.rec.Bundle, "imagevols"); dirExists(vols) {
		// RemoveAll must not walk into the image volumes' read-only mounts.
		if err := mount.RecursiveUnmount(vols); err != nil {
			d.log.Warn("unmount image volumes", "container", c.rec.ID, "err", err)
		}
	}
	if err := os.RemoveAll(c.rec.Bundle); err != nil {
		d.log.Warn("remove bundle", "container", c.rec.ID, "err", err)
	}
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime/cgroupwarm"
	"github.com/drover/drover/runtime/spec"
	"github.com/drover/drover/shim"
)

// execStart starts cfg.Cmd in the running container c; the returned connection carries its
// framed stdio and ends with its exit code. A detached exec's connection ends at once
// (exit code 0), or with waitExit once the process has exited, with its code.
func (d *Daemon) execStart(ctx context.Context, c *container, cfg api.ExecConfig, waitExit bool) (*shim.Conn, error) {
	if len(cfg.Cmd) == 0 {
		return nil, fmt.Errorf("no command given to exec: %w", errdefs.ErrInvalidArgument)
	}
	if err := noProcess(c); err != nil {
		return nil, err
	}
	c.mu.Lock()
	status := c.rec.State.Status
	bundle, pid := c.rec.Bundle, c.rec.State.Pid
	c.mu.Unlock()
	switch status {
	case api.StatusRunning:
	case api.StatusPaused:
		return nil, fmt.Errorf("container %s is paused: unpause it first: %w", c.rec.Name, errdefs.ErrConflict)
	default:
		return nil, fmt.Errorf("container %s is not running: start it first: %w", c.rec.Name, errdefs.ErrConflict)
	}
	cgroupwarm.Warm() // the exec'd process joins the container's cgroups too
	p, err := execProcess(bundle, pid, cfg)
	if err != nil {
		return nil, err
	}
	req := shim.Request{Op: shim.OpExec, Process: p, Terminal: cfg.Tty && !cfg.Detach, Stdin: cfg.Stdin && !cfg.Detach,
		Detach: cfg.Detach, WaitExit: waitExit && cfg.Detach, Width: cfg.Width, Height: cfg.Height}
	conn, err := c.shim().Dial(ctx, req)
	if err != nil {
		return nil, startError(err)
	}
	return conn, nil
}

// execProcess derives an exec's process from the container's own: same security settings,
// with the command, environment, user and directory the exec asks for. The command and
// user are looked up in the container's mount namespace (through its first process,
// pid), which has its volumes and mounts, not only its root filesystem.
func execProcess(bundle string, pid int, cfg api.ExecConfig) (*specs.Process, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read container spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse container spec: %w", err)
	}
	p := *s.Process
	p.Args = cfg.Cmd
	p.Terminal = cfg.Tty
	p.ConsoleSize = nil
	if cfg.Tty && cfg.Width > 0 {
		p.ConsoleSize = &specs.Box{Width: uint(cfg.Width), Height: uint(cfg.Height)}
	}
	p.Env = mergeEnv(p.Env, cfg.Env)
	if cfg.WorkingDir != "" {
		p.Cwd = cfg.WorkingDir
	}
	rootfs := s.Root.Path
	if pid > 0 {
		rootfs = fmt.Sprintf("/proc/%d/root", pid)
	}
	if cfg.User != "" {
		u, err := spec.ResolveUser(rootfs, cfg.User)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
		}
		p.User = u
	}
	if cfg.Privileged {
		all, err := spec.AllCapabilities()
		if err != nil {
			return nil, err
		}
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	if _, err := spec.LookPath(rootfs, p.Args[0], p.Env); err != nil {
		return nil, err
	}
	return &p, nil
}

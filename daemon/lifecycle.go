package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/signals"
	"github.com/drover/drover/shim"
)

// errRemoved says the container was removed meanwhile.
var errRemoved = errors.New("container removed")

func (c *container) isRemoved() bool {
	select {
	case <-c.removed:
		return true
	default:
		return false
	}
}

func (c *container) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.rec.State.Status
	return s == api.StatusRunning || s == api.StatusPaused
}

// kill sends sig to the container's init.
func (d *Daemon) kill(ctx context.Context, c *container, sig syscall.Signal) error {
	if !c.running() {
		return fmt.Errorf("container %s is not running: %w", c.rec.Name, errdefs.ErrConflict)
	}
	if c.rec.Pinned {
		return d.endPinned(c) // no process: any signal ends it, as it would end a pause
	}
	rt, err := d.runtimeFor(c.rec.RuntimePath)
	if err != nil {
		return err
	}
	c.mu.Lock()
	paused := c.rec.State.Status == api.StatusPaused
	c.mu.Unlock()
	if err := rt.Kill(ctx, c.rec.ID, sig, false); err != nil {
		if !c.running() {
			return nil // it exited meanwhile
		}
		return err
	}
	d.emitContainer(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	if paused && sig == syscall.SIGKILL {
		// A frozen process only dies once thawed.
		_ = d.unpause(ctx, c)
	}
	return nil
}

// stop sends the stop signal, waits up to timeout, then kills. Restart policies leave a
// stopped container alone.
func (d *Daemon) stop(ctx context.Context, c *container, timeout *time.Duration, sigName string) error {
	c.busy.Lock()
	defer c.busy.Unlock()
	err := d.stopLocked(ctx, c, timeout, sigName)
	if err == nil {
		d.emitContainer(c, "stop", nil)
	}
	return err
}

func (d *Daemon) stopLocked(ctx context.Context, c *container, timeout *time.Duration, sigName string) error {
	c.mu.Lock()
	c.rec.ManuallyStopped = true
	c.cancelRestart()
	_ = d.save(c)
	exited := c.exited
	if sigName == "" {
		sigName = c.rec.Config.StopSignal
	}
	wait := 10 * time.Second
	if c.rec.Config.StopTimeout != nil {
		wait = time.Duration(*c.rec.Config.StopTimeout) * time.Second
	}
	c.mu.Unlock()
	if timeout != nil {
		wait = *timeout
	}
	if !c.running() {
		return nil
	}
	if c.rec.Pinned {
		return d.endPinned(c)
	}
	sig := syscall.SIGTERM
	if sigName != "" {
		s, err := signals.Parse(sigName)
		if err != nil {
			return err
		}
		sig = s
	}
	if wait > 0 || wait < 0 {
		c.mu.Lock()
		pid := c.rec.State.Pid
		c.mu.Unlock()
		caught := signalCaught(pid, sig)
		if err := d.kill(ctx, c, sig); err == nil && wait < 0 {
			<-exited
			return nil
		}
		deadline := time.After(wait)
		// A container's first process is PID 1 of its namespace, which the kernel spares
		// every signal it has no handler for, and the runtime's init before it drops
		// signals: a stop that comes while the container is still starting (the init, or
		// the program before it installed its handler) is lost. Send it again once the
		// program's handler is there.
		timedOut := !caught && d.resendWhenCaught(ctx, c, pid, sig, exited, deadline)
		if !timedOut {
			select {
			case <-exited:
				return nil
			case <-deadline:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return d.killAndWait(ctx, c, exited)
}

// killAndWait sends SIGKILL and waits for the run's exit to be recorded.
func (d *Daemon) killAndWait(ctx context.Context, c *container, exited chan struct{}) error {
	killErr := d.kill(ctx, c, syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		if killErr != nil {
			return fmt.Errorf("container %s did not exit after SIGKILL: the kill failed: %w", c.rec.Name, killErr)
		}
		c.mu.Lock()
		pid, shimPid, bundle := c.rec.State.Pid, c.rec.ShimPid, c.rec.Bundle
		c.mu.Unlock()
		return fmt.Errorf("container %s did not exit within 30s of SIGKILL (pid %d, shim pid %d): see %s", c.rec.Name, pid, shimPid, filepath.Join(bundle, shim.LogName))
	}
}

func (d *Daemon) restart(ctx context.Context, c *container, timeout *time.Duration) error {
	c.busy.Lock()
	defer c.busy.Unlock()
	if err := d.stopLocked(ctx, c, timeout, ""); err != nil {
		return err
	}
	return d.start(ctx, c, nil)
}

func (d *Daemon) pause(ctx context.Context, c *container) error {
	if err := d.setPaused(ctx, c, true); err != nil {
		return err
	}
	d.emitContainer(c, "pause", nil)
	return nil
}

func (d *Daemon) unpause(ctx context.Context, c *container) error {
	if err := d.setPaused(ctx, c, false); err != nil {
		return err
	}
	d.emitContainer(c, "unpause", nil)
	return nil
}

// setPaused freezes or thaws every process of a running container.
func (d *Daemon) setPaused(ctx context.Context, c *container, pause bool) error {
	if err := noProcess(c); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	verb, from, to := "unpause", api.StatusPaused, api.StatusRunning
	if pause {
		verb, from, to = "pause", api.StatusRunning, api.StatusPaused
	}
	if c.rec.State.Status != from {
		if pause && c.rec.State.Status == api.StatusPaused {
			return fmt.Errorf("container %s is already paused: %w", c.rec.Name, errdefs.ErrConflict)
		}
		return fmt.Errorf("container %s is not %s: %w", c.rec.Name, from, errdefs.ErrConflict)
	}
	rt, err := d.runtimeFor(c.rec.RuntimePath)
	if err != nil {
		return err
	}
	op := rt.Resume
	if pause {
		op = rt.Pause
	}
	if err := op(ctx, c.rec.ID); err != nil {
		return fmt.Errorf("%s %s: %w", verb, c.rec.Name, err)
	}
	c.rec.State.Status, c.rec.State.Paused = to, pause
	return d.save(c)
}

// remove deletes a container and everything it owns on the host. force kills a running one.
func (d *Daemon) remove(ctx context.Context, c *container, force, volumes bool) error {
	c.busy.Lock()
	defer c.busy.Unlock()
	if c.isRemoved() {
		return errRemoved
	}
	if pod, ok := d.infraOf(c); ok {
		return fmt.Errorf("container %s is the infra container of pod %s: remove the pod with drover pod rm %s: %w", c.rec.Name, pod.Name, pod.Name, errdefs.ErrConflict)
	}
	if c.running() {
		if !force {
			return fmt.Errorf("you cannot remove a running container %s: stop it first, or use rm -f: %w", c.rec.ID[:12], errdefs.ErrConflict)
		}
		c.mu.Lock()
		c.rec.ManuallyStopped = true
		exited := c.exited
		c.mu.Unlock()
		if err := d.killAndWait(ctx, c, exited); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.cancelRestart()
	c.rec.State.Status = api.StatusRemoving
	_ = d.save(c)
	c.mu.Unlock()
	return d.finishRemove(c, false, volumes)
}

// removeExited removes a container whose run just ended (--rm). Its record goes first, so
// whoever waits for the removal (drover run --rm) sees the container gone and its name free
// without waiting for its files: the bundle, root filesystem and logs are removed in the
// background. After a crash, recovery removes what has no record.
func (d *Daemon) removeExited(c *container) error {
	c.busy.Lock()
	defer c.busy.Unlock()
	if c.isRemoved() {
		return errRemoved
	}
	if c.running() {
		return nil // restarted meanwhile
	}
	// An exited --rm container is gone for its waiters (docker run --rm waits for the
	// removal) before its record's deletion is on disk: should the daemon die first, the
	// next one finds its shim gone and removes it all the same.
	d.unlist(c)
	if err := d.store.delete(c.rec.ID); err != nil {
		d.log.Warn("delete the record of a removed container: the next daemon start removes it", "container", c.rec.ID, "err", err)
	}
	d.removeAnonymousVolumes(c.rec)
	d.cleanups.Add(1)
	go func() {
		defer d.cleanups.Done()
		d.cleanupBundle(c)
		if err := d.removeFiles(c); err != nil {
			d.log.Warn("remove container files", "container", c.rec.ID, "err", err)
		}
	}()
	return nil
}

// finishRemove removes the host state and the record of a stopped container; runCleaned
// says the run's own host state is already gone; volumes removes its anonymous volumes.
func (d *Daemon) finishRemove(c *container, runCleaned, volumes bool) error {
	if !runCleaned {
		d.cleanupRun(c)
	}
	if err := d.removeFiles(c); err != nil {
		return err
	}
	if err := d.forget(c); err != nil {
		return err
	}
	if volumes {
		d.removeAnonymousVolumes(c.rec)
	}
	return nil
}

// removeFiles removes a container's root filesystem and logs.
func (d *Daemon) removeFiles(c *container) error {
	if err := d.images.Snapshots().Remove(c.rec.ID); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove root filesystem of %s: %w", c.rec.Name, err)
	}
	if err := d.removeImageVolumes(c.rec); err != nil {
		return err
	}
	return d.removeLog(c.rec)
}

// forget deletes a container's record and frees its name.
func (d *Daemon) forget(c *container) error {
	if err := d.store.delete(c.rec.ID); err != nil {
		return err
	}
	d.unlist(c)
	return nil
}

// unlist drops a container from the daemon's tables and tells its waiters it is gone.
func (d *Daemon) unlist(c *container) {
	d.mu.Lock()
	delete(d.containers, c.rec.ID)
	if d.names[c.rec.Name] == c.rec.ID {
		delete(d.names, c.rec.Name)
	}
	d.mu.Unlock()
	d.emitContainer(c, "destroy", nil)
	closeOnce(c.removed)
}

func (d *Daemon) rename(c *container, name string) error {
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		return fmt.Errorf("new name cannot be empty: %w", errdefs.ErrInvalidArgument)
	}
	c.mu.Lock()
	old := c.rec.Name
	c.mu.Unlock()
	if old == name {
		return fmt.Errorf("renaming a container with the same name as its current name: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := d.reserveName(name, c.rec.ID); err != nil {
		return err
	}
	c.mu.Lock()
	c.rec.Name = name
	c.rec.Config.Name = name
	err := d.save(c)
	c.mu.Unlock()
	if err != nil {
		d.releaseName(name)
		return err
	}
	d.releaseName(old)
	d.emitContainer(c, "rename", map[string]string{"oldName": "/" + old})
	return nil
}

// wait blocks until the condition holds: "not-running" (default), "next-exit" or "removed".
func (d *Daemon) wait(ctx context.Context, c *container, condition string) (api.WaitResponse, error) {
	block, err := d.waitFor(c, condition)
	if err != nil {
		return api.WaitResponse{}, err
	}
	return block(ctx)
}

// waitFor notes c's state now and returns what blocks until the condition holds, so a
// caller can answer before it waits (the Docker API's wait) and still count a run that
// starts after waitFor as the next one.
func (d *Daemon) waitFor(c *container, condition string) (func(context.Context) (api.WaitResponse, error), error) {
	switch condition {
	case "", "not-running", "next-exit", "removed":
	default:
		return nil, fmt.Errorf("invalid wait condition %q: use not-running, next-exit or removed: %w", condition, errdefs.ErrInvalidArgument)
	}
	c.mu.Lock()
	exited := c.exited
	removed := c.removed
	running := c.rec.State.Status == api.StatusRunning || c.rec.State.Status == api.StatusPaused || c.rec.State.Status == api.StatusRestarting
	c.mu.Unlock()
	return func(ctx context.Context) (api.WaitResponse, error) {
		return d.waitBlock(ctx, c, condition, exited, removed, running)
	}, nil
}

func (d *Daemon) waitBlock(ctx context.Context, c *container, condition string, exited, removed chan struct{}, running bool) (api.WaitResponse, error) {
	switch condition {
	case "", "not-running":
		if running {
			select {
			case <-exited:
			case <-removed:
			case <-ctx.Done():
				return api.WaitResponse{}, ctx.Err()
			}
		}
	case "next-exit":
		select {
		case <-exited:
			if !running {
				// Not running now: wait for the run that comes next.
				for {
					c.mu.Lock()
					next := c.exited
					c.mu.Unlock()
					if next != exited {
						exited = next
						break
					}
					select {
					case <-removed:
						return d.waitResult(c), nil
					case <-ctx.Done():
						return api.WaitResponse{}, ctx.Err()
					case <-time.After(50 * time.Millisecond):
					}
				}
				select {
				case <-exited:
				case <-ctx.Done():
					return api.WaitResponse{}, ctx.Err()
				}
			}
		case <-removed:
		case <-ctx.Done():
			return api.WaitResponse{}, ctx.Err()
		}
	case "removed":
		select {
		case <-removed:
		case <-ctx.Done():
			return api.WaitResponse{}, ctx.Err()
		}
	default:
		return api.WaitResponse{}, fmt.Errorf("invalid wait condition %q: use not-running, next-exit or removed: %w", condition, errdefs.ErrInvalidArgument)
	}
	return d.waitResult(c), nil
}

func (d *Daemon) waitResult(c *container) api.WaitResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return api.WaitResponse{StatusCode: c.rec.State.ExitCode, Error: c.rec.State.Error}
}

func (d *Daemon) prune(ctx context.Context, f api.PruneFilter) (api.PruneResponse, error) {
	out := api.PruneResponse{Deleted: []string{}}
	d.mu.Lock()
	var list []*container
	for _, c := range d.containers {
		list = append(list, c)
	}
	d.mu.Unlock()
	for _, c := range list {
		c.mu.Lock()
		s, labels, created := c.rec.State.Status, c.rec.Config.Labels, c.rec.Created
		c.mu.Unlock()
		if s != api.StatusExited && s != api.StatusCreated && s != api.StatusDead || !f.Match(labels, created) {
			continue
		}
		size := d.images.Snapshots().Usage(c.rec.ID)
		if err := d.remove(ctx, c, false, false); err != nil {
			continue
		}
		out.Deleted = append(out.Deleted, c.rec.ID)
		out.SpaceReclaimed += size
	}
	return out, nil
}

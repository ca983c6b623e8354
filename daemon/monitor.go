package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/shim"
)

// monitor waits for the current run of c to end and records it. exited is the run's
// channel, closed once the exit is recorded.
func (d *Daemon) monitor(c *container, exited chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.shutdown:
			cancel()
		case <-ctx.Done():
		}
	}()
	st, err := c.shim().Wait(ctx)
	if err != nil {
		select {
		case <-d.shutdown:
			return // the next daemon picks the container up again
		default:
		}
		st = d.exitFromDisk(c)
	}
	d.handleExit(c, st, exited)
}

// exitFromDisk reads the exit status the shim left, or makes one up when the shim died
// without writing it (killed, or the host rebooted).
func (d *Daemon) exitFromDisk(c *container) *shim.ExitStatus {
	if st, err := shim.ReadExit(c.rec.Bundle); err == nil {
		return st
	}
	// Make sure nothing of the container survives its shim.
	if rt, err := d.runtimeFor(c.rec.RuntimePath); err == nil {
		_ = rt.Delete(context.Background(), c.rec.ID, true)
	}
	return &shim.ExitStatus{Code: 255, ExitedAt: time.Now().UTC()}
}

// handleExit records how a run ended, cleans up its host state, then applies the
// restart policy or --rm.
func (d *Daemon) handleExit(c *container, st *shim.ExitStatus, exited chan struct{}) {
	t0 := time.Now()
	defer func() {
		d.log.Debug("exit handled", "container", c.rec.ID[:12], "took", time.Since(t0), "sinceExit", time.Since(st.ExitedAt))
	}()
	d.stopHealth(c)
	code := st.Code
	if st.OOMKilled && code == 0 {
		code = 137
	}
	c.mu.Lock()
	// A container about to be removed (--rm) only gives back what others may be waiting
	// for; its record goes next, and its files after that, off the caller's path.
	removing := c.rec.Config.Host.AutoRemove && !d.shouldRestart(c.rec, code)
	c.mu.Unlock()
	if removing {
		d.releaseRun(c)
	} else {
		d.cleanupRun(c)
	}
	c.mu.Lock()
	ran := st.ExitedAt.Sub(c.rec.State.StartedAt)
	c.rec.State.Status = api.StatusExited
	c.rec.State.Running = false
	c.rec.State.Paused = false
	c.rec.State.Restarting = false
	c.rec.State.Pid = 0
	c.rec.State.ExitCode = code
	c.rec.State.OOMKilled = st.OOMKilled
	c.rec.State.FinishedAt = st.ExitedAt
	if c.rec.State.Health != nil {
		c.rec.State.Health.Status = api.HealthUnhealthy
	}
	c.rec.ShimPid = 0
	c.rec.NetworkSettings = api.NetworkSettings{}
	restart := d.shouldRestart(c.rec, code)
	if restart {
		c.rec.State.Status = api.StatusRestarting
		c.rec.State.Restarting = true
	}
	autoRemove := c.rec.Config.Host.AutoRemove && !restart
	if autoRemove {
		// Not startable again: its rootfs stays mounted until the removal is done. Its exit
		// is not recorded: after a crash here the next daemon finds its shim gone and
		// removes it all the same.
		c.rec.State.Status = api.StatusRemoving
	} else {
		if err := d.save(c); err != nil {
			d.log.Error("save container state", "container", c.rec.ID, "err", err)
		}
	}
	c.mu.Unlock()
	d.emitContainer(c, "die", exitAttrs(code))
	closeOnce(exited)
	switch {
	case restart:
		d.scheduleRestart(c, ran)
	case autoRemove:
		if err := d.removeExited(c); err != nil && !errors.Is(err, errRemoved) {
			d.log.Warn("auto-remove", "container", c.rec.ID, "err", err)
		}
	}
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// shouldRestart applies the restart policy to an exit. The caller holds c.mu.
func (d *Daemon) shouldRestart(r *record, code int) bool {
	if r.ManuallyStopped {
		return false
	}
	select {
	case <-d.shutdown:
		return false
	default:
	}
	p := r.Config.Host.RestartPolicy
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaximumRetryCount == 0 || r.RestartCount < p.MaximumRetryCount)
	}
	return false
}

// Restart backoff as Docker does it: 100ms doubling up to a minute, reset after a run of
// ten seconds or more.
const (
	backoffMin   = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
)

func (d *Daemon) scheduleRestart(c *container, ran time.Duration) {
	c.mu.Lock()
	if ran >= backoffReset || c.backoff == 0 {
		c.backoff = backoffMin
	} else {
		c.backoff *= 2
		if c.backoff > backoffMax {
			c.backoff = backoffMax
		}
	}
	delay := c.backoff
	cancel := make(chan struct{})
	c.restartCancel = cancel
	c.mu.Unlock()
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-cancel:
			return
		case <-d.shutdown:
			return
		case <-c.removed:
			return
		}
		c.busy.Lock()
		defer c.busy.Unlock()
		c.mu.Lock()
		if c.restartCancel != cancel || c.rec.State.Status != api.StatusRestarting {
			c.mu.Unlock()
			return
		}
		c.restartCancel = nil
		c.rec.RestartCount++
		c.mu.Unlock()
		if err := d.start(context.Background(), c, nil); err != nil {
			d.log.Warn("restart by policy failed", "container", c.rec.ID, "err", err)
			c.mu.Lock()
			again := d.shouldRestart(c.rec, 1)
			c.mu.Unlock()
			if again {
				d.scheduleRestart(c, 0)
			}
		}
	}()
}

// cancelRestart drops a pending restart. The caller holds c.mu.
func (c *container) cancelRestart() {
	if c.restartCancel != nil {
		close(c.restartCancel)
		c.restartCancel = nil
	}
	if c.rec.State.Status == api.StatusRestarting {
		c.rec.State.Status = api.StatusExited
		c.rec.State.Restarting = false
	}
}

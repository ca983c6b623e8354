package daemon

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/runtime"
	"github.com/drover/drover/shim"
)

// recover rebuilds the daemon's view from its metadata and the shims still running, and
// finishes what a crash interrupted: exits that happened while the daemon was away are
// recorded with their real exit code, leftover host state is removed, restart policies and
// --rm are applied.
func (d *Daemon) recover() error {
	d.removeStaleSubpathChecks()
	recs, err := d.store.all()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, rec := range recs {
		known[rec.ID] = true
		c := newContainer(rec)
		d.containers[rec.ID] = c
		d.names[rec.Name] = rec.ID
	}
	for _, c := range d.containers {
		d.recoverContainer(c)
	}
	// Bundles without a record come from a crash during create or remove.
	entries, _ := os.ReadDir(filepath.Join(d.cfg.ExecRoot, "containers"))
	for _, e := range entries {
		if known[e.Name()] {
			continue
		}
		orphan := newContainer(&record{Container: api.Container{ID: e.Name()}, Bundle: filepath.Join(d.cfg.ExecRoot, "containers", e.Name())})
		if cfg, err := shim.ReadConfig(orphan.rec.Bundle); err == nil {
			orphan.rec.RuntimePath = cfg.Runtime
		}
		d.log.Info("removing leftovers of unknown container", "container", e.Name())
		d.cleanupRun(orphan)
	}
	d.removeOrphanFiles(known)
	d.removeOrphanPins()
	inUse := map[string]bool{}
	for _, c := range d.containers {
		inUse[cniContainerID(c.rec)] = true
	}
	d.sweepCNI(inUse)
	return nil
}

// removeOrphanFiles removes root filesystems and log directories that no record owns: a
// removal was finishing them in the background, or a create crashed before its record.
func (d *Daemon) removeOrphanFiles(known map[string]bool) {
	if keys, err := d.images.Snapshots().Keys(); err == nil {
		for id := range keys {
			if owner, ok := imageVolumeOwner(id); ok && known[owner] {
				continue
			}
			if !known[id] {
				d.log.Info("removing root filesystem of unknown container", "container", id)
				if err := d.images.Snapshots().Remove(id); err != nil {
					d.log.Warn("remove root filesystem", "container", id, "err", err)
				}
			}
		}
	}
	logs, _ := os.ReadDir(filepath.Join(d.cfg.Root, "containers"))
	for _, e := range logs {
		if e.IsDir() && isContainerID(e.Name()) && !known[e.Name()] {
			_ = os.RemoveAll(filepath.Join(d.cfg.Root, "containers", e.Name()))
		}
	}
}

func (d *Daemon) recoverContainer(c *container) {
	rec := c.rec
	switch rec.State.Status {
	case api.StatusRunning, api.StatusPaused:
		if rec.Pinned {
			d.recoverPinned(c)
			return
		}
		exited := make(chan struct{})
		c.exited = exited
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := c.shim().Call(ctx, shim.Request{Op: shim.OpState})
		cancel()
		if err == nil && resp.Exit == nil {
			// A crash between create and start leaves an init that never ran: end it.
			if rt, rerr := d.runtimeFor(rec.RuntimePath); rerr == nil {
				if st, serr := rt.State(context.Background(), rec.ID); serr == nil && st.Status == runtime.StatusCreated {
					_ = rt.Delete(context.Background(), rec.ID, true)
				}
			}
			// Still running: count its use of its volumes again, and watch it.
			for _, m := range rec.Config.Host.Mounts {
				if m.Type == "volume" {
					_, _ = d.vols.Mount(m.Source)
				}
			}
			d.bg.Add(1)
			go func() { defer d.bg.Done(); d.monitor(c, exited) }()
			d.startHealth(c)
			return
		}
		st := resp.Exit
		if st == nil {
			st = d.exitFromDisk(c)
		}
		d.log.Info("container exited while the daemon was down", "container", rec.ID, "exitCode", st.Code)
		d.bg.Add(1)
		go func() { defer d.bg.Done(); d.handleExit(c, st, exited) }()
	case api.StatusRestarting:
		rec.State.Status = api.StatusExited
		rec.State.Restarting = false
		d.cleanupRun(c)
		if d.shouldRestart(rec, rec.State.ExitCode) {
			rec.State.Status = api.StatusRestarting
			rec.State.Restarting = true
			d.scheduleRestart(c, 0)
		}
		_ = d.save(c)
	case api.StatusRemoving:
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			if err := d.finishRemove(c, false, true); err != nil {
				d.log.Warn("finish removal", "container", rec.ID, "err", err)
			}
		}()
	default:
		// created or exited: nothing may run or stay mounted.
		d.cleanupRun(c)
		if rec.Config.Host.AutoRemove && rec.State.Status == api.StatusExited {
			d.bg.Add(1)
			go func() { defer d.bg.Done(); _ = d.remove(context.Background(), c, true, true) }()
		}
	}
}

package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/nsfile"
	"github.com/drover/drover/network"
	"github.com/drover/drover/runtime/spec"
)

// A pod whose containers do not share a PID namespace needs no process to hold its
// namespaces: its infra container is "pinned". Its network namespace is the file the
// network setup makes anyway, and its IPC and UTS namespaces are files too (nsfile), so
// starting the pod starts no shim, runtime or pause process, which is about half the work
// of a pod's start (as CRI-O's drop_infra_ctr). A pod sharing its PID namespace keeps a
// pause process as the namespace's PID 1, which reaps orphans.

// podNSDir is where a pinned infra container's IPC and UTS namespace files live: beside
// the network namespace files, under the same shared mount.
func (d *Daemon) podNSDir(id string) string {
	return filepath.Join(d.cfg.ExecRoot, "netns", id+".pod")
}

func (d *Daemon) podNSPath(id, kind string) string {
	return filepath.Join(d.podNSDir(id), kind)
}

// startPinned starts a pinned infra container: its network, then its IPC and UTS
// namespaces with the pod's hostname and sysctls in them. The caller holds c.busy.
func (d *Daemon) startPinned(c *container) (retErr error) {
	c.mu.Lock()
	rec := *c.rec
	c.mu.Unlock()
	if err := os.MkdirAll(rec.Bundle, 0o700); err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			d.cleanupRun(c)
		}
	}()
	h := rec.Config.Host
	if h.NetworkMode == "none" {
		// The runtime would make an empty network namespace for a container; here it is
		// a file of its own, released with the container's network.
		if err := network.NewNamespace(d.net.NamespacePath(rec.ID)); err != nil {
			return fmt.Errorf("create network namespace: %w", err)
		}
	}
	plan, err := d.setupNetwork(c)
	if err != nil {
		return err
	}
	netns := string(plan.mode)
	if h.NetworkMode == "none" {
		netns = d.net.NamespacePath(rec.ID)
		plan.settings.SandboxKey = netns
	}
	ownNet := strings.HasPrefix(netns, "/")
	if err := d.pinPodNamespaces(rec, netns, ownNet); err != nil {
		return err
	}
	exited := make(chan struct{})
	c.mu.Lock()
	c.exited = exited
	c.rec.ManuallyStopped = false
	c.rec.State = api.ContainerState{Status: api.StatusRunning, Running: true, StartedAt: time.Now().UTC()}
	c.rec.NetworkSettings = plan.settings
	err = d.save(c)
	c.mu.Unlock()
	if err != nil {
		c.mu.Lock()
		c.rec.State = api.ContainerState{Status: api.StatusExited, FinishedAt: time.Now().UTC()}
		c.mu.Unlock()
		return err
	}
	d.emitContainer(c, "start", nil)
	return nil
}

// pinPodNamespaces makes the pod's UTS namespace and, unless the pod shares the host's,
// its IPC namespace, as files, with its hostname and sysctls set. netns is the pod's
// network namespace file when ownNet.
func (d *Daemon) pinPodNamespaces(rec record, netns string, ownNet bool) error {
	h := rec.Config.Host
	ownIPC := h.IpcMode != "host"
	keys := make([]string, 0, len(h.Sysctls))
	for k := range h.Sysctls {
		if err := spec.CheckSysctl(k, ownNet, ownIPC); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dir := d.podNSDir(rec.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create pod namespace dir: %w", err)
	}
	paths := map[string]string{"uts": filepath.Join(dir, "uts")}
	if ownIPC {
		paths["ipc"] = filepath.Join(dir, "ipc")
	}
	hostname := rec.Config.Hostname
	err := nsfile.Create(paths, func() error {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("set the pod's hostname %q: %w", hostname, err)
		}
		if len(keys) == 0 {
			return nil
		}
		if ownNet {
			if err := nsfile.Enter(netns, "net"); err != nil {
				return err
			}
		}
		for _, k := range keys {
			p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
			if err := os.WriteFile(p, []byte(h.Sysctls[k]), 0); err != nil {
				return fmt.Errorf("sysctl %s=%s: %v: %w", k, h.Sysctls[k], err, errdefs.ErrInvalidArgument)
			}
		}
		return nil
	})
	if err != nil {
		_ = os.Remove(dir)
		return fmt.Errorf("pod namespaces: %w", err)
	}
	return nil
}

// unpinPodNamespaces removes a pinned infra container's IPC and UTS namespace files, if
// any. It is idempotent.
func (d *Daemon) unpinPodNamespaces(id string) error {
	dir := d.podNSDir(id)
	var errs []error
	for _, kind := range []string{"ipc", "uts"} {
		errs = append(errs, nsfile.Remove(filepath.Join(dir, kind)))
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// endPinned stops a pinned infra container: its namespaces go, and with them the pod's
// network. The caller holds c.busy.
func (d *Daemon) endPinned(c *container) error {
	if !c.running() {
		return nil
	}
	d.cleanupRun(c)
	c.mu.Lock()
	c.rec.State.Status, c.rec.State.Running, c.rec.State.Pid = api.StatusExited, false, 0
	c.rec.State.ExitCode, c.rec.State.FinishedAt = 0, time.Now().UTC()
	c.rec.NetworkSettings = api.NetworkSettings{}
	exited := c.exited
	err := d.save(c)
	c.mu.Unlock()
	if exited != nil {
		closeOnce(exited)
	}
	d.emitContainer(c, "die", map[string]string{"exitCode": "0"})
	return err
}

// recoverPinned keeps a running pinned infra container running if its namespace files
// survived (the machine did not reboot meanwhile); else it is stopped.
func (d *Daemon) recoverPinned(c *container) {
	c.exited = make(chan struct{})
	if nsfile.Is(d.podNSPath(c.rec.ID, "uts")) {
		return
	}
	d.log.Info("the namespaces of a pod are gone: stopping it", "container", c.rec.ID)
	_ = d.endPinned(c)
}

// pinnedPID says why a pinned pod's PID namespace cannot be joined.
func pinnedPID(name string) error {
	return fmt.Errorf("%s holds its pod's namespaces as files and has no PID namespace to share: create the pod with --share pid (the CRI: a POD pid namespace) for its containers to share one: %w", name, errdefs.ErrInvalidArgument)
}

// noProcess refuses what needs a container's process (exec, attach, pause, resize, top)
// for a pinned infra container, which has none.
func noProcess(c *container) error {
	if c.rec.Pinned {
		return fmt.Errorf("container %s is a pod's infra container holding its namespaces as files: it runs no process: %w", c.rec.Name, errdefs.ErrConflict)
	}
	return nil
}

// removeOrphanPins removes the namespace files of pods whose infra container is gone or
// stopped: a crash between the steps of its removal leaves them.
func (d *Daemon) removeOrphanPins() {
	entries, _ := os.ReadDir(filepath.Join(d.cfg.ExecRoot, "netns"))
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".pod")
		if !ok || !e.IsDir() {
			continue
		}
		if c := d.containers[id]; c != nil && c.rec.Pinned && c.running() {
			continue
		}
		d.log.Info("removing the namespaces of a pod that is gone", "container", id)
		if err := d.unpinPodNamespaces(id); err != nil {
			d.log.Warn("remove pod namespaces", "container", id, "err", err)
		}
	}
}

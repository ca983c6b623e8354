package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/jsonlog"
	"github.com/drover/drover/shim"
)

// logDir is drover's own directory for a container's log.
func (d *Daemon) logDir(id string) string { return filepath.Join(d.cfg.Root, "containers", id) }

// prepareLog decides where a new container's log goes and makes the directories it needs:
// drover's own directory for the container, or, for a k8s-file log with a path, the
// caller's path (its directories made mode 0755 if missing, as the kubelet makes them).
// undo removes what prepareLog made.
func (d *Daemon) prepareLog(id string, lc api.LogConfig) (path string, undo func(), err error) {
	cfg, err := jsonlog.ParseConfig(lc.Type, lc.Config)
	if err != nil {
		return "", nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	if cfg.Path == "" {
		dir := d.logDir(id)
		name := id + "-json.log"
		if cfg.Format == jsonlog.FormatCRI {
			name = id + ".log"
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, name), func() { os.RemoveAll(dir) }, nil
	}
	d.mu.Lock()
	for _, c := range d.containers {
		if c.rec.LogPath == cfg.Path {
			d.mu.Unlock()
			return "", nil, fmt.Errorf("log path %s is the log of container %s already: give each container its own: %w", cfg.Path, c.rec.Name, errdefs.ErrConflict)
		}
	}
	d.mu.Unlock()
	undo, err = mkdirAll(filepath.Dir(cfg.Path), 0o755)
	if err != nil {
		return "", nil, fmt.Errorf("make the directory of log %s: %w", cfg.Path, err)
	}
	return cfg.Path, undo, nil
}

// mkdirAll is os.MkdirAll with an undo that removes the directories it made (while they
// are empty).
func mkdirAll(dir string, mode os.FileMode) (undo func(), err error) {
	var made []string // the directories missing, deepest first
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) || filepath.Dir(p) == p {
			break
		}
		made = append(made, p)
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return nil, err
	}
	return func() {
		for _, p := range made {
			if os.Remove(p) != nil {
				return
			}
		}
	}, nil
}

// removeLog removes a container's log. A k8s-file log at the caller's path loses only the
// files drover wrote: the directory is the caller's (the kubelet's), never removed.
func (d *Daemon) removeLog(rec *record) error {
	own := d.logDir(rec.ID)
	if filepath.Dir(rec.LogPath) != own {
		if err := jsonlog.Remove(rec.LogPath); err != nil {
			return fmt.Errorf("remove log of %s: %w", rec.Name, err)
		}
	}
	return os.RemoveAll(own)
}

// ReopenContainerLog has a running container's shim close its log file and open a new
// one at the same path, after the kubelet has renamed the old one to rotate it.
func (d *Daemon) ReopenContainerLog(ctx context.Context, ref string) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	if !c.running() {
		return fmt.Errorf("container %s is not running: its log is opened again when it starts: %w", c.rec.Name, errdefs.ErrConflict)
	}
	if _, err := c.shim().Call(ctx, shim.Request{Op: shim.OpReopenLog}); err != nil {
		return fmt.Errorf("reopen the log of %s: %w", c.rec.Name, err)
	}
	return nil
}

package daemon

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/drover/drover/internal/archive"
	"github.com/drover/drover/internal/errdefs"
)

// withRootfs calls fn with the container's root filesystem on the host, mounting it for
// the call when the container is not running. Bind mounts of the container are not seen.
func (d *Daemon) withRootfs(c *container, fn func(rootfs string) error) error {
	c.busy.Lock()
	defer c.busy.Unlock()
	if c.running() {
		return fn(filepath.Join(c.rec.Bundle, "rootfs"))
	}
	dir, err := os.MkdirTemp(d.cfg.ExecRoot, "cp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := d.images.Snapshots().Mount(c.rec.ID, dir, false); err != nil {
		return fmt.Errorf("mount root filesystem: %w", err)
	}
	defer d.images.Snapshots().Unmount(dir)
	return fn(dir)
}

func (d *Daemon) handleArchiveGet(w http.ResponseWriter, r *http.Request, c *container) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		return fmt.Errorf("no path given: %w", errdefs.ErrInvalidArgument)
	}
	started := false
	err := d.withRootfs(c, func(rootfs string) error {
		w.Header().Set("Content-Type", "application/x-tar")
		return archive.Tar(&lazyWriter{w: w, started: &started}, rootfs, p)
	})
	if err != nil && started {
		// Headers are out: the client sees a truncated tar.
		return nil
	}
	return err
}

// lazyWriter sends the status line only with the first byte, so an early error can still
// become a proper error response.
type lazyWriter struct {
	w       http.ResponseWriter
	started *bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !*l.started {
		*l.started = true
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(p)
}

func (d *Daemon) handleArchivePut(w http.ResponseWriter, r *http.Request, c *container) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		return fmt.Errorf("no path given: %w", errdefs.ErrInvalidArgument)
	}
	return noContent(w, d.withRootfs(c, func(rootfs string) error {
		return archive.Untar(r.Body, rootfs, p, archive.DefaultLimits)
	}))
}

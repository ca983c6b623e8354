package daemon

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime/spec"
	"github.com/drover/drover/volume"
)

// prepareMounts checks the --mount and volume -v entries of a new container and creates
// the volumes it names (anonymous ones get their random name recorded in Source). It
// returns the volumes it created, for the caller to remove if the create fails.
func (d *Daemon) prepareMounts(h *api.HostConfig) (created []string, err error) {
	defer func() {
		if err != nil {
			d.dropVolumes(created)
			created = nil
		}
	}()
	seen := map[string]bool{}
	for i := range h.Mounts {
		m := &h.Mounts[i]
		if !path.IsAbs(m.Target) || path.Clean(m.Target) == "/" {
			return created, fmt.Errorf("mount target %q: want an absolute path other than /: %w", m.Target, errdefs.ErrInvalidArgument)
		}
		m.Target = path.Clean(m.Target)
		if seen[m.Target] {
			return created, fmt.Errorf("duplicate mount point: %s: %w", m.Target, errdefs.ErrInvalidArgument)
		}
		seen[m.Target] = true
		switch m.Type {
		case "bind":
			if _, err := os.Stat(m.Source); err != nil {
				return created, fmt.Errorf("invalid mount config: bind source path does not exist: %s: create it or fix the --mount value: %w", m.Source, errdefs.ErrInvalidArgument)
			}
		case "tmpfs":
			if _, err := spec.ParseTmpfs(m.Target + ":" + tmpfsOptions(*m)); err != nil {
				return created, err
			}
		case "volume":
			_, getErr := d.vols.Get(m.Source)
			if m.Source != "" && getErr == nil {
				continue
			}
			v, err := d.vols.Create(m.Source, nil, nil)
			if err != nil {
				return created, err
			}
			m.Source = v.Name
			created = append(created, v.Name)
		case "image":
			img, err := d.images.Get(m.Source)
			if err != nil {
				// Not NotFound: that would read as the container's own image missing.
				return created, fmt.Errorf("image volume at %s: %v: pull the image first: %w", m.Target, err, errdefs.ErrInvalidArgument)
			}
			if !m.ReadOnly {
				return created, fmt.Errorf("image volume at %s: image volumes are read-only: mount it read-only: %w", m.Target, errdefs.ErrInvalidArgument)
			}
			if p := path.Clean("/" + m.SubPath); m.SubPath != "" && (p == "/" || strings.Contains(m.SubPath, "..")) {
				return created, fmt.Errorf("image volume at %s: subpath %q must name a directory inside the image, without '..': %w", m.Target, m.SubPath, errdefs.ErrInvalidArgument)
			}
			m.Source = img.ID.String() // the volume keeps the image it was made of
		default:
			return created, fmt.Errorf("mount type %q: use volume, bind, tmpfs or image: %w", m.Type, errdefs.ErrInvalidArgument)
		}
	}
	return created, nil
}

func tmpfsOptions(m api.Mount) string {
	opts := ""
	add := func(o string) {
		if opts != "" {
			opts += ","
		}
		opts += o
	}
	if m.TmpfsSize > 0 {
		add("size=" + strconv.FormatInt(m.TmpfsSize, 10))
	}
	if m.TmpfsMode != 0 {
		add("mode=" + strconv.FormatUint(uint64(m.TmpfsMode), 8))
	}
	if m.ReadOnly {
		add("ro")
	}
	return opts
}

func (d *Daemon) dropVolumes(names []string) {
	for _, n := range names {
		if err := d.vols.Remove(n, false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			d.log.Warn("remove volume", "volume", n, "err", err)
		}
	}
}

// mountVolumes turns the container's mounts into spec mounts for one run: volumes are
// mounted (tmpfs volumes come alive on first use) and, when new and empty, seeded from
// the image's content at the target, as Docker does. The caller undoes the volume mounts
// with releaseVolumes.
func (d *Daemon) mountVolumes(rec *record, rootfs string) ([]spec.Mount, []api.MountPoint, error) {
	var out []spec.Mount
	var points []api.MountPoint
	for _, b := range rec.Config.Host.Binds {
		if m, err := spec.ParseVolume(b); err == nil {
			points = append(points, api.MountPoint{Type: "bind", Source: m.Source, Destination: m.Destination, RW: !m.ReadOnly})
		}
	}
	for i, m := range rec.Config.Host.Mounts {
		switch m.Type {
		case "bind":
			out = append(out, spec.Mount{Type: spec.MountBind, Source: m.Source, Destination: m.Target, ReadOnly: m.ReadOnly, Propagation: m.Propagation})
			points = append(points, api.MountPoint{Type: "bind", Source: m.Source, Destination: m.Target, RW: !m.ReadOnly})
		case "tmpfs":
			sm, err := spec.ParseTmpfs(m.Target + ":" + tmpfsOptions(m))
			if err != nil {
				return nil, nil, err
			}
			out = append(out, sm)
			points = append(points, api.MountPoint{Type: "tmpfs", Destination: m.Target, RW: !m.ReadOnly})
		case "volume":
			dir, err := d.vols.Mount(m.Source)
			if err != nil {
				d.releaseVolumes(rec)
				return nil, nil, fmt.Errorf("volume %s: %w", m.Source, err)
			}
			if !m.NoCopy {
				if err := seedVolume(dir, rootfs, m.Target); err != nil {
					d.releaseVolumes(rec)
					return nil, nil, fmt.Errorf("copy the image's %s into volume %s: %w", m.Target, m.Source, err)
				}
			}
			out = append(out, spec.Mount{Type: spec.MountBind, Source: dir, Destination: m.Target, ReadOnly: m.ReadOnly})
			points = append(points, api.MountPoint{Type: "volume", Name: m.Source, Source: dir, Destination: m.Target, RW: !m.ReadOnly})
		case "image":
			src, err := d.mountImageVolume(rec, i, m)
			if err != nil {
				d.releaseVolumes(rec)
				return nil, nil, err
			}
			out = append(out, spec.Mount{Type: spec.MountBind, Source: src, Destination: m.Target, ReadOnly: true})
			points = append(points, api.MountPoint{Type: "image", Name: m.Source, Source: src, Destination: m.Target})
		}
	}
	return out, points, nil
}

// seedVolume copies the image's content at target into an empty volume. The path is
// resolved inside the rootfs so that a hostile image's symlinks cannot point it outside.
func seedVolume(dir, rootfs, target string) error {
	src, err := securejoin.SecureJoin(rootfs, target)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil || !fi.IsDir() {
		return nil // nothing (or no directory) to copy
	}
	return volume.Seed(dir, src)
}

// releaseVolumes drops this run's use of its volumes (idempotent).
func (d *Daemon) releaseVolumes(rec *record) {
	for _, m := range rec.Config.Host.Mounts {
		if m.Type == "volume" && m.Source != "" {
			if err := d.vols.Unmount(m.Source); err != nil {
				d.log.Warn("release volume", "volume", m.Source, "err", err)
			}
		}
	}
}

// removeAnonymousVolumes removes the anonymous volumes of a removed container (rm -v,
// --rm) that no other container uses.
func (d *Daemon) removeAnonymousVolumes(rec *record) {
	for _, m := range rec.Config.Host.Mounts {
		if m.Type != "volume" || m.Source == "" {
			continue
		}
		v, err := d.vols.Get(m.Source)
		if err != nil || !v.Anonymous || d.volumeUsers(m.Source) > 0 {
			continue
		}
		if err := d.vols.Remove(m.Source, false); err != nil {
			d.log.Warn("remove anonymous volume", "volume", m.Source, "err", err)
		}
	}
}

// volumeUsers counts the containers (running or not) whose mounts name the volume.
func (d *Daemon) volumeUsers(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.containers {
		for _, m := range c.rec.Config.Host.Mounts {
			if m.Type == "volume" && m.Source == name {
				n++
				break
			}
		}
	}
	return n
}

func (d *Daemon) volumeView(v volume.Volume) api.Volume {
	return api.Volume{Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt, Labels: v.Labels,
		Options: v.Options, Anonymous: v.Anonymous, RefCount: d.volumeUsers(v.Name)}
}

func (d *Daemon) volumeRoutes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("GET /volumes", func(w http.ResponseWriter, r *http.Request) error {
		vs, err := d.vols.List()
		if err != nil {
			return err
		}
		out := make([]api.Volume, 0, len(vs))
		for _, v := range vs {
			out = append(out, d.volumeView(v))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
	handle("POST /volumes", func(w http.ResponseWriter, r *http.Request) error {
		var req api.VolumeCreate
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		if req.Driver != "" && req.Driver != volume.DriverLocal {
			return fmt.Errorf("volume driver %q is not supported: use local: %w", req.Driver, errdefs.ErrInvalidArgument)
		}
		v, err := d.vols.Create(req.Name, req.Labels, req.DriverOpts)
		if err != nil {
			return err
		}
		d.emit("volume", "create", v.Name, map[string]string{"driver": "local"})
		writeJSON(w, http.StatusCreated, d.volumeView(v))
		return nil
	})
	handle("POST /volumes/prune", func(w http.ResponseWriter, r *http.Request) error {
		res, err := d.PruneVolumes(r.Context(), boolQuery(r, "all"))
		if err != nil {
			return err
		}
		removed, reclaimed := res.Deleted, res.SpaceReclaimed
		writeJSON(w, http.StatusOK, api.PruneResponse{Deleted: append([]string{}, removed...), SpaceReclaimed: reclaimed})
		return nil
	})
	handle("GET /volumes/{name}", func(w http.ResponseWriter, r *http.Request) error {
		v, err := d.vols.Get(r.PathValue("name"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d.volumeView(v))
		return nil
	})
	handle("DELETE /volumes/{name}", func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if _, err := d.vols.Get(name); err != nil {
			if boolQuery(r, "force") && errors.Is(err, errdefs.ErrNotFound) {
				w.WriteHeader(http.StatusNoContent)
				return nil
			}
			return err
		}
		return noContent(w, d.RemoveVolume(r.Context(), name, false))
	})
}

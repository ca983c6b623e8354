package daemon

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/drover/drover/api"
	"github.com/drover/drover/image"
	"github.com/drover/drover/internal/errdefs"
)

// runtimeFiles are what the runtime puts in a container's layer, not the container:
// mountpoints of the files the daemon binds in, and Docker's marker. Docker keeps them in
// an "init" layer under the container's; a commit leaves them out here.
var runtimeFiles = map[string]bool{".dockerenv": true, "etc/hostname": true, "etc/hosts": true, "etc/resolv.conf": true}

// CommitContainer makes an image of a container's changes on its image (docker commit),
// with the container's configuration, changes applied, as the image's. A running
// container is frozen meanwhile unless req.NoPause.
func (d *Daemon) CommitContainer(ctx context.Context, ref string, req api.CommitRequest) (api.Image, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return api.Image{}, err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	snap := c.snapshot()
	if c.rec.Infra {
		return api.Image{}, fmt.Errorf("%s is a pod's infra container, which has no image to commit onto: %w", snap.Name, errdefs.ErrInvalidArgument)
	}
	base, err := d.images.Get(c.rec.Image)
	if err != nil {
		return api.Image{}, fmt.Errorf("the image of container %s: %w", snap.Name, err)
	}
	if snap.State.Status == api.StatusRunning && !req.NoPause {
		if err := d.setPaused(ctx, c, true); err != nil {
			return api.Image{}, err
		}
		defer func() {
			if err := d.setPaused(context.Background(), c, false); err != nil {
				d.log.Warn("resume after commit", "container", snap.Name, "err", err)
			}
		}()
	}
	cfg := snap.Config
	img, err := d.images.CommitChanges(ctx, snap.ID, base, image.CommitOptions{
		Config: image.ImportOptions{
			Cmd: cfg.Cmd, Entrypoint: cfg.Entrypoint, Env: cfg.Env, WorkingDir: cfg.WorkingDir, User: cfg.User,
			ExposedPorts: maps.Clone(cfg.ExposedPorts), Volumes: maps.Clone(base.Config.Config.Volumes),
			Labels: maps.Clone(cfg.Labels), StopSignal: cfg.StopSignal, Changes: req.Changes,
		},
		Author: req.Author, Comment: req.Comment,
		CreatedBy: strings.Join(slices.Concat([]string{snap.Path}, snap.Args), " "),
		Skip:      func(rel string) bool { return runtimeFiles[rel] },
	}, req.Ref)
	if err != nil {
		return api.Image{}, err
	}
	d.emit("container", "commit", snap.ID, map[string]string{"name": snap.Name, "imageID": img.ID.String()})
	return toAPIImage(img), nil
}

func (d *Daemon) handleCommit(w http.ResponseWriter, r *http.Request, c *container) error {
	var req api.CommitRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	img, err := d.CommitContainer(r.Context(), c.rec.ID, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, img)
	return nil
}

// ContainerChanges lists what a container changed in its root filesystem (docker diff),
// leaving out what the runtime put there.
func (d *Daemon) ContainerChanges(ctx context.Context, ref string) ([]api.Change, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return nil, err
	}
	if c.rec.Infra {
		return nil, fmt.Errorf("%s is a pod's infra container, which has no root filesystem of its own to compare: %w", c.rec.Name, errdefs.ErrInvalidArgument)
	}
	changes, err := d.images.Snapshots().Changes(c.rec.ID, func(rel string) bool { return runtimeFiles[rel] })
	if err != nil {
		return nil, err
	}
	out := make([]api.Change, 0, len(changes))
	for _, ch := range changes {
		out = append(out, api.Change{Path: ch.Path, Kind: int(ch.Kind)})
	}
	return out, nil
}

func (d *Daemon) handleChanges(w http.ResponseWriter, r *http.Request, c *container) error {
	changes, err := d.ContainerChanges(r.Context(), c.rec.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, changes)
	return nil
}

package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/mount"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// Image volumes mount an image's files read-only into a container (the CRI's image
// volumes, Kubernetes' ImageVolume). Each is a read-only view of the image's layers made
// by the snapshotter under a key of the container's ("<ID>.image<N>", N the mount's
// index), so the layers stay in use while the container exists; it is mounted in the
// bundle at start, bound into the container, and unmounted with the bundle.

// imageVolumeKey names the snapshot of a container's n-th mount, an image volume.
func imageVolumeKey(id string, n int) string { return id + ".image" + strconv.Itoa(n) }

// imageVolumeOwner is the container whose image volume key is, if it is one.
func imageVolumeOwner(key string) (string, bool) {
	id, n, ok := strings.Cut(key, ".image")
	if _, err := strconv.Atoi(n); !ok || err != nil {
		return "", false
	}
	return id, true
}

// prepareImageVolumes makes the snapshots of a new container's image volumes; undo
// removes them again.
func (d *Daemon) prepareImageVolumes(id string, h api.HostConfig) (undo func(), err error) {
	var made []string
	undo = func() {
		for _, k := range made {
			_ = d.images.Snapshots().Remove(k)
		}
	}
	for i, m := range h.Mounts {
		if m.Type != "image" {
			continue
		}
		img, err := d.images.Get(m.Source)
		if err != nil {
			undo()
			return nil, fmt.Errorf("image volume at %s: %w", m.Target, err)
		}
		key := imageVolumeKey(id, i)
		if err := d.images.Snapshots().Prepare(key, img.ChainID); err != nil {
			undo()
			return nil, fmt.Errorf("image volume at %s: %w", m.Target, err)
		}
		made = append(made, key)
		if m.SubPath != "" {
			if err := d.checkImageSubPath(key, m); err != nil {
				undo()
				return nil, err
			}
		}
	}
	return undo, nil
}

// checkImageSubPath makes sure an image volume's subpath is a directory of its image
// when the container is created, not first when it starts.
func (d *Daemon) checkImageSubPath(key string, m api.Mount) error {
	if err := os.MkdirAll(d.subpathCheckDir(), 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(d.subpathCheckDir(), "check-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := d.images.Snapshots().Mount(key, dir, true); err != nil {
		return fmt.Errorf("image volume at %s: %w", m.Target, err)
	}
	defer d.images.Snapshots().Unmount(dir)
	_, err = imageSubPath(dir, m)
	return err
}

// imageSubPath resolves an image volume's subpath inside the image mounted at dir (its
// symlinks cannot lead out of it); it must be a directory.
func imageSubPath(dir string, m api.Mount) (string, error) {
	src, err := securejoin.SecureJoin(dir, m.SubPath)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(src); err == nil && !fi.IsDir() {
			err = errors.New("not a directory")
		}
	}
	if err != nil {
		return "", fmt.Errorf("image volume at %s: subpath %s of image %s: %v: %w", m.Target, m.SubPath, m.Source, err, errdefs.ErrInvalidArgument)
	}
	return src, nil
}

// removeImageVolumes removes a container's image volume snapshots.
func (d *Daemon) removeImageVolumes(rec *record) error {
	for i, m := range rec.Config.Host.Mounts {
		if m.Type != "image" {
			continue
		}
		if err := d.images.Snapshots().Remove(imageVolumeKey(rec.ID, i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the image volume at %s: %w", m.Target, err)
		}
	}
	return nil
}

// mountImageVolume mounts the n-th mount of rec, an image volume, read-only in the bundle
// and returns the host directory to bind into the container: the image's root, or its
// subpath resolved inside the image (its symlinks cannot lead out of it).
func (d *Daemon) mountImageVolume(rec *record, n int, m api.Mount) (string, error) {
	dir := filepath.Join(rec.Bundle, "imagevols", strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := d.images.Snapshots().Mount(imageVolumeKey(rec.ID, n), dir, true); err != nil {
		return "", fmt.Errorf("image volume at %s: %w", m.Target, err)
	}
	if m.SubPath == "" {
		return dir, nil
	}
	src, err := imageSubPath(dir, m)
	if err != nil {
		_ = d.images.Snapshots().Unmount(dir)
	}
	return src, err
}

// subpathCheckDir holds the short-lived mounts of subpath checks.
func (d *Daemon) subpathCheckDir() string { return filepath.Join(d.cfg.ExecRoot, "imagevol-check") }

// removeStaleSubpathChecks unmounts and removes the subpath checks a crash interrupted.
func (d *Daemon) removeStaleSubpathChecks() {
	if err := mount.RecursiveUnmount(d.subpathCheckDir()); err != nil {
		d.log.Warn("unmount stale image volume checks", "err", err)
	}
	_ = os.RemoveAll(d.subpathCheckDir())
}

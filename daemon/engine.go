package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/drover/drover/api"
	"github.com/drover/drover/dockerapi"
	"github.com/drover/drover/image"
	"github.com/drover/drover/image/remote"
	"github.com/drover/drover/image/snapshot"
	"github.com/drover/drover/internal/archive"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/jsonlog"
	"github.com/drover/drover/internal/signals"
	"github.com/drover/drover/network"
	"github.com/drover/drover/shim"
	"github.com/drover/drover/volume"
)

// The daemon is the engine behind the Docker API front door: these exported methods call
// the same operations as the daemon's own HTTP handlers, so both front doors share every
// container, image, network and volume.
var _ dockerapi.Engine = (*Daemon)(nil)

// Info describes the daemon, as GET /info answers.
func (d *Daemon) Info(ctx context.Context) api.Info {
	info := api.Info{
		Version: Version, Root: d.cfg.Root, ExecRoot: d.cfg.ExecRoot, DefaultRuntime: runtimeName(d.cfg.DefaultRuntime),
		CgroupVersion: cgroupVersion(), CgroupParent: d.cfg.CgroupParent, Pid: pid(),
	}
	d.mu.Lock()
	for _, c := range d.containers {
		info.Containers++
		if c.running() {
			info.Running++
		}
	}
	d.mu.Unlock()
	if imgs, err := d.images.List(); err == nil {
		info.Images = len(imgs)
	}
	return info
}

// CreateContainer creates a container as POST /containers does.
func (d *Daemon) CreateContainer(ctx context.Context, cfg api.ContainerConfig) (string, error) {
	c, err := d.create(ctx, cfg, true)
	if err != nil {
		return "", err
	}
	return c.rec.ID, nil
}

// InspectContainer returns the container's view.
func (d *Daemon) InspectContainer(ctx context.Context, ref string) (api.Container, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return api.Container{}, err
	}
	out := c.snapshot()
	if driver, dirs, err := d.images.Snapshots().Dirs(out.ID); err == nil {
		if driver == snapshot.DriverOverlay {
			driver = "overlay2" // the name Docker's tools look for
			dirs["MergedDir"] = filepath.Join(c.rec.Bundle, "rootfs")
		}
		out.GraphDriver = &api.GraphDriver{Name: string(driver), Data: dirs}
	}
	return out, nil
}

// ListContainers returns every container.
func (d *Daemon) ListContainers(ctx context.Context) ([]api.Container, error) {
	d.mu.Lock()
	list := make([]*container, 0, len(d.containers))
	for _, c := range d.containers {
		list = append(list, c)
	}
	d.mu.Unlock()
	out := make([]api.Container, 0, len(list))
	for _, c := range list {
		out = append(out, c.snapshot())
	}
	return out, nil
}

// StartContainer starts a container; started is false when it was running already.
func (d *Daemon) StartContainer(ctx context.Context, ref string) (bool, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return false, err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	if c.running() {
		return false, nil
	}
	return true, d.start(ctx, c, nil)
}

// StartAttached starts a container with its stdio wired to the returned stream first.
func (d *Daemon) StartAttached(ctx context.Context, ref string, stdin bool) (dockerapi.Stream, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return nil, err
	}
	var sc *shim.Conn
	c.busy.Lock()
	err = d.start(ctx, c, func(c *container) error {
		var err error
		sc, err = c.shim().Dial(ctx, shim.Request{Op: shim.OpAttach, Stdin: stdin, Start: true})
		return err
	})
	c.busy.Unlock()
	if err != nil {
		if sc != nil {
			sc.Close()
		}
		return nil, err
	}
	return sc, nil
}

// AttachContainer joins a running container's stdio.
func (d *Daemon) AttachContainer(ctx context.Context, ref string, stdin bool) (dockerapi.Stream, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return nil, err
	}
	if !c.running() {
		return nil, fmt.Errorf("container %s is not running: %w", c.rec.Name, errdefs.ErrConflict)
	}
	if err := noProcess(c); err != nil {
		return nil, err
	}
	return c.shim().Dial(ctx, shim.Request{Op: shim.OpAttach, Stdin: stdin})
}

// StopContainer stops a container as POST /containers/{id}/stop does.
func (d *Daemon) StopContainer(ctx context.Context, ref string, timeout *time.Duration, signal string) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	return d.stop(ctx, c, timeout, signal)
}

// RestartContainer restarts a container.
func (d *Daemon) RestartContainer(ctx context.Context, ref string, timeout *time.Duration) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	return d.restart(ctx, c, timeout)
}

// KillContainer sends a signal (name or number) to a container's init.
func (d *Daemon) KillContainer(ctx context.Context, ref, signal string) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	sig, err := signals.Parse(signal)
	if err != nil {
		return err
	}
	return d.kill(ctx, c, sig)
}

// PauseContainer freezes a container.
func (d *Daemon) PauseContainer(ctx context.Context, ref string) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	return d.pause(ctx, c)
}

// UnpauseContainer thaws a container.
func (d *Daemon) UnpauseContainer(ctx context.Context, ref string) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	return d.unpause(ctx, c)
}

// RemoveContainer removes a container (force: stop it first; volumes: its anonymous
// volumes too).
func (d *Daemon) RemoveContainer(ctx context.Context, ref string, force, volumes bool) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	err = d.remove(ctx, c, force, volumes)
	if errors.Is(err, errRemoved) {
		err = fmt.Errorf("no such container: %s: %w", ref, errdefs.ErrNotFound)
	}
	return err
}

// WatchContainer returns what waits for the condition, counted from now.
func (d *Daemon) WatchContainer(ctx context.Context, ref, condition string) (func(context.Context) (api.WaitResponse, error), error) {
	c, err := d.lookup(ref)
	if err != nil {
		return nil, err
	}
	return d.waitFor(c, condition)
}

// RenameContainer renames a container.
func (d *Daemon) RenameContainer(ctx context.Context, ref, name string) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	return d.rename(c, name)
}

// SetRestartPolicy changes a container's restart policy; it applies from its next exit.
func (d *Daemon) SetRestartPolicy(ctx context.Context, ref string, policy api.RestartPolicy) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	// Only the policy is checked: the rest of the config was checked at create.
	probe := api.HostConfig{RestartPolicy: policy, AutoRemove: c.rec.Config.Host.AutoRemove}
	if err := validateHostConfig(&probe); err != nil {
		c.mu.Unlock()
		return err
	}
	c.rec.Config.Host.RestartPolicy = policy
	err = d.save(c)
	c.mu.Unlock()
	if err == nil {
		d.emitContainer(c, "update", nil)
	}
	return err
}

// ResizeContainer sets the size of a container's terminal.
func (d *Daemon) ResizeContainer(ctx context.Context, ref string, width, height uint16) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	return d.resize(ctx, c, width, height)
}

// ContainerLogs reads a container's log; with opts.Follow until the container stops.
func (d *Daemon) ContainerLogs(ctx context.Context, ref string, opts jsonlog.ReadOptions, fn func(jsonlog.Message) error) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	if opts.Follow {
		opts.StopWhen = func() bool { return !c.running() }
	}
	c.mu.Lock()
	logPath := c.rec.LogPath
	opts.Format = c.rec.Config.Host.LogConfig.Type
	c.mu.Unlock()
	return jsonlog.Read(ctx, logPath, opts, fn)
}

// Exec starts a process in a running container. A detached exec's stream ends when the
// process exits, with its exit code, which Docker's exec inspect reports.
func (d *Daemon) Exec(ctx context.Context, ref string, cfg api.ExecConfig) (dockerapi.Stream, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return nil, err
	}
	sc, err := d.execStart(ctx, c, cfg, true)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	shimPid := c.rec.ShimPid
	c.mu.Unlock()
	return execStream{sc, shimPid}, nil
}

// ContainerEvent publishes an event of the container ref, if it still exists.
func (d *Daemon) ContainerEvent(ref, action string, extra map[string]string) {
	if c, err := d.lookup(ref); err == nil {
		d.emitContainer(c, action, extra)
	}
}

// execStream is an exec's stream that also tells the process's host PID (exec inspect)
// and can kill it (execkill.go).
type execStream struct {
	*shim.Conn
	shimPid int
}

// Pid is the exec'd process's PID on the host.
func (e execStream) Pid() int { return e.Response.Pid }

// Top lists a container's processes with the host's ps.
func (d *Daemon) Top(ctx context.Context, ref string, psArgs []string) (api.TopResponse, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return api.TopResponse{}, err
	}
	if !c.running() {
		return api.TopResponse{}, fmt.Errorf("container %s is not running: %w", c.rec.Name, errdefs.ErrConflict)
	}
	rt, err := d.runtimeFor(c.rec.RuntimePath)
	if err != nil {
		return api.TopResponse{}, err
	}
	pids, err := rt.Pids(ctx, c.rec.ID)
	if err != nil {
		return api.TopResponse{}, err
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	return psTable(ctx, psArgs, pids)
}

// Stats samples a running container's resource use.
func (d *Daemon) Stats(ctx context.Context, ref string) (api.Stats, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return api.Stats{}, err
	}
	if !c.running() {
		return api.Stats{}, fmt.Errorf("container %s is not running: %w", c.rec.Name, errdefs.ErrConflict)
	}
	return d.containerStats(c), nil
}

// ArchiveGet writes a tar of path in the container.
func (d *Daemon) ArchiveGet(ctx context.Context, ref, p string, w io.Writer) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	return d.withRootfs(c, func(rootfs string) error { return archive.Tar(w, rootfs, p) })
}

// ArchivePut unpacks a tar into path in the container.
func (d *Daemon) ArchivePut(ctx context.Context, ref, p string, r io.Reader) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	return d.withRootfs(c, func(rootfs string) error { return archive.Untar(r, rootfs, p, archive.DefaultLimits) })
}

// PathStat describes path in the container without following a final symlink; the
// directories on the way resolve inside the container's root.
func (d *Daemon) PathStat(ctx context.Context, ref, p string) (fs.FileInfo, string, error) {
	c, err := d.lookup(ref)
	if err != nil {
		return nil, "", err
	}
	var fi fs.FileInfo
	var link string
	err = d.withRootfs(c, func(rootfs string) error {
		clean := path.Clean("/" + p)
		dir, err := securejoin.SecureJoin(rootfs, path.Dir(clean))
		if err != nil {
			return err
		}
		full := filepath.Join(dir, path.Base(clean))
		if clean == "/" {
			full = rootfs
		}
		fi, err = os.Lstat(full)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("Could not find the file %s in container %s: %w", p, c.rec.Name, errdefs.ErrNotFound)
			}
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(full)
		}
		return nil
	})
	return fi, link, err
}

// PruneContainers removes every stopped container f matches.
func (d *Daemon) PruneContainers(ctx context.Context, f api.PruneFilter) (api.PruneResponse, error) {
	return d.prune(ctx, f)
}

// ListImages returns every image.
func (d *Daemon) ListImages(ctx context.Context) ([]api.Image, error) {
	imgs, err := d.images.List()
	if err != nil {
		return nil, err
	}
	out := make([]api.Image, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, toAPIImage(img))
	}
	return out, nil
}

// InspectImage returns one image by reference or ID.
func (d *Daemon) InspectImage(ctx context.Context, ref string) (api.Image, error) {
	img, err := d.images.Get(ref)
	if err != nil {
		return api.Image{}, err
	}
	return toAPIImage(img), nil
}

// PullImage pulls ref from its registry.
func (d *Daemon) PullImage(ctx context.Context, ref, platform string, auth api.AuthConfig, progress func(api.Progress)) error {
	img, err := d.registry.Pull(ctx, ref, remote.PullOptions{Platform: platform, Auth: auth, Progress: progress})
	if err != nil {
		return err
	}
	d.emit("image", "pull", ref, map[string]string{"name": ref, "id": img.ID.String()})
	return nil
}

// PushImage pushes ref to its registry.
func (d *Daemon) PushImage(ctx context.Context, ref string, auth api.AuthConfig, progress func(api.Progress)) error {
	if _, err := d.registry.Push(ctx, ref, remote.PushOptions{Auth: auth, Progress: progress}); err != nil {
		return err
	}
	d.emit("image", "push", ref, map[string]string{"name": ref})
	return nil
}

// TagImage gives src the name ref.
func (d *Daemon) TagImage(ctx context.Context, src, ref string) error {
	if err := d.images.Tag(src, ref); err != nil {
		return err
	}
	d.emit("image", "tag", src, map[string]string{"name": ref})
	return nil
}

// RemoveImage untags or deletes an image.
func (d *Daemon) RemoveImage(ctx context.Context, ref string, force bool) ([]api.ImageDeleteItem, error) {
	untagged, deleted, err := d.images.Remove(ref, force, d.imageInUse)
	if err != nil {
		return nil, err
	}
	out := []api.ImageDeleteItem{}
	for _, u := range untagged {
		out = append(out, api.ImageDeleteItem{Untagged: u})
		d.emit("image", "untag", u, map[string]string{"name": u})
	}
	for _, del := range deleted {
		out = append(out, api.ImageDeleteItem{Deleted: del})
		d.emit("image", "delete", del, map[string]string{"name": ref})
	}
	return out, nil
}

// ImageHistory lists an image's steps, newest first.
func (d *Daemon) ImageHistory(ctx context.Context, ref string) ([]api.HistoryItem, error) {
	img, err := d.images.Get(ref)
	if err != nil {
		return nil, err
	}
	out := []api.HistoryItem{}
	for i, h := range d.images.History(img) {
		id := "<missing>"
		if i == 0 {
			id = img.ID.String()
		}
		out = append(out, api.HistoryItem{ID: id, Created: h.Created, CreatedBy: h.CreatedBy, Size: h.Size, Comment: h.Comment})
	}
	return out, nil
}

// PruneImages removes dangling images (all: every image no container uses).
func (d *Daemon) PruneImages(ctx context.Context, all bool, f api.PruneFilter) (api.ImagePruneReport, error) {
	// An image the filter leaves out counts as in use: kept.
	keep := func(id string) bool {
		if d.imageInUse(id) {
			return true
		}
		img, err := d.images.Get(id)
		return err == nil && !f.Match(img.Config.Config.Labels, img.Created)
	}
	untagged, deleted, freed, err := d.images.Prune(all, keep)
	if err != nil {
		return api.ImagePruneReport{}, err
	}
	out := api.ImagePruneReport{ImagesDeleted: []api.ImageDeleteItem{}, SpaceReclaimed: freed}
	for _, u := range untagged {
		out.ImagesDeleted = append(out.ImagesDeleted, api.ImageDeleteItem{Untagged: u})
	}
	for _, del := range deleted {
		out.ImagesDeleted = append(out.ImagesDeleted, api.ImageDeleteItem{Deleted: del})
	}
	return out, nil
}

// SaveImages writes a docker-save tarball of refs.
func (d *Daemon) SaveImages(ctx context.Context, refs []string, w io.Writer) error {
	return d.images.Save(ctx, w, refs)
}

// LoadImages loads a docker-save or OCI tarball.
func (d *Daemon) LoadImages(ctx context.Context, r io.Reader) ([]api.Image, error) {
	imgs, err := d.images.Load(ctx, r)
	if err != nil {
		return nil, err
	}
	out := make([]api.Image, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, toAPIImage(img))
		d.emit("image", "load", img.ID.String(), map[string]string{"name": strings.Join(img.RepoTags, ",")})
	}
	return out, nil
}

// ImportImage makes an image from a root filesystem tarball (docker import).
func (d *Daemon) ImportImage(ctx context.Context, r io.Reader, ref string, changes []string, message string) (api.Image, error) {
	img, err := d.images.Import(ctx, r, ref, image.ImportOptions{Changes: changes, Message: message})
	if err != nil {
		return api.Image{}, err
	}
	d.emit("image", "import", img.ID.String(), map[string]string{"name": ref})
	return toAPIImage(img), nil
}

// Login checks credentials against a registry, as POST /auth.
func (d *Daemon) Login(ctx context.Context, auth api.AuthConfig) error {
	return d.registry.Login(ctx, auth.ServerAddress, auth)
}

// ListNetworks returns every network.
func (d *Daemon) ListNetworks(ctx context.Context) ([]api.Network, error) {
	nets, err := d.net.List()
	if err != nil {
		return nil, err
	}
	out := make([]api.Network, 0, len(nets))
	for _, n := range nets {
		out = append(out, d.networkView(n))
	}
	return out, nil
}

// InspectNetwork returns one network by name or ID.
func (d *Daemon) InspectNetwork(ctx context.Context, ref string) (api.Network, error) {
	n, err := d.net.Get(ref)
	if err != nil {
		return api.Network{}, err
	}
	return d.networkView(n), nil
}

// CreateNetwork creates a bridge network with its DNS.
func (d *Daemon) CreateNetwork(ctx context.Context, req api.NetworkCreate) (api.Network, error) {
	n, err := d.net.Create(network.CreateOptions{Name: req.Name, Subnet: req.Subnet, Gateway: req.Gateway, Internal: req.Internal,
		NonMasquerade: req.NonMasquerade, Labels: req.Labels})
	if err != nil {
		return api.Network{}, err
	}
	d.listenDNS(n)
	d.emit("network", "create", n.ID, map[string]string{"name": n.Name, "type": "bridge"})
	return d.networkView(n), nil
}

// RemoveNetwork removes an unused network.
func (d *Daemon) RemoveNetwork(ctx context.Context, ref string) error {
	n, err := d.net.Get(ref)
	if err != nil {
		return err
	}
	if err := d.net.Remove(n.ID); err != nil {
		return err
	}
	d.unlistenDNS(n.ID)
	d.emit("network", "destroy", n.ID, map[string]string{"name": n.Name, "type": "bridge"})
	return nil
}

// ConnectNetwork attaches a container to a network.
func (d *Daemon) ConnectNetwork(ctx context.Context, netRef, ref string, ep api.EndpointConfig) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	if err := d.connect(c, netRef, ep); err != nil {
		return err
	}
	d.emitNetwork("connect", netRef, c)
	return nil
}

// DisconnectNetwork detaches a container from a network.
func (d *Daemon) DisconnectNetwork(ctx context.Context, netRef, ref string) error {
	c, err := d.lookup(ref)
	if err != nil {
		return err
	}
	if err := d.disconnect(c, netRef); err != nil {
		return err
	}
	d.emitNetwork("disconnect", netRef, c)
	return nil
}

// PruneNetworks removes the networks no container uses.
func (d *Daemon) PruneNetworks(ctx context.Context, f api.PruneFilter) ([]string, error) {
	before, _ := d.net.List()
	removed, err := d.net.Prune(func(n network.Network) bool { return f.Match(n.Labels, n.Created) })
	if err != nil {
		return nil, err
	}
	for _, n := range before {
		for _, name := range removed {
			if n.Name == name {
				d.unlistenDNS(n.ID)
				d.emit("network", "destroy", n.ID, map[string]string{"name": n.Name, "type": "bridge"})
			}
		}
	}
	return removed, nil
}

// ListVolumes returns every volume.
func (d *Daemon) ListVolumes(ctx context.Context) ([]api.Volume, error) {
	vs, err := d.vols.List()
	if err != nil {
		return nil, err
	}
	out := make([]api.Volume, 0, len(vs))
	for _, v := range vs {
		out = append(out, d.volumeView(v))
	}
	return out, nil
}

// InspectVolume returns one volume.
func (d *Daemon) InspectVolume(ctx context.Context, name string) (api.Volume, error) {
	v, err := d.vols.Get(name)
	if err != nil {
		return api.Volume{}, err
	}
	return d.volumeView(v), nil
}

// CreateVolume creates a local volume (an existing one of that name is returned as is).
func (d *Daemon) CreateVolume(ctx context.Context, req api.VolumeCreate) (api.Volume, error) {
	if req.Driver != "" && req.Driver != volume.DriverLocal {
		return api.Volume{}, fmt.Errorf("volume driver %q is not supported: use local: %w", req.Driver, errdefs.ErrInvalidArgument)
	}
	if req.Name != "" {
		if v, err := d.vols.Get(req.Name); err == nil {
			return d.volumeView(v), nil
		}
	}
	v, err := d.vols.Create(req.Name, req.Labels, req.DriverOpts)
	if err != nil {
		return api.Volume{}, err
	}
	d.emit("volume", "create", v.Name, map[string]string{"driver": "local"})
	return d.volumeView(v), nil
}

// RemoveVolume removes an unused volume; force makes a missing one no error.
func (d *Daemon) RemoveVolume(ctx context.Context, name string, force bool) error {
	if _, err := d.vols.Get(name); err != nil {
		if force && errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		return err
	}
	if n := d.volumeUsers(name); n > 0 {
		return fmt.Errorf("remove %s: volume is in use by %d container(s): remove them first: %w", name, n, errdefs.ErrConflict)
	}
	if err := d.vols.Remove(name, false); err != nil {
		return err
	}
	d.emit("volume", "destroy", name, map[string]string{"driver": "local"})
	return nil
}

// PruneVolumes removes unused anonymous volumes (all: named ones too).
func (d *Daemon) PruneVolumes(ctx context.Context, all bool) (api.PruneResponse, error) {
	removed, reclaimed, err := d.vols.Prune(func(name string) bool { return d.volumeUsers(name) > 0 }, all)
	if err != nil {
		return api.PruneResponse{}, err
	}
	for _, name := range removed {
		d.emit("volume", "destroy", name, map[string]string{"driver": "local"})
	}
	return api.PruneResponse{Deleted: append([]string{}, removed...), SpaceReclaimed: reclaimed}, nil
}

// DiskUsage reports what images, containers and volumes take on disk.
func (d *Daemon) DiskUsage(ctx context.Context) (api.DiskUsage, error) {
	u, err := d.images.DiskUsage()
	if err != nil {
		return api.DiskUsage{}, err
	}
	out := api.DiskUsage{LayersSize: u.LayersSize, Images: []api.ImageUsage{}, Containers: []api.ContainerUsage{}, Volumes: []api.VolumeUsage{}}
	users := map[string]int{}
	d.mu.Lock()
	for _, c := range d.containers {
		c.mu.Lock()
		users[c.rec.Image]++
		out.Containers = append(out.Containers, api.ContainerUsage{
			ID: c.rec.ID, Name: c.rec.Name, Image: c.rec.ImageName, State: c.rec.State.Status,
			SizeRw: d.images.Snapshots().Usage(c.rec.ID),
		})
		c.mu.Unlock()
	}
	d.mu.Unlock()
	for _, iu := range u.Images {
		tags := iu.Image.RepoTags
		if tags == nil {
			tags = []string{}
		}
		out.Images = append(out.Images, api.ImageUsage{
			ID: iu.Image.ID.String(), RepoTags: tags, Created: iu.Image.Created.Unix(),
			Size: iu.Size, SharedSize: iu.Shared, UniqueSize: iu.Unique, Containers: users[iu.Image.ID.String()],
		})
	}
	if vs, err := d.vols.List(); err == nil {
		for _, v := range vs {
			size, _ := d.vols.Size(v.Name)
			out.Volumes = append(out.Volumes, api.VolumeUsage{Name: v.Name, Size: size, RefCount: d.volumeUsers(v.Name)})
		}
	}
	return out, nil
}

// emitNetwork publishes a connect or disconnect of container c to network ref.
func (d *Daemon) emitNetwork(action, ref string, c *container) {
	id, name := ref, ref
	if n, err := d.net.Get(ref); err == nil {
		id, name = n.ID, n.Name
	}
	d.emit("network", action, id, map[string]string{"name": name, "type": "bridge", "container": c.rec.ID})
}

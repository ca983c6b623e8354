// Package dockerapi serves the Docker Engine API (the docker CLI, Compose, the Docker SDKs)
// as a second front door to drover's engine. It translates Docker's wire types (from
// github.com/moby/moby/api) to drover's own (api/) and calls the engine through Engine;
// it keeps no container state of its own, so a container made through either API is seen
// and managed through both. Only exec instances, which drover's API has no object for,
// live here for the time between exec create and the end of the process.
package dockerapi

import (
	"context"
	"io"
	"io/fs"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/jsonlog"
)

// Stream is a connection to a container's stdio in drover's framed format
// (internal/stream): Stdout, Stderr and a last Exit frame from the container; Stdin,
// CloseStdin and Resize frames to it.
type Stream = io.ReadWriteCloser

// Engine is what the Docker front door needs of drover's engine; the daemon implements
// it with the same operations its own API handlers call. Containers, images, networks and
// volumes are named as users name them (ID, ID prefix or name). Errors carry the
// internal/errdefs sentinels, which this package maps to Docker's status codes.
type Engine interface {
	Info(ctx context.Context) api.Info

	CreateContainer(ctx context.Context, cfg api.ContainerConfig) (id string, err error)
	InspectContainer(ctx context.Context, ref string) (api.Container, error)
	// ListContainers returns every container, running or not.
	ListContainers(ctx context.Context) ([]api.Container, error)
	// StartContainer starts a created or exited container; started is false when it ran
	// already.
	StartContainer(ctx context.Context, ref string) (started bool, err error)
	// StartAttached starts the container with its stdio wired to the returned stream
	// before the process runs, so no output is lost (attach, then start).
	StartAttached(ctx context.Context, ref string, stdin bool) (Stream, error)
	// AttachContainer joins the stdio of a running container.
	AttachContainer(ctx context.Context, ref string, stdin bool) (Stream, error)
	StopContainer(ctx context.Context, ref string, timeout *time.Duration, signal string) error
	RestartContainer(ctx context.Context, ref string, timeout *time.Duration) error
	KillContainer(ctx context.Context, ref, signal string) error
	PauseContainer(ctx context.Context, ref string) error
	UnpauseContainer(ctx context.Context, ref string) error
	RemoveContainer(ctx context.Context, ref string, force, volumes bool) error
	// WatchContainer notes the container's state now and returns a function that blocks
	// until condition ("not-running" default, "next-exit", "removed") holds: a run that
	// starts after WatchContainer returned is the "next" one.
	WatchContainer(ctx context.Context, ref, condition string) (func(context.Context) (api.WaitResponse, error), error)
	RenameContainer(ctx context.Context, ref, name string) error
	// SetRestartPolicy changes a container's restart policy (docker update --restart).
	SetRestartPolicy(ctx context.Context, ref string, policy api.RestartPolicy) error
	ResizeContainer(ctx context.Context, ref string, width, height uint16) error
	// ContainerLogs calls fn for each log line; with opts.Follow it follows the log
	// until the container stops or ctx ends.
	ContainerLogs(ctx context.Context, ref string, opts jsonlog.ReadOptions, fn func(jsonlog.Message) error) error
	// Exec starts a process in a running container. A detached exec's stream ends when the
	// process has exited, with its exit code.
	Exec(ctx context.Context, ref string, cfg api.ExecConfig) (Stream, error)
	// ContainerEvent publishes a container event with the container's attributes and
	// extra: the Docker API's exec_create, exec_start and exec_die.
	ContainerEvent(ref, action string, extra map[string]string)
	Top(ctx context.Context, ref string, psArgs []string) (api.TopResponse, error)
	Stats(ctx context.Context, ref string) (api.Stats, error)
	// ArchiveGet writes a tar of path in the container to w; ArchivePut unpacks a tar into it.
	ArchiveGet(ctx context.Context, ref, path string, w io.Writer) error
	ArchivePut(ctx context.Context, ref, path string, r io.Reader) error
	// PathStat describes path in the container (symlinks not followed) and, for a
	// symlink, its target.
	PathStat(ctx context.Context, ref, path string) (fs.FileInfo, string, error)
	PruneContainers(ctx context.Context, f api.PruneFilter) (api.PruneResponse, error)

	ListImages(ctx context.Context) ([]api.Image, error)
	InspectImage(ctx context.Context, ref string) (api.Image, error)
	PullImage(ctx context.Context, ref, platform string, auth api.AuthConfig, progress func(api.Progress)) error
	PushImage(ctx context.Context, ref string, auth api.AuthConfig, progress func(api.Progress)) error
	TagImage(ctx context.Context, src, ref string) error
	RemoveImage(ctx context.Context, ref string, force bool) ([]api.ImageDeleteItem, error)
	ImageHistory(ctx context.Context, ref string) ([]api.HistoryItem, error)
	PruneImages(ctx context.Context, all bool, f api.PruneFilter) (api.ImagePruneReport, error)
	SaveImages(ctx context.Context, refs []string, w io.Writer) error
	LoadImages(ctx context.Context, r io.Reader) ([]api.Image, error)
	// CommitContainer makes an image of a container's changes (docker commit).
	CommitContainer(ctx context.Context, ref string, req api.CommitRequest) (api.Image, error)
	// ContainerChanges lists what a container changed in its root filesystem.
	ContainerChanges(ctx context.Context, ref string) ([]api.Change, error)
	// ImportImage makes an image of one layer from a root filesystem tarball.
	ImportImage(ctx context.Context, r io.Reader, ref string, changes []string, message string) (api.Image, error)
	// Login checks credentials against a registry.
	Login(ctx context.Context, auth api.AuthConfig) error

	ListNetworks(ctx context.Context) ([]api.Network, error)
	InspectNetwork(ctx context.Context, ref string) (api.Network, error)
	CreateNetwork(ctx context.Context, req api.NetworkCreate) (api.Network, error)
	RemoveNetwork(ctx context.Context, ref string) error
	ConnectNetwork(ctx context.Context, network, container string, ep api.EndpointConfig) error
	DisconnectNetwork(ctx context.Context, network, container string) error
	PruneNetworks(ctx context.Context, f api.PruneFilter) ([]string, error)

	ListVolumes(ctx context.Context) ([]api.Volume, error)
	InspectVolume(ctx context.Context, name string) (api.Volume, error)
	CreateVolume(ctx context.Context, req api.VolumeCreate) (api.Volume, error)
	RemoveVolume(ctx context.Context, name string, force bool) error
	PruneVolumes(ctx context.Context, all bool) (api.PruneResponse, error)

	DiskUsage(ctx context.Context) (api.DiskUsage, error)

	// Events returns the recent events (oldest first) and a channel of the ones that
	// follow, until cancel. A subscriber too slow to keep up loses events, not the engine.
	Events(ctx context.Context) (past []Event, live <-chan Event, cancel func())
}

// Event is one thing that happened in the engine, as GET /events reports it.
type Event = api.Event

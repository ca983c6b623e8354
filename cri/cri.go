// Package cri serves the Kubernetes Container Runtime Interface (CRI v1) over gRPC on top
// of drover's engine, so a kubelet (or crictl) can use drover as its node runtime. It is a
// front door like the Docker API: it keeps no container state of its own and calls the
// engine's exported operations through the Engine interface, which the daemon implements.
//
// Built so far: the runtime's Version and Status, pod sandboxes (a sandbox is a drover
// pod), the containers' lifecycle, their logs in the CRI format, ExecSync and the
// streamed Exec, Attach and PortForward (streaming.go), stats, metrics, events and
// resource updates, and the whole image service.
package cri

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// Engine is what the CRI front door needs of drover's engine.
type Engine interface {
	Info(ctx context.Context) api.Info
	ListImages(ctx context.Context) ([]api.Image, error)
	InspectImage(ctx context.Context, ref string) (api.Image, error)
	PullImage(ctx context.Context, ref, platform string, auth api.AuthConfig, progress func(api.Progress)) error
	RemoveImage(ctx context.Context, ref string, force bool) ([]api.ImageDeleteItem, error)
	// ImageFilesystem reports where images are stored and what they use there.
	ImageFilesystem(ctx context.Context) (mountpoint string, usedBytes, inodes uint64, err error)

	CreatePod(ctx context.Context, req api.PodCreate) (api.Pod, error)
	InspectPod(ctx context.Context, ref string) (api.Pod, error)
	ListPods(ctx context.Context) []api.Pod
	StopPod(ctx context.Context, ref string, timeout *time.Duration) error
	RemovePod(ctx context.Context, ref string, force bool) error
	// CNINetwork names the CNI network sandboxes join ("" for drover's own bridge); an
	// error says a CNI configuration is there but unusable.
	CNINetwork(ctx context.Context) (string, error)
	InspectContainer(ctx context.Context, ref string) (api.Container, error)
	ListContainers(ctx context.Context) ([]api.Container, error)
	CreateContainer(ctx context.Context, cfg api.ContainerConfig) (string, error)
	StartContainer(ctx context.Context, ref string) (bool, error)
	StopContainer(ctx context.Context, ref string, timeout *time.Duration, signal string) error
	RemoveContainer(ctx context.Context, ref string, force, volumes bool) error

	// SampleContainer reads a container's resource use now (zeros when it is not running).
	SampleContainer(ctx context.Context, ref string) (Sample, error)
	// PodInterfaces reads the traffic counters of a pod's network interfaces.
	PodInterfaces(ctx context.Context, ref string) ([]Interface, error)
	// UpdateContainerResources changes a container's limits, running or not, for good.
	UpdateContainerResources(ctx context.Context, ref string, u api.ResourceUpdate) error
	// Events returns the engine's recent events and a channel of those that follow, until
	// cancel. A subscriber that falls behind loses events; the engine never waits for it.
	Events(ctx context.Context) (past []api.Event, live <-chan api.Event, cancel func())
	// ReopenContainerLog makes the container's log writer open its file afresh.
	ReopenContainerLog(ctx context.Context, ref string) error
	// Exec starts a process in a running container; its stream is in drover's framed
	// format (internal/stream) and ends with an Exit frame. The stream has a Kill()
	// error method that ends the process (ExecSync's timeout).
	Exec(ctx context.Context, ref string, cfg api.ExecConfig) (io.ReadWriteCloser, error)
	// AttachContainer joins a running container's stdio, in the same format.
	AttachContainer(ctx context.Context, ref string, stdin bool) (io.ReadWriteCloser, error)
	ResizeContainer(ctx context.Context, ref string, width, height uint16) error
	// DialPod connects to port on the loopback of a pod's network namespace.
	DialPod(ctx context.Context, ref string, port int) (net.Conn, error)
}

// APIVersion is the CRI version served.
const APIVersion = "v1"

// Server implements the CRI runtime and image services.
type Server struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer
	engine Engine
	// cpu keeps each container's and sandbox's last CPU reading, for usage_nano_cores.
	cpu, podCPU cpuRates
	stream      streaming.Server // nil until ServeStreaming
}

// New returns a CRI server over engine.
func New(engine Engine) *Server { return &Server{engine: engine} }

// Register adds both CRI services to g.
func (s *Server) Register(g *grpc.Server) {
	runtimeapi.RegisterRuntimeServiceServer(g, s)
	runtimeapi.RegisterImageServiceServer(g, s)
}

// Version names the runtime and the CRI version it speaks.
func (s *Server) Version(ctx context.Context, _ *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       "drover",
		RuntimeVersion:    s.engine.Info(ctx).Version,
		RuntimeApiVersion: APIVersion,
	}, nil
}

// Status reports the runtime and its networking ready: the engine answers, and it has
// its own bridge networking or a usable CNI configuration.
func (s *Server) Status(ctx context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	resp := &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true},
		s.networkCondition(ctx),
	}}}
	// The runtime's features, and those of its one handler (the default, ""): recursive
	// read-only mounts (mount_setattr, Linux 5.12) but no user namespaces yet.
	resp.Features = &runtimeapi.RuntimeFeatures{MountOptions: true, SupplementalGroupsPolicy: true}
	resp.RuntimeHandlers = []*runtimeapi.RuntimeHandler{{Name: "", Features: &runtimeapi.RuntimeHandlerFeatures{RecursiveReadOnlyMounts: true}}}
	if req.GetVerbose() {
		info := s.engine.Info(ctx)
		resp.Info = map[string]string{"version": info.Version, "root": info.Root, "cgroupVersion": info.CgroupVersion}
	}
	return resp, nil
}

// toStatus maps an engine error to the gRPC code containerd and CRI-O answer with.
func toStatus(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...) + ": " + err.Error()
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return status.Error(codes.NotFound, msg)
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return status.Error(codes.InvalidArgument, msg)
	case errors.Is(err, errdefs.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, msg)
	case errors.Is(err, errdefs.ErrConflict):
		return status.Error(codes.FailedPrecondition, msg)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msg)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msg)
	}
	return status.Error(codes.Unknown, msg)
}

// imageRef is the reference an ImageSpec names; empty is refused.
func imageRef(spec *runtimeapi.ImageSpec) (string, error) {
	ref := strings.TrimSpace(spec.GetImage())
	if ref == "" {
		return "", status.Error(codes.InvalidArgument, "image spec names no image: give a reference such as busybox:latest or an image ID")
	}
	return ref, nil
}

// RuntimeConfig tells the kubelet drover's cgroup driver: cgroupfs (drover writes the
// cgroup files itself; it does not ask systemd for scopes).
func (s *Server) RuntimeConfig(ctx context.Context, _ *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS}}, nil
}

// UpdateRuntimeConfig takes the pod CIDR the kubelet hands out; drover's own bridge
// picks its subnet itself and a CNI configuration brings its own, so there is nothing
// to change.
func (s *Server) UpdateRuntimeConfig(ctx context.Context, _ *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}

// Package cri serves the Kubernetes Container Runtime Interface (CRI v1) over gRPC on top
// of drover's engine, so a kubelet (or crictl) can use drover as its node runtime. It is a
// front door like the Docker API: it keeps no container state of its own and calls the
// engine's exported operations through the Engine interface, which the daemon implements.
//
// Built so far: the runtime's Version and Status, pod sandboxes (a sandbox is a drover
// pod), the containers' lifecycle, the whole image service, ExecSync and the streamed
// Exec, Attach and PortForward (streaming.go). Logs in the CRI format, stats and events
// come next (issue 11); until then their methods answer codes.Unimplemented.
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
	InspectContainer(ctx context.Context, ref string) (api.Container, error)
	ListContainers(ctx context.Context) ([]api.Container, error)
	CreateContainer(ctx context.Context, cfg api.ContainerConfig) (string, error)
	StartContainer(ctx context.Context, ref string) (bool, error)
	StopContainer(ctx context.Context, ref string, timeout *time.Duration, signal string) error
	RemoveContainer(ctx context.Context, ref string, force, volumes bool) error

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
	stream streaming.Server // nil until ServeStreaming
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
// its own bridge networking.
func (s *Server) Status(ctx context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	resp := &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true},
		{Type: runtimeapi.NetworkReady, Status: true},
	}}}
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

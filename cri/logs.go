package cri

import (
	"context"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/jsonlog"
)

// Container logs in the CRI format. The kubelet names a directory per sandbox
// (log_directory) and a file in it per container (log_path, "NAME/RESTARTS.log"); drover's
// shim writes the container's output there in the CRI format (drover's k8s-file log
// driver), and the kubelet and crictl read the file themselves. The kubelet rotates the
// file by renaming it and then calls ReopenContainerLog.

// labelLogDirectory keeps a sandbox's log_directory in its pod's labels.
const labelLogDirectory = "io.drover.cri.log-directory"

// keepLogDirectory records the sandbox's log_directory, if any, in its pod's labels.
func keepLogDirectory(labels map[string]string, cfg *runtimeapi.PodSandboxConfig) error {
	dir := cfg.GetLogDirectory()
	if dir == "" {
		return nil
	}
	if !filepath.IsAbs(dir) {
		return status.Errorf(codes.InvalidArgument, "sandbox log_directory %q is not an absolute path: give one such as /var/log/pods/NAMESPACE_NAME_UID", dir)
	}
	labels[labelLogDirectory] = filepath.Clean(dir)
	return nil
}

// logConfig puts a container's log in the CRI format at the sandbox's log_directory
// joined with the container's log_path. Without a log_path the container keeps drover's
// own json-file log, which the kubelet does not read.
func logConfig(pod api.Pod, cfg *runtimeapi.ContainerConfig) (api.LogConfig, error) {
	rel := cfg.GetLogPath()
	if rel == "" {
		return api.LogConfig{}, nil
	}
	dir := pod.Labels[labelLogDirectory]
	if dir == "" {
		return api.LogConfig{}, status.Errorf(codes.InvalidArgument, "container log_path %q needs the sandbox's log_directory: run the sandbox with one, or leave log_path out", rel)
	}
	if !filepath.IsLocal(rel) {
		return api.LogConfig{}, status.Errorf(codes.InvalidArgument, "container log_path %q must be a relative path inside the sandbox's log_directory, such as NAME/0.log", rel)
	}
	return api.LogConfig{Type: jsonlog.FormatCRI, Config: map[string]string{"path": filepath.Join(dir, rel)}}, nil
}

// criLogPath is where the kubelet finds a container's log: "" unless it is in the CRI
// format.
func criLogPath(c api.Container) string {
	if c.Config.Host.LogConfig.Type != jsonlog.FormatCRI {
		return ""
	}
	return c.LogPath
}

// ReopenContainerLog has a running container write its log to a new file at its path,
// after the kubelet renamed the old one away to rotate it.
func (s *Server) ReopenContainerLog(ctx context.Context, req *runtimeapi.ReopenContainerLogRequest) (*runtimeapi.ReopenContainerLogResponse, error) {
	c, err := s.criContainer(ctx, req.GetContainerId())
	if err != nil {
		return nil, toStatus(err, "reopen log of container %s", req.GetContainerId())
	}
	if criLogPath(c) == "" {
		return nil, status.Errorf(codes.FailedPrecondition, "reopen log of container %s: it has no CRI log, as it was created without log_path", c.ID)
	}
	if err := s.engine.ReopenContainerLog(ctx, c.ID); err != nil {
		return nil, toStatus(err, "reopen log of container %s", c.ID)
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}

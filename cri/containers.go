package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

// A CRI container is a drover container in its sandbox's pod; its CRI metadata rides in
// its labels, as a sandbox's does.
const labelSandbox = "io.drover.cri.sandbox"

// CreateContainer creates a container in a sandbox's pod: the image, command and args
// (the image's entrypoint and cmd otherwise), env, working dir, labels, annotations, host
// path mounts, a terminal. What drover cannot give yet is refused by name.
func (s *Server) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	cfg := req.GetConfig()
	md := cfg.GetMetadata()
	if md.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "container metadata needs a name")
	}
	pod, err := s.criPod(ctx, req.GetPodSandboxId())
	if err != nil {
		return nil, toStatus(err, "create container %s in sandbox %s", md.GetName(), req.GetPodSandboxId())
	}
	ref, err := imageRef(cfg.GetImage())
	if err != nil {
		return nil, err
	}
	if err := unsupportedContainer(cfg); err != nil {
		return nil, err
	}
	labels := map[string]string{labelName: md.GetName(), labelAttempt: strconv.FormatUint(uint64(md.GetAttempt()), 10), labelSandbox: pod.ID}
	for k, v := range cfg.GetLabels() {
		labels[k] = v
	}
	for k, v := range cfg.GetAnnotations() {
		labels[annotationLabel+k] = v
	}
	cc := api.ContainerConfig{
		Name:       fmt.Sprintf("k8s_%s_%s_%d", md.GetName(), pod.Name, md.GetAttempt()),
		Image:      ref,
		Entrypoint: cfg.GetCommand(),
		Cmd:        cfg.GetArgs(),
		WorkingDir: cfg.GetWorkingDir(),
		Labels:     labels,
		Tty:        cfg.GetTty(),
		OpenStdin:  cfg.GetStdin(),
		StdinOnce:  cfg.GetStdinOnce(),
		Host:       api.HostConfig{Pod: pod.ID},
	}
	if len(cc.Entrypoint) == 0 {
		cc.Entrypoint = nil
	}
	if len(cc.Cmd) == 0 {
		cc.Cmd = nil
	}
	for _, kv := range cfg.GetEnvs() {
		cc.Env = append(cc.Env, kv.GetKey()+"="+string(kv.GetValue()))
	}
	for _, m := range cfg.GetMounts() {
		if img := m.GetImage(); img != nil {
			if !m.GetReadonly() {
				return nil, status.Errorf(codes.InvalidArgument, "image volume at %s must be read-only: set readonly", m.GetContainerPath())
			}
			cc.Host.Mounts = append(cc.Host.Mounts, api.Mount{Type: "image", Source: img.GetImage(), Target: m.GetContainerPath(), ReadOnly: true, SubPath: m.GetImageSubPath()})
			continue
		}
		if m.GetHostPath() == "" || m.GetContainerPath() == "" {
			return nil, status.Error(codes.InvalidArgument, "a mount needs host_path and container_path")
		}
		mode := []string{"rw"}
		if m.GetReadonly() {
			mode[0] = "ro"
		}
		if m.GetRecursiveReadOnly() {
			// As the CRI defines it: read-only all the way down, which only a read-only,
			// private mount can be.
			if !m.GetReadonly() {
				return nil, status.Errorf(codes.InvalidArgument, "mount %s: recursive_read_only needs readonly", m.GetContainerPath())
			}
			if m.GetPropagation() != runtimeapi.MountPropagation_PROPAGATION_PRIVATE {
				return nil, status.Errorf(codes.InvalidArgument, "mount %s: recursive_read_only needs private propagation, not %s", m.GetContainerPath(), m.GetPropagation())
			}
			mode[0] = "rro"
		}
		switch m.GetPropagation() {
		case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
			mode = append(mode, "rslave")
		case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
			mode = append(mode, "rshared")
		}
		for _, o := range m.GetMountOptions() {
			switch o {
			case "nosuid", "suid", "nodev", "dev", "noexec", "exec":
				mode = append(mode, o)
			default:
				return nil, status.Errorf(codes.InvalidArgument, "mount %s: option %q is not supported: use nosuid, nodev or noexec", m.GetContainerPath(), o)
			}
		}
		cc.Host.Binds = append(cc.Host.Binds, m.GetHostPath()+":"+m.GetContainerPath()+":"+strings.Join(mode, ","))
	}
	if err := applySecurityContext(&cc, cfg.GetLinux().GetSecurityContext(), pod); err != nil {
		return nil, err
	}
	if r := cfg.GetLinux().GetResources(); r != nil {
		if err := unsupportedResources(r); err != nil {
			return nil, err
		}
		cc.Host.Memory, cc.Host.MemorySwap = r.GetMemoryLimitInBytes(), r.GetMemorySwapLimitInBytes()
		cc.Host.CPUShares = r.GetCpuShares()
		if q, p := r.GetCpuQuota(), r.GetCpuPeriod(); q > 0 && p > 0 {
			cc.Host.NanoCPUs = q * 1e9 / p
		}
		cc.Host.CpusetCpus, cc.Host.CpusetMems = r.GetCpusetCpus(), r.GetCpusetMems()
		cc.Host.OomScoreAdj = int(r.GetOomScoreAdj())
	}
	if cc.Host.LogConfig, err = logConfig(pod, cfg); err != nil {
		return nil, err
	}
	id, err := s.engine.CreateContainer(ctx, cc)
	if err != nil {
		return nil, toStatus(err, "create container %s in sandbox %s", md.GetName(), pod.ID)
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

// unsupportedContainer names the first container option drover does not implement yet.
func unsupportedContainer(cfg *runtimeapi.ContainerConfig) error {
	refuse := func(what string) error {
		return status.Errorf(codes.InvalidArgument, "container option %s is not supported by drover yet: leave it out", what)
	}
	switch {
	case len(cfg.GetDevices()) > 0:
		return refuse("devices")
	case len(cfg.GetCDIDevices()) > 0:
		return refuse("cdi_devices")
	}
	for _, m := range cfg.GetMounts() {
		switch {
		case len(m.GetUidMappings()) > 0 || len(m.GetGidMappings()) > 0:
			return refuse("ID-mapped mounts on " + m.GetContainerPath())
		case m.GetSelinuxRelabel() && selinuxEnabled():
			return refuse("SELinux relabel on " + m.GetContainerPath())
		}
	}
	return nil
}

// criContainer finds a container made through the CRI.
func (s *Server) criContainer(ctx context.Context, id string) (api.Container, error) {
	if id == "" {
		return api.Container{}, status.Error(codes.InvalidArgument, "no container id given")
	}
	c, err := s.engine.InspectContainer(ctx, id)
	if err == nil && c.Config.Labels[labelSandbox] == "" {
		err = fmt.Errorf("container %s was not made through the CRI: %w", id, errdefs.ErrNotFound)
	}
	return c, err
}

// StartContainer starts a created container.
func (s *Server) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	c, err := s.criContainer(ctx, req.GetContainerId())
	if err != nil {
		return nil, toStatus(err, "start container %s", req.GetContainerId())
	}
	if _, err := s.engine.StartContainer(ctx, c.ID); err != nil {
		return nil, toStatus(err, "start container %s", c.ID)
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

// StopContainer stops a container within the timeout (seconds; then SIGKILL). Stopping a
// stopped container is not an error.
func (s *Server) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	c, err := s.criContainer(ctx, req.GetContainerId())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.StopContainerResponse{}, nil // stopping is idempotent, as the kubelet expects
	}
	if err != nil {
		return nil, toStatus(err, "stop container %s", req.GetContainerId())
	}
	timeout := time.Duration(req.GetTimeout()) * time.Second
	if err := s.engine.StopContainer(ctx, c.ID, &timeout, ""); err != nil && !errors.Is(err, errdefs.ErrConflict) {
		return nil, toStatus(err, "stop container %s", c.ID)
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

// RemoveContainer removes a container, running or not; one already gone is removed.
func (s *Server) RemoveContainer(ctx context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	c, err := s.criContainer(ctx, req.GetContainerId())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.RemoveContainerResponse{}, nil
	}
	if err != nil {
		return nil, toStatus(err, "remove container %s", req.GetContainerId())
	}
	if err := s.engine.RemoveContainer(ctx, c.ID, true, false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return nil, toStatus(err, "remove container %s", c.ID)
	}
	return &runtimeapi.RemoveContainerResponse{}, nil
}

// ContainerStatus reports a container's state, times, exit code, image and metadata.
func (s *Server) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	c, err := s.criContainer(ctx, req.GetContainerId())
	if err != nil {
		return nil, toStatus(err, "container status %s", req.GetContainerId())
	}
	st := &runtimeapi.ContainerStatus{
		Id:          c.ID,
		Metadata:    containerMetadata(c),
		State:       containerState(c),
		CreatedAt:   c.Created.UnixNano(),
		Image:       &runtimeapi.ImageSpec{Image: c.ImageName},
		ImageRef:    c.Image,
		ImageId:     c.Image,
		Labels:      kubeLabels(api.Pod{Labels: c.Config.Labels}),
		Annotations: annotations(api.Pod{Labels: c.Config.Labels}),
		LogPath:     criLogPath(c),
	}
	if !c.State.StartedAt.IsZero() {
		st.StartedAt = c.State.StartedAt.UnixNano()
	}
	if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
		st.FinishedAt = c.State.FinishedAt.UnixNano()
		st.ExitCode = int32(c.State.ExitCode)
		st.Reason = "Completed"
		if c.State.ExitCode != 0 {
			st.Reason = "Error"
		}
		if c.State.OOMKilled {
			st.Reason = "OOMKilled"
		}
		st.Message = c.State.Error
	}
	st.Mounts = bindMounts(c.Config.Host.Binds)
	for _, m := range c.Config.Host.Mounts {
		if m.Type == "image" {
			st.Mounts = append(st.Mounts, &runtimeapi.Mount{ContainerPath: m.Target, Readonly: true, ImageSubPath: m.SubPath,
				Image: &runtimeapi.ImageSpec{Image: m.Source, ImageRef: m.Source}})
		}
	}
	if c.State.Running {
		st.User = processUser(c.State.Pid)
	}
	return &runtimeapi.ContainerStatusResponse{Status: st}, nil
}

// ListContainers lists the CRI's containers, oldest first, filtered by id, sandbox,
// state and labels.
func (s *Server) ListContainers(ctx context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	list, err := s.engine.ListContainers(ctx)
	if err != nil {
		return nil, toStatus(err, "list containers")
	}
	f := req.GetFilter()
	out := &runtimeapi.ListContainersResponse{}
	for _, c := range list {
		sandbox := c.Config.Labels[labelSandbox]
		if sandbox == "" {
			continue
		}
		ct := &runtimeapi.Container{Id: c.ID, PodSandboxId: sandbox, Metadata: containerMetadata(c),
			Image: &runtimeapi.ImageSpec{Image: c.ImageName}, ImageRef: c.Image, ImageId: c.Image, State: containerState(c),
			CreatedAt: c.Created.UnixNano(), Labels: kubeLabels(api.Pod{Labels: c.Config.Labels}),
			Annotations: annotations(api.Pod{Labels: c.Config.Labels})}
		switch {
		case f.GetId() != "" && !strings.HasPrefix(c.ID, f.GetId()),
			f.GetPodSandboxId() != "" && !strings.HasPrefix(sandbox, f.GetPodSandboxId()),
			f.GetState() != nil && f.GetState().GetState() != ct.State,
			!matchLabels(ct.Labels, f.GetLabelSelector()):
			continue
		}
		out.Containers = append(out.Containers, ct)
	}
	sort.SliceStable(out.Containers, func(i, j int) bool { return out.Containers[i].CreatedAt < out.Containers[j].CreatedAt })
	return out, nil
}

func containerState(c api.Container) runtimeapi.ContainerState {
	switch {
	case c.State.Running:
		return runtimeapi.ContainerState_CONTAINER_RUNNING
	case !c.State.StartedAt.IsZero() || c.State.Status == "exited" || c.State.Status == "dead":
		return runtimeapi.ContainerState_CONTAINER_EXITED
	case c.State.Status == "created":
		return runtimeapi.ContainerState_CONTAINER_CREATED
	}
	return runtimeapi.ContainerState_CONTAINER_UNKNOWN
}

func containerMetadata(c api.Container) *runtimeapi.ContainerMetadata {
	attempt, _ := strconv.ParseUint(c.Config.Labels[labelAttempt], 10, 32)
	return &runtimeapi.ContainerMetadata{Name: c.Config.Labels[labelName], Attempt: uint32(attempt)}
}

// applySecurityContext maps the container's security context onto its configuration:
// user and groups, namespaces, privileges, capabilities, seccomp, no_new_privs, masked
// and read-only paths.
func applySecurityContext(cc *api.ContainerConfig, sc *runtimeapi.LinuxContainerSecurityContext, pod api.Pod) error {
	cc.Host.GroupsPolicy = "merge"
	if sc == nil {
		return nil
	}
	switch {
	case sc.GetRunAsUser() != nil:
		cc.User = strconv.FormatInt(sc.GetRunAsUser().GetValue(), 10)
	case sc.GetRunAsUsername() != "":
		cc.User = sc.GetRunAsUsername()
	case sc.GetRunAsGroup() != nil:
		return status.Error(codes.InvalidArgument, "run_as_group needs run_as_user or run_as_username: give the user too")
	}
	if gid := sc.GetRunAsGroup(); gid != nil {
		cc.User += ":" + strconv.FormatInt(gid.GetValue(), 10)
	}
	if sc.GetSupplementalGroupsPolicy() == runtimeapi.SupplementalGroupsPolicy_Strict {
		cc.Host.GroupsPolicy = "strict"
	}
	for _, g := range sc.GetSupplementalGroups() {
		cc.Host.GroupAdd = append(cc.Host.GroupAdd, strconv.FormatInt(g, 10))
	}
	switch ns := sc.GetNamespaceOptions(); ns.GetPid() {
	case runtimeapi.NamespaceMode_NODE:
		cc.Host.PidMode = "host"
	case runtimeapi.NamespaceMode_POD:
		cc.Host.PidMode = "container:" + pod.InfraID
	case runtimeapi.NamespaceMode_TARGET:
		if ns.GetTargetId() == "" {
			return status.Error(codes.InvalidArgument, "PID namespace mode TARGET needs target_id: the container whose namespace to share")
		}
		cc.Host.PidMode = "container:" + ns.GetTargetId()
	}
	if sc.GetNamespaceOptions().GetIpc() == runtimeapi.NamespaceMode_NODE {
		cc.Host.IpcMode = "host"
	}
	cc.Host.ReadonlyRootfs = sc.GetReadonlyRootfs()
	cc.Host.Privileged = sc.GetPrivileged()
	cc.Host.CapAdd = sc.GetCapabilities().GetAddCapabilities()
	cc.Host.CapDrop = sc.GetCapabilities().GetDropCapabilities()
	// The CRI's default is no seccomp filter (the kubelet asks for RuntimeDefault), and a
	// privileged container has none whatever it asks for.
	switch p := sc.GetSeccomp(); {
	case p == nil || sc.GetPrivileged():
		cc.Host.SecurityOpt = append(cc.Host.SecurityOpt, "seccomp=unconfined")
	case p.GetProfileType() == runtimeapi.SecurityProfile_RuntimeDefault:
	case p.GetProfileType() == runtimeapi.SecurityProfile_Localhost:
		if !strings.HasPrefix(p.GetLocalhostRef(), "/") {
			return status.Errorf(codes.InvalidArgument, "localhost seccomp profile %q must be an absolute path on the node", p.GetLocalhostRef())
		}
		cc.Host.SecurityOpt = append(cc.Host.SecurityOpt, "seccomp="+p.GetLocalhostRef())
	default:
		cc.Host.SecurityOpt = append(cc.Host.SecurityOpt, "seccomp=unconfined")
	}
	if sc.GetNoNewPrivs() {
		cc.Host.SecurityOpt = append(cc.Host.SecurityOpt, "no-new-privileges=true")
	}
	if !sc.GetPrivileged() {
		if len(sc.GetMaskedPaths()) > 0 {
			cc.Host.MaskedPaths = sc.GetMaskedPaths()
		}
		if len(sc.GetReadonlyPaths()) > 0 {
			cc.Host.ReadonlyPaths = sc.GetReadonlyPaths()
		}
	}
	return nil
}

// selinuxEnabled reports whether the host runs SELinux; without it a relabel request has
// nothing to do, and is accepted as containerd and CRI-O accept it.
func selinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}

// bindMounts are the CRI mounts of a container's binds ("src:dst:mode", as CreateContainer
// writes them), known from its creation on.
func bindMounts(binds []string) []*runtimeapi.Mount {
	var out []*runtimeapi.Mount
	for _, b := range binds {
		parts := strings.SplitN(b, ":", 3)
		if len(parts) < 2 {
			continue
		}
		m := &runtimeapi.Mount{HostPath: parts[0], ContainerPath: parts[1]}
		if len(parts) == 3 {
			for _, opt := range strings.Split(parts[2], ",") {
				switch opt {
				case "ro":
					m.Readonly = true
				case "rro":
					m.Readonly, m.RecursiveReadOnly = true, true
				case "rslave":
					m.Propagation = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
				case "rshared":
					m.Propagation = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
				}
			}
		}
		out = append(out, m)
	}
	return out
}

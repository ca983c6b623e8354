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

// A sandbox is a drover pod. Its CRI metadata and annotations ride in the pod's labels
// under these keys (the kubelet's own labels stay as they are).
const (
	labelName      = "io.drover.cri.name"
	labelNamespace = "io.drover.cri.namespace"
	labelUID       = "io.drover.cri.uid"
	labelAttempt   = "io.drover.cri.attempt"
	// labelNamespaces keeps the sandbox's namespace modes: "network,pid,ipc" as numbers.
	labelNamespaces = "io.drover.cri.namespaces"
	annotationLabel = "io.drover.cri.annotation/"
)

// RunPodSandbox creates and starts a pod for the sandbox: its infra container holds the
// network (with the port mappings), IPC and UTS namespaces. What drover cannot give yet
// is refused by name, never ignored.
func (s *Server) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	cfg := req.GetConfig()
	md := cfg.GetMetadata()
	if md.GetName() == "" || md.GetNamespace() == "" || md.GetUid() == "" {
		return nil, status.Error(codes.InvalidArgument, "sandbox metadata needs name, namespace and uid")
	}
	if err := unsupportedSandbox(req); err != nil {
		return nil, err
	}
	labels := map[string]string{labelName: md.GetName(), labelNamespace: md.GetNamespace(), labelUID: md.GetUid(),
		labelAttempt: strconv.FormatUint(uint64(md.GetAttempt()), 10)}
	for k, v := range cfg.GetLabels() {
		labels[k] = v
	}
	for k, v := range cfg.GetAnnotations() {
		labels[annotationLabel+k] = v
	}
	if err := keepLogDirectory(labels, cfg); err != nil {
		return nil, err
	}
	pc := api.PodCreate{
		Name:         fmt.Sprintf("k8s_%s_%s_%s_%d", md.GetName(), md.GetNamespace(), md.GetUid(), md.GetAttempt()),
		Hostname:     cfg.GetHostname(),
		Labels:       labels,
		DNS:          cfg.GetDnsConfig().GetServers(),
		DNSSearch:    cfg.GetDnsConfig().GetSearches(),
		DNSOptions:   cfg.GetDnsConfig().GetOptions(),
		Sysctls:      cfg.GetLinux().GetSysctls(),
		CgroupParent: cfg.GetLinux().GetCgroupParent(),
	}
	if pc.Hostname == "" {
		// As the kubelet's other runtimes: a sandbox without a hostname has the node's.
		pc.Hostname, _ = os.Hostname()
	}
	ns := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	if ns.GetNetwork() == runtimeapi.NamespaceMode_NODE {
		pc.Network = "host"
	} else if err := s.cniNetwork(ctx, md, &pc); err != nil {
		return nil, toStatus(err, "run pod sandbox %s/%s", md.GetNamespace(), md.GetName())
	}
	switch ns.GetPid() {
	case runtimeapi.NamespaceMode_NODE:
		pc.PidMode = "host"
	case runtimeapi.NamespaceMode_POD: // the CRI's default; the kubelet sends CONTAINER unless shareProcessNamespace
		pc.SharePID = true
	}
	if ns.GetIpc() == runtimeapi.NamespaceMode_NODE {
		pc.IpcMode = "host"
	}
	labels[labelNamespaces] = fmt.Sprintf("%d,%d,%d", ns.GetNetwork(), ns.GetPid(), ns.GetIpc())
	for _, pm := range cfg.GetPortMappings() {
		if pm.GetContainerPort() <= 0 || pm.GetContainerPort() > 65535 || pm.GetHostPort() < 0 || pm.GetHostPort() > 65535 {
			return nil, status.Errorf(codes.InvalidArgument, "port mapping %d:%d is outside 1-65535", pm.GetHostPort(), pm.GetContainerPort())
		}
		if pm.GetHostPort() == 0 {
			continue // a container port listed without a host port: nothing to map, as containerd does
		}
		proto := strings.ToLower(pm.GetProtocol().String())
		if proto == "sctp" {
			return nil, status.Error(codes.InvalidArgument, "SCTP port mappings are not supported: use TCP or UDP")
		}
		pc.PortBindings = append(pc.PortBindings, api.PortBinding{HostIP: pm.GetHostIp(), HostPort: uint16(pm.GetHostPort()),
			ContainerPort: uint16(pm.GetContainerPort()), Proto: proto})
	}
	pod, err := s.engine.CreatePod(ctx, pc)
	if err != nil {
		return nil, toStatus(err, "run pod sandbox %s/%s", md.GetNamespace(), md.GetName())
	}
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: pod.ID}, nil
}

// unsupportedSandbox names the first sandbox option drover does not implement yet.
func unsupportedSandbox(req *runtimeapi.RunPodSandboxRequest) error {
	cfg := req.GetConfig()
	ns := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions()
	refuse := func(what string) error {
		return status.Errorf(codes.InvalidArgument, "sandbox option %s is not supported by drover yet: leave it out", what)
	}
	switch {
	case req.GetRuntimeHandler() != "":
		return refuse("runtime_handler " + req.GetRuntimeHandler())
	case ns.GetUsernsOptions() != nil && ns.GetUsernsOptions().GetMode() == runtimeapi.NamespaceMode_POD:
		return refuse("a user namespace per pod")
	case ns.GetPid() == runtimeapi.NamespaceMode_TARGET:
		return refuse("a target PID namespace for the sandbox")
	}
	return nil
}

// criPod finds a sandbox: a pod drover created for the CRI.
func (s *Server) criPod(ctx context.Context, id string) (api.Pod, error) {
	if id == "" {
		return api.Pod{}, status.Error(codes.InvalidArgument, "no pod sandbox id given")
	}
	pod, err := s.engine.InspectPod(ctx, id)
	if err == nil && pod.Labels[labelName] == "" {
		err = fmt.Errorf("pod %s was not made through the CRI: %w", id, errdefs.ErrNotFound)
	}
	return pod, err
}

// StopPodSandbox stops every container of the sandbox and its infra container.
func (s *Server) StopPodSandbox(ctx context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	pod, err := s.criPod(ctx, req.GetPodSandboxId())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.StopPodSandboxResponse{}, nil // stopping is idempotent, as the kubelet expects
	}
	if err != nil {
		return nil, toStatus(err, "stop pod sandbox %s", req.GetPodSandboxId())
	}
	// The CRI's stop of a sandbox kills what still runs in it: the kubelet has stopped
	// each container with its grace period before.
	kill := time.Duration(0)
	if err := s.engine.StopPod(ctx, pod.ID, &kill); err != nil {
		return nil, toStatus(err, "stop pod sandbox %s", pod.ID)
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

// RemovePodSandbox removes the sandbox and its containers; one already gone is removed.
func (s *Server) RemovePodSandbox(ctx context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	pod, err := s.criPod(ctx, req.GetPodSandboxId())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.RemovePodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, toStatus(err, "remove pod sandbox %s", req.GetPodSandboxId())
	}
	if err := s.engine.RemovePod(ctx, pod.ID, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return nil, toStatus(err, "remove pod sandbox %s", pod.ID)
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

// PodSandboxStatus reports the sandbox's state, metadata and IP.
func (s *Server) PodSandboxStatus(ctx context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	pod, err := s.criPod(ctx, req.GetPodSandboxId())
	if err != nil {
		return nil, toStatus(err, "pod sandbox status %s", req.GetPodSandboxId())
	}
	st := &runtimeapi.PodSandboxStatus{
		Id:          pod.ID,
		Metadata:    sandboxMetadata(pod),
		State:       sandboxState(pod),
		CreatedAt:   pod.Created.UnixNano(),
		Labels:      kubeLabels(pod),
		Annotations: annotations(pod),
		Network:     &runtimeapi.PodSandboxNetworkStatus{},
		Linux:       &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: sandboxNamespaces(pod)}},
	}
	if infra, err := s.engine.InspectContainer(ctx, pod.InfraID); err == nil {
		st.Network.Ip = infra.NetworkSettings.IPAddress
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: st}, nil
}

// ListPodSandbox lists the CRI's sandboxes, oldest first, filtered by id, state and labels.
func (s *Server) ListPodSandbox(ctx context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	f := req.GetFilter()
	out := &runtimeapi.ListPodSandboxResponse{}
	for _, pod := range s.engine.ListPods(ctx) {
		if pod.Labels[labelName] == "" {
			continue
		}
		sb := &runtimeapi.PodSandbox{Id: pod.ID, Metadata: sandboxMetadata(pod), State: sandboxState(pod),
			CreatedAt: pod.Created.UnixNano(), Labels: kubeLabels(pod), Annotations: annotations(pod)}
		if f.GetId() != "" && !strings.HasPrefix(pod.ID, f.GetId()) {
			continue
		}
		if f.GetState() != nil && f.GetState().GetState() != sb.State {
			continue
		}
		if !matchLabels(sb.Labels, f.GetLabelSelector()) {
			continue
		}
		out.Items = append(out.Items, sb)
	}
	sort.SliceStable(out.Items, func(i, j int) bool { return out.Items[i].CreatedAt < out.Items[j].CreatedAt })
	return out, nil
}

func sandboxState(pod api.Pod) runtimeapi.PodSandboxState {
	if pod.Status == "Running" || pod.Status == "Degraded" {
		return runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

func sandboxMetadata(pod api.Pod) *runtimeapi.PodSandboxMetadata {
	attempt, _ := strconv.ParseUint(pod.Labels[labelAttempt], 10, 32)
	return &runtimeapi.PodSandboxMetadata{Name: pod.Labels[labelName], Namespace: pod.Labels[labelNamespace],
		Uid: pod.Labels[labelUID], Attempt: uint32(attempt)}
}

// kubeLabels are the pod's labels without drover's CRI bookkeeping.
func kubeLabels(pod api.Pod) map[string]string {
	out := map[string]string{}
	for k, v := range pod.Labels {
		if !strings.HasPrefix(k, "io.drover.cri.") {
			out[k] = v
		}
	}
	return out
}

func annotations(pod api.Pod) map[string]string {
	out := map[string]string{}
	for k, v := range pod.Labels {
		if a, ok := strings.CutPrefix(k, annotationLabel); ok {
			out[a] = v
		}
	}
	return out
}

func matchLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// sandboxNamespaces are the namespace modes the sandbox was made with.
func sandboxNamespaces(pod api.Pod) *runtimeapi.NamespaceOption {
	var n, p, i int32
	if _, err := fmt.Sscanf(pod.Labels[labelNamespaces], "%d,%d,%d", &n, &p, &i); err != nil {
		n, p, i = int32(runtimeapi.NamespaceMode_POD), int32(runtimeapi.NamespaceMode_CONTAINER), int32(runtimeapi.NamespaceMode_POD)
	}
	return &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode(n), Pid: runtimeapi.NamespaceMode(p), Ipc: runtimeapi.NamespaceMode(i)}
}

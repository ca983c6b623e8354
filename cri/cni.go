package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
)

// cniNetwork puts a sandbox that is not on the host's network on the engine's CNI
// network when it has a configuration, naming the pod to the plugins as the CRI's
// runtimes do; without one the sandbox stays on drover's own bridge network.
func (s *Server) cniNetwork(ctx context.Context, md *runtimeapi.PodSandboxMetadata, pc *api.PodCreate) error {
	name, err := s.engine.CNINetwork(ctx)
	if err != nil || name == "" {
		return err
	}
	pc.Network = api.NetworkCNI
	pc.CNIArgs = map[string]string{"K8S_POD_NAMESPACE": md.GetNamespace(), "K8S_POD_NAME": md.GetName(), "K8S_POD_UID": md.GetUid()}
	return nil
}

// networkCondition is NetworkReady: drover's own bridge network is always there, so only
// a CNI configuration directory with nothing usable in it makes it false.
func (s *Server) networkCondition(ctx context.Context) *runtimeapi.RuntimeCondition {
	cond := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: true}
	if _, err := s.engine.CNINetwork(ctx); err != nil {
		cond.Status, cond.Reason, cond.Message = false, "NetworkPluginNotReady", err.Error()
	}
	return cond
}

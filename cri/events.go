package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
)

// containerEventTypes maps the engine's container actions to the CRI's events.
var containerEventTypes = map[string]runtimeapi.ContainerEventType{
	"create":  runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
	"start":   runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT,
	"die":     runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
	"destroy": runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT,
}

// GetContainerEvents streams the lifecycle of the CRI's containers as it happens (no past
// events), each with its sandbox's status and the statuses of the sandbox's containers,
// as the kubelet's evented PLEG wants. It ends when the client goes away. The engine
// never waits for a slow client: its feed drops events for a subscriber that falls
// behind, and the kubelet's periodic relist makes up for a lost one.
func (s *Server) GetContainerEvents(_ *runtimeapi.GetEventsRequest, stream runtimeapi.RuntimeService_GetContainerEventsServer) error {
	ctx := stream.Context()
	_, live, cancel := s.engine.Events(ctx)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-live:
			if !ok {
				return nil
			}
			resp := s.containerEvent(ctx, ev)
			if resp == nil {
				continue
			}
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

// containerEvent is the CRI's event for ev, or nil when ev is not about a CRI container's
// lifecycle.
func (s *Server) containerEvent(ctx context.Context, ev api.Event) *runtimeapi.ContainerEventResponse {
	typ, ok := containerEventTypes[ev.Action]
	sandbox := ev.Attributes[labelSandbox]
	if ev.Type != "container" || !ok || sandbox == "" {
		return nil
	}
	resp := &runtimeapi.ContainerEventResponse{ContainerId: ev.ID, ContainerEventType: typ, CreatedAt: ev.Time.UnixNano()}
	if ps, err := s.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandbox}); err == nil {
		resp.PodSandboxStatus = ps.GetStatus()
	}
	// The statuses are those of now: a later event may already show in them.
	list, err := s.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: sandbox}})
	if err != nil {
		return resp
	}
	for _, c := range list.GetContainers() {
		if st, err := s.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.GetId()}); err == nil {
			resp.ContainersStatuses = append(resp.ContainersStatuses, st.GetStatus())
		}
	}
	return resp
}

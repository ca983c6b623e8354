package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// cgroupValue reads a limit of a container's cgroup under e's cgroup parent: the v1 file
// of controller ctrl, or the v2 file.
func (e *env) cgroupValue(id, ctrl, v1, v2 string) string {
	p := filepath.Join("/sys/fs/cgroup", ctrl, e.cgroup, id, v1)
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		p = filepath.Join("/sys/fs/cgroup", e.cgroup, id, v2)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatalf("read cgroup file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// TestCRIStats drives the CRI's stats, metrics and UpdateContainerResources against a
// container that fills memory and its writable layer and then burns CPU under a quota.
func TestCRIStats(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "stats", Namespace: "default", Uid: "uid-s"}, Labels: map[string]string{"tier": "db"}}})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name, script string, res *runtimeapi.LinuxContainerResources) string {
		t.Helper()
		r, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
			Command: []string{"sh", "-c", script}, Labels: map[string]string{"role": name},
			Linux: &runtimeapi.LinuxContainerConfig{Resources: res}}})
		if err != nil {
			t.Fatalf("CreateContainer %s: %v", name, err)
		}
		return r.ContainerId
	}
	stats := func(id string) *runtimeapi.ContainerStats {
		t.Helper()
		r, err := rt.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: id})
		if err != nil {
			t.Fatalf("ContainerStats %s: %v", id, err)
		}
		return r.Stats
	}
	const mb = 1 << 20
	burn := create("burn", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=20 && dd if=/dev/zero of=/layer bs=1M count=2 && while :; do :; done",
		&runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 64 * mb, CpuQuota: 50000, CpuPeriod: 100000})
	idle := create("idle", "sleep 100", nil)

	// A created container has stats: zeros, not an error.
	st := stats(idle)
	if st.Cpu.Timestamp == 0 || st.Memory.Timestamp == 0 || st.Cpu.UsageCoreNanoSeconds.GetValue() != 0 || st.Memory.WorkingSetBytes.GetValue() != 0 ||
		st.Attributes.Metadata.Name != "idle" || st.WritableLayer.FsId.GetMountpoint() == "" {
		t.Fatalf("stats of a created container: %+v", st)
	}

	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: burn}); err != nil {
		t.Fatal(err)
	}
	e.eventually(30*time.Second, "the container to fill its memory and writable layer", func() bool {
		s := stats(burn)
		return s.Memory.WorkingSetBytes.GetValue() >= 20*mb && s.WritableLayer.UsedBytes.GetValue() >= 2*mb
	})
	time.Sleep(1500 * time.Millisecond) // a second reading a useful window later gives the CPU rate
	st = stats(burn)
	cpu, mem := st.Cpu, st.Memory
	if cpu.UsageCoreNanoSeconds.GetValue() == 0 || cpu.UsageNanoCores.GetValue() == 0 || cpu.UsageNanoCores.GetValue() > 0.7e9 {
		t.Errorf("cpu of a loop under a half-CPU quota: %+v", cpu)
	}
	if mem.UsageBytes.GetValue() < mem.WorkingSetBytes.GetValue() || mem.AvailableBytes.GetValue() != 64*mb-mem.WorkingSetBytes.GetValue() ||
		mem.PageFaults.GetValue() == 0 || mem.RssBytes == nil {
		t.Errorf("memory: %+v", mem)
	}
	if l := st.WritableLayer; l.UsedBytes.GetValue() < 2*mb || l.InodesUsed.GetValue() < 1 || l.FsId.GetMountpoint() == "" {
		t.Errorf("writable layer: %+v", l)
	}
	if st.Attributes.Id != burn || st.Attributes.Labels["role"] != "burn" {
		t.Errorf("attributes: %+v", st.Attributes)
	}

	listed := func(f *runtimeapi.ContainerStatsFilter) []string {
		t.Helper()
		r, err := rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: f})
		if err != nil {
			t.Fatalf("ListContainerStats %+v: %v", f, err)
		}
		var ids []string
		for _, s := range r.Stats {
			ids = append(ids, s.Attributes.Id)
		}
		return ids
	}
	if ids := listed(nil); len(ids) != 2 {
		t.Errorf("stats of all containers: %v", ids)
	}
	if ids := listed(&runtimeapi.ContainerStatsFilter{Id: burn[:12]}); len(ids) != 1 || ids[0] != burn {
		t.Errorf("stats by id: %v", ids)
	}
	if ids := listed(&runtimeapi.ContainerStatsFilter{PodSandboxId: sb.PodSandboxId, LabelSelector: map[string]string{"role": "idle"}}); len(ids) != 1 || ids[0] != idle {
		t.Errorf("stats by sandbox and label: %v", ids)
	}
	if ids := listed(&runtimeapi.ContainerStatsFilter{PodSandboxId: "nosuchsandbox"}); len(ids) != 0 {
		t.Errorf("stats of another sandbox: %v", ids)
	}

	// Traffic to the pod shows in its network stats.
	ps, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb.PodSandboxId})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", net.JoinHostPort(ps.Status.Network.Ip, "9"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("hello pod"))
	var pod *runtimeapi.PodSandboxStats
	e.eventually(10*time.Second, "the pod's interface to count the packet", func() bool {
		r, err := rt.PodSandboxStats(ctx, &runtimeapi.PodSandboxStatsRequest{PodSandboxId: sb.PodSandboxId})
		if err != nil {
			t.Fatalf("PodSandboxStats: %v", err)
		}
		pod = r.Stats
		return pod.Linux.Network.GetDefaultInterface().GetRxBytes().GetValue() > 0
	})
	l := pod.Linux
	if l.Network.DefaultInterface.Name != "eth0" || len(l.Containers) != 2 || l.Process.ProcessCount.GetValue() < 2 ||
		l.Cpu.UsageCoreNanoSeconds.GetValue() < cpu.UsageCoreNanoSeconds.GetValue() || l.Memory.WorkingSetBytes.GetValue() < 20*mb ||
		pod.Attributes.Metadata.Name != "stats" || pod.Attributes.Labels["tier"] != "db" {
		t.Errorf("pod sandbox stats: %+v", pod)
	}
	for _, c := range l.Containers {
		// Asked a moment after ContainerStats: still a rate over a useful window.
		if c.Attributes.Id == burn && c.Cpu.UsageNanoCores.GetValue() == 0 {
			t.Errorf("cpu rate of the container in the pod's stats: %+v", c.Cpu)
		}
	}
	lp, err := rt.ListPodSandboxStats(ctx, &runtimeapi.ListPodSandboxStatsRequest{Filter: &runtimeapi.PodSandboxStatsFilter{LabelSelector: map[string]string{"tier": "db"}}})
	if err != nil || len(lp.Stats) != 1 || lp.Stats[0].Attributes.Id != sb.PodSandboxId {
		t.Errorf("ListPodSandboxStats by label: %v %+v", err, lp)
	}

	// Metrics: described, and reported per container and for the pod's network.
	descs, err := rt.ListMetricDescriptors(ctx, &runtimeapi.ListMetricDescriptorsRequest{})
	if err != nil || len(descs.Descriptors) < 40 {
		t.Fatalf("ListMetricDescriptors: %v (%d)", err, len(descs.GetDescriptors()))
	}
	pm, err := rt.ListPodSandboxMetrics(ctx, &runtimeapi.ListPodSandboxMetricsRequest{})
	if err != nil || len(pm.PodMetrics) != 1 {
		t.Fatalf("ListPodSandboxMetrics: %v %+v", err, pm)
	}
	values := map[string]uint64{}
	for _, m := range pm.PodMetrics[0].Metrics {
		values[m.Name] += m.Value.GetValue()
	}
	for _, cm := range pm.PodMetrics[0].ContainerMetrics {
		if cm.ContainerId != burn {
			continue
		}
		for _, m := range cm.Metrics {
			values[m.Name] += m.Value.GetValue()
		}
	}
	if values["container_memory_working_set_bytes"] < 20*mb || values["container_network_receive_bytes_total"] == 0 ||
		values["container_spec_memory_limit_bytes"] != 64*mb || values["container_spec_cpu_quota"] != 50000 || values["container_processes"] == 0 {
		t.Errorf("metrics of the pod: %v", values)
	}

	// Updates reach the kernel at once for a running container, and the record for a
	// created one, which gets them when it starts.
	if _, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: burn,
		Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 128 * mb, CpuQuota: 20000, CpuPeriod: 100000}}); err != nil {
		t.Fatalf("UpdateContainerResources: %v", err)
	}
	wantQuota := "20000"
	if cgroupV2() {
		wantQuota = "20000 100000"
	}
	if got := e.cgroupValue(burn, "memory", "memory.limit_in_bytes", "memory.max"); got != "134217728" {
		t.Errorf("memory limit after the update: %s", got)
	}
	if got := e.cgroupValue(burn, "cpu", "cpu.cfs_quota_us", "cpu.max"); got != wantQuota {
		t.Errorf("cpu quota after the update: %s", got)
	}
	stats(burn)
	time.Sleep(2 * time.Second)
	if st := stats(burn); st.Cpu.UsageNanoCores.GetValue() > 0.35e9 || st.Memory.AvailableBytes.GetValue() != 128*mb-st.Memory.WorkingSetBytes.GetValue() {
		t.Errorf("stats under the new limits (0.2 CPU, 128 MiB): cpu %+v memory %+v", st.Cpu, st.Memory)
	}
	if _, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: idle,
		Linux: &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: 96 * mb, CpusetCpus: "0"}}); err != nil {
		t.Fatalf("UpdateContainerResources of a created container: %v", err)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: idle}); err != nil {
		t.Fatal(err)
	}
	if got := e.cgroupValue(idle, "memory", "memory.limit_in_bytes", "memory.max"); got != "100663296" {
		t.Errorf("memory limit given to a created container, once started: %s", got)
	}
	if got := e.cgroupValue(idle, "cpuset", "cpuset.cpus", "cpuset.cpus"); got != "0" {
		t.Errorf("cpuset given to a created container, once started: %s", got)
	}
	for what, res := range map[string]*runtimeapi.LinuxContainerResources{
		"hugepage_limits": {HugepageLimits: []*runtimeapi.HugepageLimit{{PageSize: "2MB", Limit: 4 * mb}}},
		"unified":         {Unified: map[string]string{"memory.high": "1000000"}},
		"cpuset_cpus":     {CpusetCpus: "1-0"},
		"memory":          {MemoryLimitInBytes: 1024},
	} {
		_, err := rt.UpdateContainerResources(ctx, &runtimeapi.UpdateContainerResourcesRequest{ContainerId: burn, Linux: res})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), strings.SplitN(what, "_", 2)[0]) {
			t.Errorf("update with bad %s: %v", what, err)
		}
	}
	if got := e.cgroupValue(burn, "memory", "memory.limit_in_bytes", "memory.max"); got != "134217728" {
		t.Errorf("memory limit after refused updates: %s", got)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
}

// TestCRIContainerEvents follows a container's life on GetContainerEvents: created,
// started, stopped, deleted, in order, each with its sandbox's status.
func TestCRIContainerEvents(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "events", Namespace: "default", Uid: "uid-e"}}})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := rt.GetContainerEvents(ctx, &runtimeapi.GetEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan *runtimeapi.ContainerEventResponse, 64)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				close(events)
				return
			}
			events <- ev
		}
	}()
	create := func(name string) string {
		r, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "busybox"}, Command: []string{"sleep", "100"}}})
		if err != nil {
			t.Fatal(err)
		}
		return r.ContainerId
	}
	next := func(id string) *runtimeapi.ContainerEventResponse {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("the event stream ended")
				}
				if ev.ContainerId == id {
					return ev
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no event for %s", id)
			}
		}
	}
	// The subscription is live once a first container's creation comes through.
	e.eventually(10*time.Second, "the event stream to be subscribed", func() bool {
		warm := create("warm")
		defer rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: warm})
		select {
		case ev := <-events:
			return ev.ContainerId == warm
		case <-time.After(time.Second):
			return false
		}
	})
	id := create("app")
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []runtimeapi.ContainerEventType{runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT,
		runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT} {
		ev := next(id)
		if ev.ContainerEventType != want || ev.CreatedAt == 0 || ev.PodSandboxStatus.GetId() != sb.PodSandboxId ||
			ev.PodSandboxStatus.GetMetadata().GetName() != "events" {
			t.Fatalf("event %v: %+v", want, ev)
		}
		found := false
		for _, cs := range ev.ContainersStatuses {
			found = found || cs.Id == id
		}
		if found == (want == runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT) {
			t.Errorf("event %v: container statuses %+v", want, ev.ContainersStatuses)
		}
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
}

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/internal/testutil"
)

// criClients dials e's CRI socket as a kubelet does.
func (e *env) criClients(t *testing.T) (runtimeapi.RuntimeServiceClient, runtimeapi.ImageServiceClient) {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+filepath.Join(e.exec, "cri.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimeapi.NewRuntimeServiceClient(conn), runtimeapi.NewImageServiceClient(conn)
}

// TestCRIImages drives the CRI's runtime Version and Status and its image service the
// way a kubelet does: pull from a registry, list, status, filesystem info, remove.
func TestCRIImages(t *testing.T) {
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	e := newEnv(t)
	e.importBusybox("busybox")
	ref := reg.Addr + "/e2e/cri-busybox:1"
	e.must("tag", "busybox", ref)
	e.must("push", ref)
	e.must("rmi", ref)
	rt, img := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	v, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil || v.RuntimeName != "drover" || v.RuntimeApiVersion != "v1" || v.RuntimeVersion == "" {
		t.Fatalf("Version: %v %+v", err, v)
	}
	st, err := rt.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil || len(st.Status.Conditions) != 2 || !st.Status.Conditions[0].Status || st.Status.Conditions[0].Type != runtimeapi.RuntimeReady {
		t.Fatalf("Status: %v %+v", err, st)
	}

	pulled, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil || !strings.HasPrefix(pulled.ImageRef, "sha256:") {
		t.Fatalf("PullImage: %v %+v", err, pulled)
	}
	list, err := img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, i := range list.Images {
		found = found || (i.Id == pulled.ImageRef && strings.Contains(strings.Join(i.RepoTags, " "), ref) && i.Size > 0)
	}
	if !found {
		t.Fatalf("ListImages lacks the pulled image: %+v", list.Images)
	}
	filtered, err := img.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: ref}}})
	if err != nil || len(filtered.Images) != 1 || filtered.Images[0].Id != pulled.ImageRef {
		t.Fatalf("ListImages with a filter: %v %+v", err, filtered)
	}
	status, err := img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: pulled.ImageRef}, Verbose: true})
	if err != nil || status.Image == nil || status.Image.Id != pulled.ImageRef || status.Info["os"] != "linux" {
		t.Fatalf("ImageStatus: %v %+v", err, status)
	}
	if missing, err := img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "nosuch:1"}}); err != nil || missing.Image != nil {
		t.Fatalf("ImageStatus of a missing image must be empty, not an error: %v %+v", err, missing)
	}
	fs, err := img.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	if err != nil || len(fs.ImageFilesystems) != 1 || fs.ImageFilesystems[0].UsedBytes.GetValue() == 0 ||
		!strings.HasPrefix(fs.ImageFilesystems[0].FsId.GetMountpoint(), e.root) {
		t.Fatalf("ImageFsInfo: %v %+v", err, fs)
	}

	// Bad input: a clear gRPC error and nothing half-made.
	if _, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: reg.Addr + "/e2e/nothing:1"}}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("pull of a missing image: %v", err)
	}
	if _, err := img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{}}); err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Fatalf("pull of no image: %v", err)
	}
	after, _ := img.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if len(after.Images) != len(list.Images) {
		t.Fatalf("failed pulls changed the image list: %d -> %d", len(list.Images), len(after.Images))
	}

	if _, err := img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: pulled.ImageRef}}); err != nil {
		t.Fatalf("RemoveImage: %v", err)
	}
	if gone, err := img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil || gone.Image != nil {
		t.Fatalf("image still there after RemoveImage: %v %+v", err, gone)
	}
	if _, err := img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: pulled.ImageRef}}); err != nil {
		t.Fatalf("RemoveImage of a removed image must succeed: %v", err)
	}
}

// TestCRISandboxes: a pod sandbox is a drover pod, run, listed, described (state, IP,
// metadata, labels, annotations), stopped and removed through the CRI, and visible to
// drover's own CLI; options drover cannot give yet are refused by name, leaving nothing.
func TestCRISandboxes(t *testing.T) {
	e := newEnv(t)
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.must("pod", "create", "--name", "not-cri")

	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "uid-1", Attempt: 2},
		Hostname:     "web-host",
		Labels:       map[string]string{"app": "web"},
		Annotations:  map[string]string{"note": "hello"},
		PortMappings: []*runtimeapi.PortMapping{{ContainerPort: 80, HostPort: int32(testutil.FreePort(t)), HostIp: "127.0.0.1"}},
	}
	run, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	id := run.PodSandboxId
	st, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		t.Fatal(err)
	}
	s := st.Status
	if s.State != runtimeapi.PodSandboxState_SANDBOX_READY || s.Network.Ip == "" || s.Metadata.Name != "web" || s.Metadata.Namespace != "default" ||
		s.Metadata.Uid != "uid-1" || s.Metadata.Attempt != 2 || s.Labels["app"] != "web" || s.Annotations["note"] != "hello" || len(s.Labels) != 1 {
		t.Fatalf("PodSandboxStatus: %+v", s)
	}
	if out := e.must("pod", "ls"); !strings.Contains(out, "k8s_web_default_uid-1_2") {
		t.Fatalf("drover pod ls does not show the sandbox: %q", out)
	}
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Id != id {
		t.Fatalf("ListPodSandbox (only CRI sandboxes): %v %+v", err, list)
	}
	byLabel, _ := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "other"}}})
	notReady, _ := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}}})
	if len(byLabel.Items) != 0 || len(notReady.Items) != 0 {
		t.Fatalf("filters: by label %d, not ready %d", len(byLabel.Items), len(notReady.Items))
	}

	// Refused: options drover cannot give yet, and incomplete metadata. Nothing is made.
	pods := e.must("pod", "ls", "-q")
	for name, bad := range map[string]*runtimeapi.PodSandboxConfig{
		"user namespace": {Metadata: &runtimeapi.PodSandboxMetadata{Name: "b", Namespace: "default", Uid: "u2"},
			Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{UsernsOptions: &runtimeapi.UserNamespace{Mode: runtimeapi.NamespaceMode_POD}}}}},
		"not namespaced": {Metadata: &runtimeapi.PodSandboxMetadata{Name: "b", Namespace: "default", Uid: "u3"},
			Linux: &runtimeapi.LinuxPodSandboxConfig{Sysctls: map[string]string{"vm.overcommit_memory": "1"}}},
		"uid": {Metadata: &runtimeapi.PodSandboxMetadata{Name: "b", Namespace: "default"}},
	} {
		if _, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: bad}); err == nil || !strings.Contains(err.Error(), "InvalidArgument") || !strings.Contains(err.Error(), name) {
			t.Fatalf("RunPodSandbox with %s: %v", name, err)
		}
	}
	if after := e.must("pod", "ls", "-q"); after != pods {
		t.Fatalf("refused sandboxes left pods: %q -> %q", pods, after)
	}

	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	st, _ = rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if st.GetStatus().GetState() != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("stopped sandbox: %+v", st)
	}
	for i := 0; i < 2; i++ { // removing twice is fine
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
			t.Fatalf("RemovePodSandbox #%d: %v", i+1, err)
		}
	}
	if _, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("status of a removed sandbox: %v", err)
	}
	// Stopping what is gone is not an error (the kubelet retries stops), inspecting it is.
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: "nope"}); err != nil {
		t.Fatalf("stop of an unknown sandbox: %v", err)
	}
	if _, err := rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: "nope"}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("status of an unknown sandbox: %v", err)
	}
}

// TestCRIContainers: containers created in a sandbox through the CRI run in its pod with
// the config's command, env and host path mounts, report their state and exit code, stop
// and are removed; bad requests are refused with nothing made.
func TestCRIContainers(t *testing.T) {
	e := newEnv(t)
	e.importBusybox("busybox")
	rt, _ := e.criClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "app", Namespace: "default", Uid: "uid-c"}}})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	create := func(name string, args []string) (string, error) {
		r, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: name, Attempt: 1},
			Image:    &runtimeapi.ImageSpec{Image: "busybox"},
			Command:  []string{"sh", "-c"}, Args: args,
			Envs:        []*runtimeapi.KeyValue{{Key: "FOO", Value: []byte("bar")}},
			Mounts:      []*runtimeapi.Mount{{HostPath: data, ContainerPath: "/data"}},
			Labels:      map[string]string{"role": name},
			Annotations: map[string]string{"a": "b"},
		}})
		return r.GetContainerId(), err
	}
	state := func(id string) *runtimeapi.ContainerStatus {
		t.Helper()
		st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			t.Fatalf("ContainerStatus %s: %v", id, err)
		}
		return st.Status
	}
	web, err := create("web", []string{`echo $FOO > /data/out; sleep 100`})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if s := state(web); s.State != runtimeapi.ContainerState_CONTAINER_CREATED || s.Metadata.Name != "web" || s.Labels["role"] != "web" || s.Annotations["a"] != "b" {
		t.Fatalf("created container: %+v", s)
	}
	if _, err := rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: web}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	e.eventually(20*time.Second, "the container to write through its host path mount", func() bool {
		b, _ := os.ReadFile(filepath.Join(data, "out"))
		return string(b) == "bar\n"
	})
	if s := state(web); s.State != runtimeapi.ContainerState_CONTAINER_RUNNING || s.StartedAt == 0 {
		t.Fatalf("running container: %+v", s)
	}
	list, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{PodSandboxId: sb.PodSandboxId,
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}})
	if err != nil || len(list.Containers) != 1 || list.Containers[0].Id != web {
		t.Fatalf("ListContainers: %v %+v", err, list)
	}

	job, err := create("job", []string{"exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: job})
	e.eventually(20*time.Second, "the job to exit", func() bool { return state(job).State == runtimeapi.ContainerState_CONTAINER_EXITED })
	if s := state(job); s.ExitCode != 3 || s.Reason != "Error" || s.FinishedAt == 0 {
		t.Fatalf("exited container: %+v", s)
	}

	if _, err := rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: web, Timeout: 1}); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if s := state(web); s.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Fatalf("stopped container: %+v", s)
	}
	for i := 0; i < 2; i++ {
		if _, err := rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: web}); err != nil {
			t.Fatalf("RemoveContainer #%d: %v", i+1, err)
		}
	}
	if _, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: web}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("status of a removed container: %v", err)
	}

	before := e.must("ps", "-aq")
	if _, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: "nope", Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "x"}, Image: &runtimeapi.ImageSpec{Image: "busybox"}}}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("container in an unknown sandbox: %v", err)
	}
	if _, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "x"}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
		Devices: []*runtimeapi.Device{{HostPath: "/dev/null", ContainerPath: "/dev/x"}}}}); err == nil || !strings.Contains(err.Error(), "devices") {
		t.Fatalf("container with devices: %v", err)
	}
	if _, err := rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "x"}, Image: &runtimeapi.ImageSpec{Image: "nosuchimage:1"}}}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("container of a missing image: %v", err)
	}
	if after := e.must("ps", "-aq"); after != before {
		t.Fatalf("refused creates left containers: %q -> %q", before, after)
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatalf("RemovePodSandbox with a container in it: %v", err)
	}
	if left, _ := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); len(left.Containers) != 0 {
		t.Fatalf("the sandbox's containers outlived it: %+v", left.Containers)
	}
}

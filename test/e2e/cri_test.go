package e2e

import (
	"context"
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

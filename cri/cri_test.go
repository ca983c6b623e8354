package cri

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

func TestToStatus(t *testing.T) {
	for err, want := range map[error]codes.Code{
		fmt.Errorf("x: %w", errdefs.ErrNotFound):        codes.NotFound,
		fmt.Errorf("x: %w", errdefs.ErrInvalidArgument): codes.InvalidArgument,
		fmt.Errorf("x: %w", errdefs.ErrConflict):        codes.FailedPrecondition,
		fmt.Errorf("x: %w", context.DeadlineExceeded):   codes.DeadlineExceeded,
		fmt.Errorf("disk on fire"):                      codes.Unknown,
	} {
		if got := status.Code(toStatus(err, "op")); got != want {
			t.Errorf("%v: code %v, want %v", err, got, want)
		}
	}
	if toStatus(nil, "op") != nil {
		t.Fatal("nil error mapped to a status")
	}
}

func TestToCRIImageUser(t *testing.T) {
	for user, want := range map[string]string{"": "none", "0": "uid 0", "1000:1000": "uid 1000", "nobody": "name nobody", "app:staff": "name app", "12a": "name 12a"} {
		img := toCRIImage(api.Image{ID: "sha256:1", Config: api.ImageConfig{User: user}})
		got := "none"
		switch {
		case img.Uid != nil:
			got = fmt.Sprintf("uid %d", img.Uid.Value)
		case img.Username != "":
			got = "name " + img.Username
		}
		if got != want || img.RepoTags == nil || img.Spec.Image != "sha256:1" {
			t.Errorf("user %q: %s (%+v), want %s", user, got, img, want)
		}
	}
}

func TestDecodeBasic(t *testing.T) {
	u, p, ok := decodeBasic(base64.StdEncoding.EncodeToString([]byte("bob:s3:cret")))
	if !ok || u != "bob" || p != "s3:cret" {
		t.Fatalf("decodeBasic: %q %q %v", u, p, ok)
	}
	if _, _, ok := decodeBasic("!!"); ok {
		t.Fatal("bad base64 accepted")
	}
}

func TestContainerState(t *testing.T) {
	now := time.Now()
	for name, c := range map[string]struct {
		st   api.ContainerState
		want runtimeapi.ContainerState
	}{
		"created":      {api.ContainerState{Status: "created"}, runtimeapi.ContainerState_CONTAINER_CREATED},
		"running":      {api.ContainerState{Status: "running", Running: true, StartedAt: now}, runtimeapi.ContainerState_CONTAINER_RUNNING},
		"exited":       {api.ContainerState{Status: "exited", StartedAt: now, FinishedAt: now}, runtimeapi.ContainerState_CONTAINER_EXITED},
		"failed start": {api.ContainerState{Status: "exited"}, runtimeapi.ContainerState_CONTAINER_EXITED},
		"odd":          {api.ContainerState{Status: "removing"}, runtimeapi.ContainerState_CONTAINER_UNKNOWN},
	} {
		if got := containerState(api.Container{State: c.st}); got != c.want {
			t.Errorf("%s: %v, want %v", name, got, c.want)
		}
	}
}

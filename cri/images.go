package cri

import (
	"context"
	"errors"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/errdefs"
)

func toCRIImage(img api.Image) *runtimeapi.Image {
	out := &runtimeapi.Image{
		Id:          img.ID,
		RepoTags:    img.RepoTags,
		RepoDigests: img.RepoDigests,
		Size:        uint64(img.Size),
		Spec:        &runtimeapi.ImageSpec{Image: img.ID},
		Pinned:      false,
	}
	if out.RepoTags == nil {
		out.RepoTags = []string{}
	}
	if out.RepoDigests == nil {
		out.RepoDigests = []string{}
	}
	// The image's user, as the kubelet reads it for runAsNonRoot: a numeric UID, or a name.
	user, _, _ := strings.Cut(img.Config.User, ":")
	if user != "" {
		uid, ok := parseUID(user)
		if ok {
			out.Uid = &runtimeapi.Int64Value{Value: uid}
		} else {
			out.Username = user
		}
	}
	return out
}

func parseUID(s string) (int64, bool) {
	var n int64
	for _, r := range s {
		if r < '0' || r > '9' || n > 1<<31 {
			return 0, false
		}
		n = n*10 + int64(r-'0')
	}
	return n, s != ""
}

// ListImages lists the engine's images, or the one the filter names.
func (s *Server) ListImages(ctx context.Context, req *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	if ref := req.GetFilter().GetImage().GetImage(); ref != "" {
		img, err := s.engine.InspectImage(ctx, ref)
		if errors.Is(err, errdefs.ErrNotFound) {
			return &runtimeapi.ListImagesResponse{}, nil
		}
		if err != nil {
			return nil, toStatus(err, "list images")
		}
		return &runtimeapi.ListImagesResponse{Images: []*runtimeapi.Image{toCRIImage(img)}}, nil
	}
	imgs, err := s.engine.ListImages(ctx)
	if err != nil {
		return nil, toStatus(err, "list images")
	}
	out := &runtimeapi.ListImagesResponse{}
	for _, img := range imgs {
		out.Images = append(out.Images, toCRIImage(img))
	}
	return out, nil
}

// ImageStatus describes one image; an image that is not there is a nil image, not an
// error, as the CRI asks.
func (s *Server) ImageStatus(ctx context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	ref, err := imageRef(req.GetImage())
	if err != nil {
		return nil, err
	}
	img, err := s.engine.InspectImage(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	if err != nil {
		return nil, toStatus(err, "image status of %s", ref)
	}
	resp := &runtimeapi.ImageStatusResponse{Image: toCRIImage(img)}
	if req.GetVerbose() {
		resp.Info = map[string]string{"os": img.Os, "architecture": img.Arch}
	}
	return resp, nil
}

// PullImage pulls with the credentials the kubelet passes, and answers the image's ID.
func (s *Server) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	ref, err := imageRef(req.GetImage())
	if err != nil {
		return nil, err
	}
	a := req.GetAuth()
	auth := api.AuthConfig{Username: a.GetUsername(), Password: a.GetPassword(), IdentityToken: a.GetIdentityToken(),
		RegistryToken: a.GetRegistryToken(), ServerAddress: a.GetServerAddress()}
	if enc := a.GetAuth(); enc != "" && auth.Username == "" {
		if u, p, ok := decodeBasic(enc); ok {
			auth.Username, auth.Password = u, p
		}
	}
	if err := s.engine.PullImage(ctx, ref, "", auth, nil); err != nil {
		return nil, toStatus(err, "pull %s", ref)
	}
	img, err := s.engine.InspectImage(ctx, ref)
	if err != nil {
		return nil, toStatus(err, "pull %s", ref)
	}
	return &runtimeapi.PullImageResponse{ImageRef: img.ID}, nil
}

// RemoveImage removes an image; one that is not there is already removed.
func (s *Server) RemoveImage(ctx context.Context, req *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	ref, err := imageRef(req.GetImage())
	if err != nil {
		return nil, err
	}
	img, err := s.engine.InspectImage(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return &runtimeapi.RemoveImageResponse{}, nil
	}
	if err != nil {
		return nil, toStatus(err, "remove %s", ref)
	}
	// The kubelet removes images by ID: every tag goes with it.
	if _, err := s.engine.RemoveImage(ctx, img.ID, true); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return nil, toStatus(err, "remove %s", ref)
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

// ImageFsInfo reports the image store's filesystem use, for the kubelet's image GC.
func (s *Server) ImageFsInfo(ctx context.Context, _ *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	mount, used, inodes, err := s.engine.ImageFilesystem(ctx)
	if err != nil {
		return nil, toStatus(err, "image filesystem")
	}
	usage := &runtimeapi.FilesystemUsage{
		Timestamp:  nowNanos(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: mount},
		UsedBytes:  &runtimeapi.UInt64Value{Value: used},
		InodesUsed: &runtimeapi.UInt64Value{Value: inodes},
	}
	return &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{usage}}, nil
}

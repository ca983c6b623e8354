package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/internal/testutil"
)

func importTar(t *testing.T, s *Store, ref string, body string) *Image {
	t.Helper()
	img, err := s.Import(context.Background(), bytes.NewReader(makeTar(t, reg("f", body))), ref, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestGet(t *testing.T) {
	testutil.RequiresRoot(t)
	s := newStore(t)
	img := importTar(t, s, "user/app:v1", "1")
	id := img.ID.String()
	for _, ref := range []string{"user/app:v1", "docker.io/user/app:v1", id, img.ID.Encoded(), id[:11], img.ID.Encoded()[:4]} {
		got, err := s.Get(ref)
		if err != nil || got.ID != img.ID {
			t.Errorf("Get(%q): %v", ref, err)
		}
	}
	for _, ref := range []string{"user/app", "user/app:v2", "nothing", "sha256:" + hexA, img.ID.Encoded()[:3], "UPPER"} {
		_, err := s.Get(ref)
		if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "no such image: "+ref) {
			t.Errorf("Get(%q): want ErrNotFound naming it, got %v", ref, err)
		}
	}
}

func TestTagAndRemove(t *testing.T) {
	testutil.RequiresRoot(t)
	s := newStore(t)
	a := importTar(t, s, "a:1", "a")
	b := importTar(t, s, "b:1", "b")
	if err := s.Tag("a:1", "a:2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("a:1", "x@sha256:"+hexA); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("tag with a digest: %v", err)
	}
	if err := s.Tag("missing", "y:1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("tag of a missing image: %v", err)
	}
	got, _ := s.Get("a:2")
	if !reflect.DeepEqual(got.RepoTags, []string{"a:1", "a:2"}) {
		t.Fatalf("tags %v", got.RepoTags)
	}
	inUse := func(id string) bool { return id == b.ID.String() }
	steps := []struct {
		name              string
		ref               string
		force             bool
		untagged, deleted []string
		err               error
	}{
		{"ID with two names", a.ID.String(), false, nil, nil, errdefs.ErrConflict},
		{"one of two names", "a:2", false, []string{"a:2"}, nil, nil},
		{"used image by name", "b:1", false, nil, nil, errdefs.ErrConflict},
		{"used image by ID", b.ID.String(), true, nil, nil, errdefs.ErrConflict},
		{"used image by name, forced", "b:1", true, []string{"b:1"}, nil, nil},
		{"last name", "a:1", false, []string{"a:1"}, []string{a.ID.String()}, nil},
		{"gone", "a:1", false, nil, nil, errdefs.ErrNotFound},
	}
	for _, st := range steps {
		untagged, deleted, err := s.Remove(st.ref, st.force, inUse)
		if !errors.Is(err, st.err) || (err == nil) != (st.err == nil) || !reflect.DeepEqual(untagged, st.untagged) || !reflect.DeepEqual(deleted, st.deleted) {
			t.Fatalf("%s: untagged %v deleted %v err %v", st.name, untagged, deleted, err)
		}
	}
	if s.Snapshots().Exists(a.ChainID) || s.Content().Has(a.ID) {
		t.Fatal("deleted image's data kept")
	}
	// b is untagged (dangling) but kept; by ID it goes once unused.
	imgs, _ := s.List()
	if len(imgs) != 1 || imgs[0].ID != b.ID || len(imgs[0].RepoTags) != 0 {
		t.Fatalf("list %v", imgs)
	}
	if _, deleted, err := s.Remove(b.ID.Encoded()[:8], false, nil); err != nil || len(deleted) != 1 {
		t.Fatalf("remove by short ID: %v", err)
	}
	assertEmpty(t, s)
}

// TestGCKeepsContainerLayers: a container's chain survives its image's removal.
func TestGCKeepsContainerLayers(t *testing.T) {
	testutil.RequiresRoot(t)
	s := newStore(t)
	img := importTar(t, s, "a", "1")
	if err := s.Snapshots().Prepare("c1", img.ChainID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Remove("a", false, nil); err != nil {
		t.Fatal(err)
	}
	if !s.Snapshots().Exists(img.ChainID) {
		t.Fatal("GC removed a layer a container runs on")
	}
	if err := s.Snapshots().Remove("c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
}

// TestCommitFromContent is the registry client's path: blobs written into the content
// store, then Commit with a tag and a digest reference.
func TestCommitFromContent(t *testing.T) {
	testutil.RequiresRoot(t)
	s := newStore(t)
	ti := buildImage(t, ocispec.ImageConfig{Cmd: []string{"x"}}, nil, twoLayers(t), []Compression{Gzip, Gzip})
	for _, b := range ti.blobs() {
		if _, err := s.Content().WriteBlob(bytes.NewReader(b), "", int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	md := ti.manifestDesc()
	img, err := s.Commit(context.Background(), md, "registry.example/app:1", "registry.example/app@"+md.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(img.RepoTags, []string{"registry.example/app:1"}) || !reflect.DeepEqual(img.RepoDigests, []string{"registry.example/app@" + md.Digest.String()}) || img.Manifest != md.Digest {
		t.Fatalf("image %+v", img)
	}
	if got, err := s.Get("registry.example/app@" + md.Digest.String()); err != nil || got.ID != img.ID {
		t.Fatalf("get by digest: %v", err)
	}
	// A config without a blob is refused.
	bad := md
	bad.Digest = ti.configID
	bad.Size = int64(len(ti.config))
	if _, err := s.Commit(context.Background(), bad); err == nil {
		t.Fatal("a config accepted as a manifest")
	}
}

// TestConcurrentImportAndGC: GC running while images are imported never takes a blob or
// layer an import is about to record.
func TestConcurrentImportAndGC(t *testing.T) {
	testutil.RequiresRoot(t)
	s := newStore(t)
	const n = 6
	errs := make(chan error, n)
	stop := make(chan struct{})
	gcDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
				if _, err := s.GC(); err != nil {
					gcDone <- err
					return
				}
			}
		}
	}()
	for i := 0; i < n; i++ {
		go func(i int) {
			_, err := s.Import(context.Background(), bytes.NewReader(makeTar(t, reg("f", strings.Repeat("x", i+1)))), fmt.Sprintf("img:%d", i), ImportOptions{})
			errs <- err
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatal(err)
	}
	imgs, err := s.List()
	if err != nil || len(imgs) != n {
		t.Fatalf("%d images, %v", len(imgs), err)
	}
	for _, img := range imgs {
		if err := s.loadConfig(img); err != nil {
			t.Fatal(err)
		}
		for _, l := range img.Layers {
			if !s.Content().Has(l.Digest) {
				t.Fatalf("layer blob %s collected", l.Digest)
			}
		}
		if !s.Snapshots().Exists(img.ChainID) {
			t.Fatalf("snapshot %s collected", img.ChainID)
		}
	}
}

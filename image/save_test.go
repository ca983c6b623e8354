package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/internal/testutil"
)

// tarFiles reads an archive's regular files.
func tarFiles(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			out[hdr.Name] = b
		}
	}
}

func TestSaveRoundTrip(t *testing.T) {
	testutil.RequiresRoot(t)
	s := newStore(t)
	ti := buildImage(t, ocispec.ImageConfig{Cmd: []string{"sh"}}, nil, twoLayers(t), []Compression{Gzip, Zstd})
	if _, err := s.Load(context.Background(), bytes.NewReader(dockerArchive(t, [][]string{{"app:v1", "app:v2"}}, ti))); err != nil {
		t.Fatal(err)
	}
	other := importTar(t, s, "other:1", "o")

	var buf bytes.Buffer
	if err := s.Save(context.Background(), &buf, []string{"app", other.ID.String()}); err != nil {
		t.Fatal(err)
	}
	files := tarFiles(t, buf.Bytes())
	for _, f := range []string{"oci-layout", "index.json", "manifest.json", blobName(ti.config), blobName(ti.layers[0])} {
		if _, ok := files[f]; !ok {
			t.Fatalf("archive lacks %s", f)
		}
	}
	var dm []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &dm); err != nil || len(dm) != 2 {
		t.Fatalf("manifest.json %s", files["manifest.json"])
	}
	sort.Strings(dm[0].RepoTags)
	if !reflect.DeepEqual(dm[0].RepoTags, []string{"app:v1", "app:v2"}) || len(dm[1].RepoTags) != 0 {
		t.Fatalf("manifest.json tags %v %v", dm[0].RepoTags, dm[1].RepoTags)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil || len(idx.Manifests) != 3 {
		t.Fatalf("index.json %s", files["index.json"])
	}

	// Saving again gives the same bytes.
	var again bytes.Buffer
	if err := s.Save(context.Background(), &again, []string{"app", other.ID.String()}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("save is not reproducible")
	}

	// A fresh store loads it back: same IDs, same names, same files.
	s2 := newStore(t)
	imgs, err := s2.Load(context.Background(), bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || imgs[0].ID != ti.configID || imgs[1].ID != other.ID {
		t.Fatalf("loaded %v", imgs)
	}
	if !reflect.DeepEqual(imgs[0].RepoTags, []string{"app:v1", "app:v2"}) || len(imgs[1].RepoTags) != 0 {
		t.Fatalf("tags %v %v", imgs[0].RepoTags, imgs[1].RepoTags)
	}
	assertTwoLayersView(t, s2, imgs[0], "c")

	if err := s.Save(context.Background(), io.Discard, []string{"missing"}); err == nil {
		t.Fatal("save of a missing image")
	}
}

// TestSkopeoReadsSave checks, when skopeo is installed, that it reads what Save writes as
// both an OCI archive and a docker archive.
func TestSkopeoReadsSave(t *testing.T) {
	testutil.RequiresRoot(t)
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed")
	}
	s := newStore(t)
	img, err := s.Import(context.Background(), bytes.NewReader(gz(t, busyboxTar(t))), "busybox:test", ImportOptions{Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(context.Background(), f, []string{"busybox:test"}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, src := range []string{"oci-archive:" + archive, "docker-archive:" + archive} {
		out, err := exec.Command(skopeo, "--insecure-policy", "inspect", "--config", src).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo inspect %s: %v\n%s", src, err, out)
		}
		var cfg ocispec.Image
		if err := json.Unmarshal(out, &cfg); err != nil || !reflect.DeepEqual(cfg.Config.Cmd, []string{"sh"}) {
			t.Fatalf("skopeo read config %s: %v", out, err)
		}
	}
	dst := filepath.Join(dir, "copy")
	if out, err := exec.Command(skopeo, "--insecure-policy", "copy", "oci-archive:"+archive, "oci:"+dst+":busybox").CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dst, "blobs", "sha256", img.ID.Encoded())); err != nil {
		t.Fatalf("copied layout lacks the config: %v", err)
	}
	// And the other way: archives skopeo writes (recompressed layers) load back.
	for i, format := range []string{"oci-archive", "docker-archive"} {
		out := filepath.Join(dir, fmt.Sprintf("skopeo-%d.tar", i))
		ref := out
		if format == "docker-archive" {
			ref += ":skopeo/busybox:" + format
		}
		if o, err := exec.Command(skopeo, "--insecure-policy", "copy", "oci:"+dst+":busybox", format+":"+ref).CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy to %s: %v\n%s", format, err, o)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		imgs, err := s.Load(context.Background(), f)
		f.Close()
		if err != nil || len(imgs) != 1 || imgs[0].ID != img.ID {
			t.Fatalf("load of skopeo's %s: %v, %v (want image %s)", format, imgs, err, img.ID)
		}
		if _, err := s.Unpack(context.Background(), imgs[0]); err != nil {
			t.Fatalf("unpack of skopeo's %s: %v", format, err)
		}
	}
}

// TestLoadPodmanArchives loads what podman writes (docker-archive and oci-archive), when
// podman is installed.
func TestLoadPodmanArchives(t *testing.T) {
	testutil.RequiresRoot(t)
	podman, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not installed")
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(rootfs, busyboxTar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("localhost/drover-image-test-%d:latest", os.Getpid())
	if out, err := exec.Command(podman, "import", "--change", `CMD ["sh"]`, rootfs, name).CombinedOutput(); err != nil {
		t.Skipf("podman import does not work here: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", name).Run() })
	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			archive := filepath.Join(dir, format+".tar")
			if out, err := exec.Command(podman, "save", "--format", format, "-o", archive, name).CombinedOutput(); err != nil {
				t.Fatalf("podman save: %v\n%s", err, out)
			}
			f, err := os.Open(archive)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s := newStore(t)
			imgs, err := s.Load(context.Background(), f)
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != 1 || !reflect.DeepEqual(imgs[0].Config.Config.Cmd, []string{"sh"}) {
				t.Fatalf("loaded %+v", imgs)
			}
			t.Logf("%s: tags %v", format, imgs[0].RepoTags)
			if len(imgs[0].RepoTags) != 1 {
				t.Fatalf("tags %v", imgs[0].RepoTags)
			}
		})
	}
	// And podman loads what Save writes.
	s := newStore(t)
	img, err := s.Import(context.Background(), bytes.NewReader(busyboxTar(t)), "localhost/drover-saved-"+fmt.Sprint(os.Getpid()), ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "saved.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(context.Background(), f, img.RepoTags); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "-f", img.RepoTags[0]).Run() })
	if out, err := exec.Command(podman, "load", "-i", archive).CombinedOutput(); err != nil || !strings.Contains(string(out), img.RepoTags[0]) {
		t.Fatalf("podman load of a saved archive: %v\n%s", err, out)
	}
}

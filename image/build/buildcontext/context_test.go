package buildcontext

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

func TestTarExcludes(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.log", "keep.log", "secret/key", "src/main.go", "src/deep/x.tmp", "node_modules/m/index.js", "node_modules/keep/me"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(f), 0o644)
	}
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, IgnoreFile), []byte("# comment\n*.log\n!keep.log\nsecret\n**/*.tmp\nnode_modules\n!node_modules/keep\n"), 0o644)
	excludes, err := Excludes(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Tar(&buf, dir, excludes); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name == "link" && (hdr.Typeflag != tar.TypeSymlink || hdr.Linkname != "/etc/passwd") {
			t.Errorf("the symlink was followed: %+v", hdr)
		}
		names = append(names, hdr.Name)
	}
	sort.Strings(names)
	want := []string{".dockerignore", "keep.log", "link", "node_modules/keep/", "node_modules/keep/me", "src/", "src/deep/", "src/main.go"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("sent %q\nwant %q", names, want)
	}
}

func TestExcludesMissing(t *testing.T) {
	if p, err := Excludes(t.TempDir(), ""); err != nil || p != nil {
		t.Fatalf("%v %v", p, err)
	}
}

func TestIsArchive(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "x", Mode: 0o644})
	tw.Close()
	if !IsArchive(buf.Bytes()) {
		t.Fatal("a tar is not recognised")
	}
	if IsArchive([]byte("FROM busybox\n")) {
		t.Fatal("a Dockerfile is taken for a tar")
	}
}

func TestExcludesPerDockerfile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, IgnoreFile), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "prod.Dockerfile.dockerignore"), []byte("b\n"), 0o644)
	if p, _ := Excludes(dir, filepath.Join(dir, "prod.Dockerfile")); !reflect.DeepEqual(p, []string{"b"}) {
		t.Fatalf("prod.Dockerfile: %v", p)
	}
	if p, _ := Excludes(dir, filepath.Join(dir, "Dockerfile")); !reflect.DeepEqual(p, []string{"a"}) {
		t.Fatalf("Dockerfile: %v", p)
	}
}

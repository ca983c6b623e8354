package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/drover/drover/internal/errdefs"
)

var hexA = strings.Repeat("a", 64)

func TestParseReference(t *testing.T) {
	tests := []struct {
		in, full, familiar string
		domain, path, tag  string
	}{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io", "library/busybox", "latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "docker.io", "library/busybox", "1.36"},
		{"library/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io", "library/busybox", "latest"},
		{"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io", "library/busybox", "latest"},
		{"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io", "library/busybox", "latest"},
		{"user/app:v1", "docker.io/user/app:v1", "user/app:v1", "docker.io", "user/app", "v1"},
		{"localhost/x", "localhost/x:latest", "localhost/x:latest", "localhost", "x", "latest"},
		{"localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest", "localhost:5000", "x", "latest"},
		{"127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t", "127.0.0.1:5000/a/b:t", "127.0.0.1:5000", "a/b", "t"},
		{"[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000", "x", "y"},
		{"ghcr.io/a/b/c:t", "ghcr.io/a/b/c:t", "ghcr.io/a/b/c:t", "ghcr.io", "a/b/c", "t"},
		{"Registry/x", "Registry/x:latest", "Registry/x:latest", "Registry", "x", "latest"},
		{"a__b/c-d.e_f", "docker.io/a__b/c-d.e_f:latest", "a__b/c-d.e_f:latest", "docker.io", "a__b/c-d.e_f", "latest"},
		{"busybox@sha256:" + hexA, "docker.io/library/busybox@sha256:" + hexA, "busybox@sha256:" + hexA, "docker.io", "library/busybox", ""},
		{"busybox:1@sha256:" + hexA, "docker.io/library/busybox:1@sha256:" + hexA, "busybox:1@sha256:" + hexA, "docker.io", "library/busybox", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseReference(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.full || r.Familiar() != tt.familiar || r.Domain != tt.domain || r.Path != tt.path || r.Tag != tt.tag {
				t.Errorf("got %s / %s (%+v)", r.String(), r.Familiar(), r)
			}
		})
	}
}

func TestParseReferenceRefuses(t *testing.T) {
	tests := []struct{ in, why string }{
		{"", "empty"},
		{"UPPER", "lowercase"},
		{"a:b:c", "repository names"},
		{"x@sha256:zz", "digest"},
		{"a//b", "lowercase"},
		{"-a", "lowercase"},
		{"a:" + strings.Repeat("x", 200), "tag"},
		{"a:-x", "tag"},
		{hexA, "image ID"},
		{"bad_host!/x", "lowercase"},
		{"ex ample.com/x", "registry"},
		{"host:notaport/x", "registry"},
		{"docker.io/" + strings.Repeat("a", 250), "longer than"},
		{strings.Repeat("a/", 300), "longer than 512"},
		{"a/", "lowercase"},
		{"busybox@", "digest"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseReference(tt.in)
			if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("want ErrInvalidArgument mentioning %q, got %v", tt.why, err)
			}
		})
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "a/b:c", "localhost:5000/x@sha256:" + hexA, "[::1]:5000/x", "Foo/bar", "index.docker.io/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		for _, form := range []string{r.String(), r.Familiar()} {
			r2, err := ParseReference(form)
			if err != nil || r2 != r {
				t.Fatalf("%q -> %q does not round-trip: %+v %v", s, form, r2, err)
			}
		}
	})
}

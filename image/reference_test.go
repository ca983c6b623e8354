package image

import "testing"

func TestParseReference(t *testing.T) {
	for _, tc := range []struct{ in, full, familiar string }{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"user/app:v1", "docker.io/user/app:v1", "user/app:v1"},
		{"localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"},
		{"ghcr.io/a/b/c:t", "ghcr.io/a/b/c:t", "ghcr.io/a/b/c:t"},
		{"busybox@sha256:" + string(make64('a')), "docker.io/library/busybox@sha256:" + string(make64('a')), "busybox@sha256:" + string(make64('a'))},
	} {
		r, err := ParseReference(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if r.String() != tc.full || r.Familiar() != tc.familiar {
			t.Errorf("%s: got %s / %s", tc.in, r.String(), r.Familiar())
		}
	}
	for _, bad := range []string{"", "UPPER", "a:b:c", "x@sha256:zz", "a//b", "-a", "a:" + string(make([]byte, 200))} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func make64(c byte) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return b
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "a/b:c", "localhost:5000/x@sha256:" + string(make64('b'))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		r2, err := ParseReference(r.String())
		if err != nil || r2 != r {
			t.Fatalf("%q -> %q does not round-trip: %v", s, r.String(), err)
		}
	})
}

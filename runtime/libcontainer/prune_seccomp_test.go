//go:build linux && cgo && seccomp

package libcontainer

import (
	"runtime"
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
)

func TestPruneSeccomp(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the names below are chosen for amd64")
	}
	s := &configs.Seccomp{Architectures: []string{"amd64"}}
	for _, n := range []string{"read", "mmap2", "socketcall", "clock_gettime64", "no_such_call", "openat"} {
		s.Syscalls = append(s.Syscalls, &configs.Syscall{Name: n, Action: configs.Allow})
	}
	pruneSeccomp(s)
	var got []string
	for _, c := range s.Syscalls {
		got = append(got, c.Name)
	}
	if want := []string{"read", "openat"}; !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	// With the 32-bit ABI in the filter, its calls stay.
	s = &configs.Seccomp{Architectures: []string{"amd64", "x86"}, Syscalls: []*configs.Syscall{{Name: "mmap2", Action: configs.Allow}}}
	pruneSeccomp(s)
	if len(s.Syscalls) != 1 {
		t.Fatalf("mmap2 dropped from a filter that includes x86")
	}
}

//go:build linux && cgo && seccomp

package libcontainer

import (
	"github.com/opencontainers/runc/libcontainer/configs"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// pruneSeccomp drops the rules for syscalls that none of the filter's architectures has.
// A profile like Docker's names the 32-bit ABI's calls as well (mmap2, socketcall, the
// *_time64 family): on a 64-bit-only filter libseccomp resolves them to nothing, yet each
// is parsed, looked up and sent to the container's init, which compiles the filter on
// every start. Dropping them leaves the filter the same, instruction for instruction.
func pruneSeccomp(s *configs.Seccomp) {
	if s == nil {
		return
	}
	archs := []libseccomp.ScmpArch{}
	if native, err := libseccomp.GetNativeArch(); err == nil {
		archs = append(archs, native)
	}
	for _, a := range s.Architectures {
		if arch, err := libseccomp.GetArchFromString(a); err == nil {
			archs = append(archs, arch)
		}
	}
	kept := s.Syscalls[:0]
	for _, call := range s.Syscalls {
		if call == nil || exists(call.Name, archs) {
			kept = append(kept, call)
		}
	}
	clear(s.Syscalls[len(kept):])
	s.Syscalls = kept
}

func exists(name string, archs []libseccomp.ScmpArch) bool {
	for _, a := range archs {
		if n, err := libseccomp.GetSyscallFromNameByArch(name, a); err == nil && n >= 0 {
			return true
		}
	}
	return false
}

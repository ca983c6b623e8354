package libcontainer

import (
	"fmt"
	"os"
	"strconv"

	"github.com/opencontainers/runc/libcontainer/exeseal"
	"golang.org/x/sys/unix"
)

// minFD keeps the copy's descriptor above those os/exec places in a child before it runs
// the copy (stdio and ExtraFiles), so /proc/self/fd/N still names the copy at execve.
const minFD = 100

// SealedExe is a sealed in-memory copy of an executable. A daemon that starts its shims
// from one spares libcontainer its CVE-2019-5736 guard per container: unless the process
// runs from a sealed memfd, libcontainer wraps its own executable in a fresh read-only
// overlay for every container init and exec it starts. With the seals there, it runs the
// init straight from the copy, which no process can write to.
type SealedExe struct {
	f *os.File
}

// SealCopy makes a sealed copy of the executable at path; tmpDir is where it goes on a
// kernel without memfds.
func SealCopy(path, tmpDir string) (*SealedExe, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", path, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", path, err)
	}
	clone, err := exeseal.CloneBinary(src, fi.Size(), path, tmpDir)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", path, err)
	}
	defer clone.Close()
	high, err := unix.FcntlInt(clone.Fd(), unix.F_DUPFD_CLOEXEC, minFD)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", path, err)
	}
	return &SealedExe{f: os.NewFile(uintptr(high), clone.Name())}, nil
}

// Path is the path a child of this process executes the copy by. It names the copy only
// in children of this process started while the copy is open.
func (e *SealedExe) Path() string { return "/proc/self/fd/" + strconv.Itoa(int(e.f.Fd())) }

// Close releases the copy; processes running it keep their own reference.
func (e *SealedExe) Close() error { return e.f.Close() }

// IsSealed reports whether f is a copy libcontainer trusts as sealed.
func IsSealed(f *os.File) bool { return exeseal.IsCloned(f) }

package shim

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// withSocketPath calls fn with a name for the socket file in dir that fits the 108 bytes
// a unix socket address allows: the path itself when short enough, else the same file
// reached through a /proc/self/fd link to dir.
func withSocketPath(dir, name string, fn func(path string) error) error {
	full := filepath.Join(dir, name)
	if len(full) < 100 {
		return fn(full)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", fd, name))
}

package daemon

import (
	"errors"

	"golang.org/x/sys/unix"
)

// ensureDockerEnv makes the empty /.dockerenv that Docker puts in every container: tools
// (and users' scripts) test for it to know they run in a container. It goes into the
// writable layer, not a mount, so it looks as in Docker. An image's own /.dockerenv
// stays; a symlink there is left alone and not followed.
func ensureDockerEnv(rootfs string) error {
	dir, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	fd, err := unix.Openat(dir, ".dockerenv", unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o755)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EROFS) {
			return nil
		}
		return err
	}
	return unix.Close(fd)
}

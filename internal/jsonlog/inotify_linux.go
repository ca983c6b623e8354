package jsonlog

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// openInotify watches dir for the changes a log writer makes (appends, the renames and
// creations of a rotation) and returns the inotify instance as a pollable file, so reads
// on it honour deadlines.
func openInotify(dir string) (*os.File, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_CLOSE_WRITE
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify watch %s: %w", dir, err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, errors.New("inotify descriptor is not pollable")
	}
	return f, nil
}

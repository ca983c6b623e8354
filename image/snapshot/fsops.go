package snapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// The helpers here work on directory file descriptors and plain names only. Every path
// component is opened with O_NOFOLLOW|O_DIRECTORY, so no symlink (planted by a layer or
// anything else) is ever followed and nothing outside the root can be reached: there is no
// path string the kernel could resolve elsewhere.

// cleanRel turns a tar entry name into a clean path relative to the root: leading slashes
// are dropped (absolute names are made relative) and a name that climbs out of the root
// with ".." is refused. "." is the root itself.
func cleanRel(name string) (string, error) {
	if name == "" {
		return "", refusal("empty name")
	}
	if len(name) > maxNameLen {
		return "", refusal("name is %d bytes long, more than %d", len(name), maxNameLen)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", refusal("name contains a NUL byte")
	}
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", refusal("name climbs out of the layer root with \"..\"")
	}
	return c, nil
}

// split returns the parent directory ("" for the root) and the base name of a clean path.
func split(rel string) (dir, base string) {
	dir, base = path.Split(rel)
	return strings.TrimSuffix(dir, "/"), base
}

// openDir opens the directory rel (clean, relative; "" or "." is root) below root without
// following symlinks. With create, missing components are made (mode 0755). A component
// that is a symlink or not a directory is an error that names it.
func openDir(root *os.File, rel string, create bool) (*os.File, error) {
	fd, err := unix.Dup(int(root.Fd()))
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(fd)
	if rel == "" || rel == "." {
		return os.NewFile(uintptr(fd), rel), nil
	}
	walked := ""
	for _, comp := range strings.Split(rel, "/") {
		walked = path.Join(walked, comp)
		next, err := openDirAt(fd, comp)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, comp, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = openDirAt(fd, comp)
			}
		}
		if errors.Is(err, unix.ENOTDIR) {
			// O_DIRECTORY wins over O_NOFOLLOW: tell a symlink from a file.
			var st unix.Stat_t
			if unix.Fstatat(fd, comp, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		unix.Close(fd)
		if err != nil {
			switch {
			case errors.Is(err, unix.ELOOP):
				return nil, refusal("%s is a symlink: a layer may not write through symlinks", walked)
			case errors.Is(err, unix.ENOTDIR):
				return nil, refusal("%s is not a directory", walked)
			}
			return nil, fmt.Errorf("open %s: %w", walked, err)
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), rel), nil
}

func openDirAt(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// lstatAt stats name in dir without following it; ok is false when it does not exist.
func lstatAt(dir *os.File, name string) (st unix.Stat_t, ok bool, err error) {
	err = unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return st, false, nil
	}
	return st, err == nil, err
}

// removeAllAt removes name (a file or a whole tree) from dir without following symlinks.
func removeAllAt(dir *os.File, name string) error {
	err := unix.Unlinkat(int(dir.Fd()), name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	fd, err := openDirAt(int(dir.Fd()), name)
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	sub := os.NewFile(uintptr(fd), name)
	err = clearDir(sub)
	sub.Close()
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := unix.Unlinkat(int(dir.Fd()), name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// clearDir removes everything inside dir.
func clearDir(dir *os.File) error {
	for {
		if _, err := dir.Seek(0, io.SeekStart); err != nil {
			return err
		}
		names, err := dir.Readdirnames(256)
		if errors.Is(err, io.EOF) || len(names) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := removeAllAt(dir, n); err != nil {
				return err
			}
		}
	}
}

// procPath names the entry name in the open directory dir through /proc, for the calls
// that have no *at form (lsetxattr, lgetxattr). The final component is not followed by
// the l* calls, and the directory is the one we hold open.
func procPath(dir *os.File, name string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), name)
}

func timespec(sec, nsec int64) unix.Timespec { return unix.Timespec{Sec: sec, Nsec: nsec} }

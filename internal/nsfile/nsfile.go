// Package nsfile keeps Linux namespaces as files: a namespace bind-mounted on a file
// outlives every process in it, so a pod's network, IPC and UTS namespaces need no
// process of their own to hold them (as `ip netns add` and CRI-O's pinns do).
package nsfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// EnsureDir makes dir a shared bind mount of itself, as `ip netns` does for /run/netns.
// Mount namespaces created later (containers) then receive the later unmount of a
// namespace file instead of keeping a copy that pins the namespace.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create namespace dir %s: %w", dir, err)
	}
	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if !mounted {
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind namespace dir %s: %w", dir, err)
		}
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED, ""); err != nil {
		return fmt.Errorf("make namespace dir %s shared: %w", dir, err)
	}
	return nil
}

// ReleaseDir undoes EnsureDir after the namespace files inside are gone.
func ReleaseDir(dir string) error {
	mounted, err := isMountPoint(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if mounted {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount namespace dir %s: %w", dir, err)
		}
	}
	return nil
}

// isMountPoint compares the mount IDs of dir and its parent.
func isMountPoint(dir string) (bool, error) {
	var a, b unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, 0, unix.STATX_MNT_ID, &a); err != nil {
		return false, fmt.Errorf("stat %s: %w", dir, err)
	}
	if err := unix.Statx(unix.AT_FDCWD, filepath.Dir(dir), 0, unix.STATX_MNT_ID, &b); err != nil {
		return false, fmt.Errorf("stat %s: %w", filepath.Dir(dir), err)
	}
	return a.Mnt_id != b.Mnt_id, nil
}

// Remove unmounts and removes the namespace file at path; a missing one is no error.
func Remove(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove namespace %s: %w", path, err)
	}
	return nil
}

// Is tells whether path holds a namespace (a bind mount of the kernel's nsfs).
func Is(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// Kinds of namespace a file can hold, by their names under /proc/PID/ns.
var cloneFlags = map[string]int{"net": unix.CLONE_NEWNET, "ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS}

// Create makes new namespaces on a thread of its own and binds each at its file: paths
// maps a kind ("net", "ipc" or "uts") to a file that must not exist yet. setup, when not
// nil, runs on that thread inside the new namespaces first (a hostname, sysctls). The
// thread is never handed back to Go's scheduler: it ends with its goroutine, so no other
// goroutine runs in those namespaces. On failure no file is left.
func Create(paths map[string]string, setup func() error) error {
	flags := 0
	for kind := range paths {
		f, ok := cloneFlags[kind]
		if !ok {
			return fmt.Errorf("namespace kind %q: want net, ipc or uts", kind)
		}
		flags |= f
	}
	var made []string
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		errc <- func() error {
			if err := unix.Unshare(flags); err != nil {
				return fmt.Errorf("unshare namespaces: %w", err)
			}
			if setup != nil {
				if err := setup(); err != nil {
					return err
				}
			}
			tid := unix.Gettid()
			for kind, path := range paths {
				f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
				if err != nil {
					return fmt.Errorf("create namespace file: %w", err)
				}
				f.Close()
				made = append(made, path)
				src := fmt.Sprintf("/proc/self/task/%d/ns/%s", tid, kind)
				if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
					return fmt.Errorf("bind %s namespace at %s: %w", kind, path, err)
				}
			}
			return nil
		}()
	}()
	err := <-errc
	if err != nil {
		for _, p := range made {
			_ = Remove(p)
		}
	}
	return err
}

// Enter moves the calling thread into the namespace at path. Only for a thread that is
// locked and never handed back (as Create's setup runs on).
func Enter(path, kind string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s namespace: %w", kind, err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), cloneFlags[kind]); err != nil {
		return fmt.Errorf("enter %s namespace %s: %w", kind, path, err)
	}
	return nil
}

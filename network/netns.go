package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NewNamespace creates a network namespace, bind-mounts it at path (so it outlives every
// process in it) and brings its loopback up. The path must not exist yet.
func NewNamespace(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create netns dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file %s: %w", path, err)
	}
	f.Close()
	if err := mountNewNamespace(path); err != nil {
		os.Remove(path)
		return fmt.Errorf("create netns %s: %w", path, err)
	}
	if err := loopbackUp(path); err != nil {
		RemoveNamespace(path)
		return fmt.Errorf("create netns %s: %w", path, err)
	}
	return nil
}

// mountNewNamespace unshares a fresh namespace on a locked thread and binds it at path.
func mountNewNamespace(path string) error {
	return onNamespaceThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return nil
	}, func() error {
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount netns: %w", err)
		}
		return nil
	})
}

// loopbackUp sets lo up inside the namespace at path.
func loopbackUp(path string) error {
	h, closeFn, err := handleAt(path)
	if err != nil {
		return err
	}
	defer closeFn()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// handleAt opens a netlink handle that works inside the namespace at path.
func handleAt(path string) (*netlink.Handle, func(), error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open netns %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("netlink in netns %s: %w", path, err)
	}
	return h, func() { h.Close(); ns.Close() }, nil
}

// RemoveNamespace unmounts and removes a namespace file. An absent file is not an error.
func RemoveNamespace(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	return nil
}

// ensureNetnsDir makes dir a shared bind mount of itself, as `ip netns` does for
// /run/netns. Mount namespaces created later (containers) then receive the later
// unmount of a namespace file instead of keeping a copy that pins the namespace.
func ensureNetnsDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create netns dir %s: %w", dir, err)
	}
	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if !mounted {
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind netns dir %s: %w", dir, err)
		}
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED, ""); err != nil {
		return fmt.Errorf("make netns dir %s shared: %w", dir, err)
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

// releaseNetnsDir undoes ensureNetnsDir after the namespace files inside are gone.
func releaseNetnsDir(dir string) error {
	mounted, err := isMountPoint(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if mounted {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount netns dir %s: %w", dir, err)
		}
	}
	return nil
}

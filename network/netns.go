package network

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/nsfile"
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
func RemoveNamespace(path string) error { return nsfile.Remove(path) }

// ensureNetnsDir makes dir a shared bind mount of itself, as `ip netns` does for
// /run/netns (nsfile.EnsureDir).
func ensureNetnsDir(dir string) error { return nsfile.EnsureDir(dir) }

// releaseNetnsDir undoes ensureNetnsDir after the namespace files inside are gone.
func releaseNetnsDir(dir string) error { return nsfile.ReleaseDir(dir) }

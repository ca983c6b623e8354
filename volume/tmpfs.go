package volume

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
)

// The local driver's options, as Docker's: --opt type=tmpfs --opt device=tmpfs
// --opt o=size=100m,uid=1000. Only tmpfs is supported; a tmpfs volume is mounted at its
// Mountpoint by the first Mount and unmounted (its content gone) by the last Unmount.

// tmpfsKeys are the tmpfs mount options o may carry.
var tmpfsKeys = map[string]bool{"size": true, "nr_blocks": true, "nr_inodes": true, "mode": true, "uid": true, "gid": true}

func validateOptions(opts map[string]string) error {
	for k := range opts {
		if k != "type" && k != "device" && k != "o" {
			return fmt.Errorf("unknown volume option %q: the local driver takes type, device and o: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	if len(opts) == 0 {
		return nil
	}
	if opts["type"] != "tmpfs" {
		return fmt.Errorf("volume option type=%q is not supported: use type=tmpfs, or no options for a plain volume: %w", opts["type"], errdefs.ErrInvalidArgument)
	}
	if d := opts["device"]; d != "" && d != "tmpfs" {
		return fmt.Errorf("volume option device=%q does not fit type=tmpfs: use device=tmpfs or leave it out: %w", d, errdefs.ErrInvalidArgument)
	}
	if o := opts["o"]; o != "" {
		for _, kv := range strings.Split(o, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if !tmpfsKeys[k] || v == "" || strings.TrimLeft(v, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ%") != "" {
				return fmt.Errorf("volume option o: %q is not a tmpfs option this driver accepts (size, nr_blocks, nr_inodes, mode, uid, gid, each as key=value): %w", kv, errdefs.ErrInvalidArgument)
			}
		}
	}
	return nil
}

func isTmpfs(v Volume) bool { return v.Options["type"] == "tmpfs" }

func isMountpoint(p string) bool {
	m, err := mountinfo.Mounted(p)
	return err == nil && m
}

// Mount records one more user of the volume and returns the directory to bind-mount into
// the container. For a tmpfs volume the first user mounts the tmpfs. Each successful
// Mount must be matched by an Unmount.
func (s *Store) Mount(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.get(name)
	if err != nil {
		return "", err
	}
	// A tmpfs may still be mounted from before a daemon restart: reuse it, keep its data.
	if isTmpfs(v) && s.users[name] == 0 && !isMountpoint(v.Mountpoint) {
		if err := unix.Mount("tmpfs", v.Mountpoint, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, v.Options["o"]); err != nil {
			return "", fmt.Errorf("mount tmpfs volume %s: %w", name, err)
		}
	}
	s.users[name]++
	return v.Mountpoint, nil
}

// Unmount releases one user of the volume; when the last one goes, a tmpfs volume is
// unmounted and its content dropped. Unmounting a volume nobody mounted does nothing.
func (s *Store) Unmount(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[name] == 0 {
		return nil
	}
	v, err := s.get(name)
	if err != nil {
		delete(s.users, name)
		return err
	}
	if s.users[name] > 1 || !isTmpfs(v) {
		s.users[name]--
		if s.users[name] == 0 {
			delete(s.users, name)
		}
		return nil
	}
	err = unix.Unmount(v.Mountpoint, 0)
	if errors.Is(err, unix.EBUSY) {
		// Something still has a file open in it; detach so the volume can go anyway.
		err = unix.Unmount(v.Mountpoint, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) { // EINVAL: not mounted any more
		return fmt.Errorf("unmount tmpfs volume %s: %w", name, err)
	}
	delete(s.users, name)
	return nil
}

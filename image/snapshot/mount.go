package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
)

// keyRE is what a snapshot key may look like; its length (at most 128) is checked apart:
// a {0,127} repetition would make the regexp compile into ~120 KB of states, kept by
// every drover process (shims and container inits included).
var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func validKey(key string) error {
	if len(key) > 128 || !keyRE.MatchString(key) {
		return fmt.Errorf("container layer key %q: use 1-128 letters, digits, '_', '.', '-': %w", key, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (s *Snapshotter) containerDir(key string) string {
	return filepath.Join(s.root, "containers", key)
}

// Dirs describes container layer key as Docker's inspect does (GraphDriver): its driver
// and, for overlay, the lower, upper and work directories.
func (s *Snapshotter) Dirs(key string) (driver Driver, dirs map[string]string, err error) {
	if err := validKey(key); err != nil {
		return "", nil, err
	}
	dir := s.containerDir(key)
	d, err := readMeta(dir, "driver")
	if err != nil {
		return "", nil, fmt.Errorf("container layer %s: %w", key, errdefs.ErrNotFound)
	}
	driver = Driver(d)
	if driver != DriverOverlay {
		return driver, map[string]string{}, nil
	}
	parent, err := readMeta(dir, "parent")
	if err != nil {
		return "", nil, err
	}
	dirs = map[string]string{"UpperDir": filepath.Join(dir, "upper"), "WorkDir": filepath.Join(dir, "work")}
	if parent != "" {
		lowers, err := s.lowers(digest.Digest(parent))
		if err != nil {
			return "", nil, err
		}
		dirs["LowerDir"] = strings.Join(lowers, ":")
	}
	return driver, dirs, nil
}

// Driver is the driver new container layers get: the forced one, else overlay when a
// probe mount works, else copy.
func (s *Snapshotter) Driver() Driver {
	s.probeOnce.Do(func() {
		switch {
		case s.forced != "":
			s.driver = s.forced
		case s.probeOverlay() == nil:
			s.driver = DriverOverlay
		default:
			s.driver = DriverCopy
		}
	})
	return s.driver
}

// probeOverlay mounts a tiny overlay below tmp/ to learn whether overlayfs works here (it
// does not on an overlayfs root, nor without the module).
func (s *Snapshotter) probeOverlay() error {
	fsList, err := os.ReadFile("/proc/filesystems")
	if err != nil || !strings.Contains(string(fsList), "\toverlay\n") {
		return errors.New("overlayfs is not available")
	}
	dir, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	merged := filepath.Join(dir, "merged")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return err
	}
	return unix.Unmount(merged, unix.MNT_DETACH)
}

// Prepare makes the writable layer of a container (key) on top of chain ("" for an empty
// root filesystem). With the copy driver this copies the whole chain.
func (s *Snapshotter) Prepare(key string, chain digest.Digest) error {
	if err := validKey(key); err != nil {
		return err
	}
	var lowers []string
	if chain != "" {
		var err error
		if lowers, err = s.lowers(chain); err != nil {
			return fmt.Errorf("prepare %s: %w", key, err)
		}
	}
	dir := s.containerDir(key)
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("container layer %s: %w", key, errdefs.ErrAlreadyExists)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "prepare-")
	if err != nil {
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	driver := s.Driver()
	if err := os.WriteFile(filepath.Join(tmp, "driver"), []byte(driver), 0o600); err != nil {
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "parent"), []byte(chain), 0o600); err != nil {
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	switch driver {
	case DriverOverlay:
		for _, d := range []string{"upper", "work", "empty"} {
			if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
				return fmt.Errorf("prepare %s: %w", key, err)
			}
		}
	case DriverCopy:
		rootfs := filepath.Join(tmp, "rootfs")
		if err := os.Mkdir(rootfs, 0o755); err != nil {
			return fmt.Errorf("prepare %s: %w", key, err)
		}
		for i := len(lowers) - 1; i >= 0; i-- {
			if err := copyLayer(context.Background(), rootfs, lowers[i]); err != nil {
				return fmt.Errorf("prepare %s: copy layer: %w", key, err)
			}
		}
	default:
		return fmt.Errorf("prepare %s: unknown snapshot driver %q", key, driver)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if errors.Is(err, fs.ErrExist) || errors.Is(err, unix.ENOTEMPTY) {
			return fmt.Errorf("container layer %s: %w", key, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	done = true
	return nil
}

// Mount mounts the container's root filesystem at target: overlayfs of its upper layer on
// the image's chain, or a bind mount of its private copy. readonly gives a read-only view.
func (s *Snapshotter) Mount(key, target string, readonly bool) error {
	if err := validKey(key); err != nil {
		return err
	}
	dir := s.containerDir(key)
	driver, err := readMeta(dir, "driver")
	if err != nil {
		return fmt.Errorf("mount %s: container layer not prepared: %w", key, errdefs.ErrNotFound)
	}
	if Driver(driver) == DriverCopy {
		return bindMount(filepath.Join(dir, "rootfs"), target, readonly)
	}
	parent, err := readMeta(dir, "parent")
	if err != nil {
		return fmt.Errorf("mount %s: %w", key, err)
	}
	lowers := []string{filepath.Join(dir, "empty")}
	if parent != "" {
		if lowers, err = s.lowers(digest.Digest(parent)); err != nil {
			return fmt.Errorf("mount %s: %w", key, err)
		}
	}
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	if readonly {
		// Without upperdir overlayfs is read-only; the container's upper joins the lowers.
		lowers = append([]string{upper}, lowers...)
		upper, work = "", ""
	}
	if err := mountOverlay(target, lowers, upper, work, readonly); err != nil {
		return fmt.Errorf("mount %s on %s: %w", key, target, err)
	}
	return nil
}

func bindMount(src, target string, readonly bool) error {
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", src, target, err)
	}
	if readonly {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remount %s read-only: %w", target, err)
		}
	}
	return nil
}

// mountOverlay mounts overlayfs. mount(2) takes all options in one page; a longer chain
// goes through the new mount API, which adds lowerdirs one by one ("lowerdir+", Linux 6.8).
func mountOverlay(target string, lowers []string, upper, work string, readonly bool) error {
	for _, l := range lowers {
		if strings.ContainsAny(l, ",:") {
			return fmt.Errorf("layer path %s has a ',' or ':' that overlayfs options cannot carry", l)
		}
	}
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work
	}
	var flags uintptr
	if readonly {
		flags = unix.MS_RDONLY
	}
	if len(opts)+len(",index=off") < os.Getpagesize()-1 {
		// index=off: the same upper may meet a lower set that differs from the last mount.
		err := unix.Mount("overlay", target, "overlay", flags, opts+",index=off")
		if err != nil {
			err = unix.Mount("overlay", target, "overlay", flags, opts)
		}
		return err
	}
	return mountOverlayFsopen(target, lowers, upper, work, readonly)
}

func mountOverlayFsopen(target string, lowers []string, upper, work string, readonly bool) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("%d layers are too many for mount(2) and fsopen failed: %w", len(lowers), err)
	}
	defer unix.Close(fsfd)
	set := func(k, v string) error {
		if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
			return fmt.Errorf("overlay option %s: %w", k, err)
		}
		return nil
	}
	for _, l := range lowers {
		if err := set("lowerdir+", l); err != nil {
			return fmt.Errorf("%d layers: this kernel cannot add lowerdirs one by one (Linux 6.8+ needed): %w", len(lowers), err)
		}
	}
	if upper != "" {
		if err := set("upperdir", upper); err != nil {
			return err
		}
		if err := set("workdir", work); err != nil {
			return err
		}
	}
	_ = set("index", "off")
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("create overlay: %w", err)
	}
	var attr int
	if readonly {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move overlay mount to %s: %w", target, err)
	}
	return nil
}

// Unmount unmounts target (every mount stacked on it). Not being mounted is fine; a busy
// mount is detached lazily, to go away when its last user does.
func (s *Snapshotter) Unmount(target string) error {
	for i := 0; i < 100; i++ {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
			continue // stacked mounts: go on until EINVAL
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount %s: %w", target, err)
			}
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after 100 unmounts", target)
}

// Remove deletes the container layer key (unmount it first). A missing layer is fine.
func (s *Snapshotter) Remove(key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := s.removeDir(s.containerDir(key)); err != nil {
		return fmt.Errorf("remove container layer %s: %w", key, err)
	}
	return nil
}

// Usage is the disk use of the container layer key in bytes: its upper layer with the
// overlay driver, its whole copy with the copy driver.
func (s *Snapshotter) Usage(key string) int64 {
	if validKey(key) != nil {
		return 0
	}
	dir := s.containerDir(key)
	if d, _ := readMeta(dir, "driver"); Driver(d) == DriverCopy {
		return du(filepath.Join(dir, "rootfs"))
	}
	return du(filepath.Join(dir, "upper"))
}

// Keys lists the prepared container layers and the chain each runs on.
func (s *Snapshotter) Keys() (map[string]digest.Digest, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "containers"))
	if err != nil {
		return nil, fmt.Errorf("list container layers: %w", err)
	}
	out := map[string]digest.Digest{}
	for _, e := range entries {
		p, err := readMeta(filepath.Join(s.root, "containers", e.Name()), "parent")
		if err != nil {
			continue
		}
		out[e.Name()] = digest.Digest(p)
	}
	return out, nil
}

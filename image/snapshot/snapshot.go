// Package snapshot unpacks image layers once into directories keyed by chain ID and gives
// each container an overlayfs root filesystem on top of its image's chain.
//
//	snapshots/<chain>/fs      the layer's files (overlayfs whiteouts applied)
//	snapshots/<chain>/parent  the parent chain ID, empty for a base layer
//	containers/<key>/upper    the container's writable layer
//	containers/<key>/work     overlayfs work directory
package snapshot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/archive"
	"github.com/drover/drover/internal/errdefs"
)

// Snapshotter manages layer snapshots and container layers under a root directory.
type Snapshotter struct {
	root string
}

// Open creates (if needed) the snapshotter's directories and drops half-made snapshots.
func Open(root string) (*Snapshotter, error) {
	for _, d := range []string{"snapshots", "containers", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	tmp, _ := os.ReadDir(filepath.Join(root, "tmp"))
	for _, e := range tmp {
		_ = os.RemoveAll(filepath.Join(root, "tmp", e.Name()))
	}
	return &Snapshotter{root: root}, nil
}

func (s *Snapshotter) dir(chain digest.Digest) string {
	return filepath.Join(s.root, "snapshots", chain.Encoded())
}

// Exists reports whether the chain is unpacked.
func (s *Snapshotter) Exists(chain digest.Digest) bool {
	_, err := os.Stat(filepath.Join(s.dir(chain), "fs"))
	return err == nil
}

// Unpack applies an uncompressed layer tar on top of parent as snapshot chain. It is a
// no-op when chain exists; a failure or crash leaves no visible snapshot.
func (s *Snapshotter) Unpack(chain, parent digest.Digest, layer io.Reader, limits archive.Limits) error {
	if s.Exists(chain) {
		_, _ = io.Copy(io.Discard, layer)
		return nil
	}
	if parent != "" && !s.Exists(parent) {
		return fmt.Errorf("parent snapshot %s missing: %w", parent, errdefs.ErrNotFound)
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "unpack-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fsDir, 0o755); err != nil {
		return err
	}
	limits.Layer = true
	if err := archive.Untar(layer, fsDir, "/", limits); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "parent"), []byte(parent), 0o600); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.dir(chain)); err != nil {
		if s.Exists(chain) { // unpacked meanwhile by someone else
			return nil
		}
		return err
	}
	ok = true
	return nil
}

// syncDir flushes the filesystem holding dir, so the rename that follows publishes a
// snapshot whose files are on disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// chain lists the fs directories of chain and its parents, newest first.
func (s *Snapshotter) chain(chain digest.Digest) ([]string, error) {
	var dirs []string
	for c := chain; c != ""; {
		if !s.Exists(c) {
			return nil, fmt.Errorf("snapshot %s missing: %w", c, errdefs.ErrNotFound)
		}
		dirs = append(dirs, filepath.Join(s.dir(c), "fs"))
		p, err := os.ReadFile(filepath.Join(s.dir(c), "parent"))
		if err != nil {
			return nil, err
		}
		c = digest.Digest(strings.TrimSpace(string(p)))
		if len(dirs) > 500 {
			return nil, errors.New("snapshot chain too long or looping")
		}
	}
	return dirs, nil
}

func (s *Snapshotter) containerDir(key string) string {
	return filepath.Join(s.root, "containers", key)
}

// Prepare makes the writable layer of a container (key) on top of chain.
func (s *Snapshotter) Prepare(key string, chain digest.Digest) error {
	if _, err := s.chain(chain); err != nil {
		return err
	}
	dir := s.containerDir(key)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("container layer %s: %w", key, errdefs.ErrAlreadyExists)
		}
		return err
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			os.RemoveAll(dir)
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "parent"), []byte(chain), 0o600); err != nil {
		os.RemoveAll(dir)
		return err
	}
	return nil
}

// Mount mounts the container's root filesystem (overlayfs) at target.
func (s *Snapshotter) Mount(key, target string, readonly bool) error {
	dir := s.containerDir(key)
	p, err := os.ReadFile(filepath.Join(dir, "parent"))
	if err != nil {
		return fmt.Errorf("container layer %s: %w", key, errdefs.ErrNotFound)
	}
	lowers, err := s.chain(digest.Digest(strings.TrimSpace(string(p))))
	if err != nil {
		return err
	}
	var opts string
	if readonly {
		// overlayfs needs two lowers for a mount without upper; a read-only upper serves.
		opts = "lowerdir=" + filepath.Join(dir, "upper") + ":" + strings.Join(lowers, ":")
	} else {
		opts = fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lowers, ":"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	}
	if len(opts) >= os.Getpagesize()-64 {
		return fmt.Errorf("too many layers for one overlay mount (%d)", len(lowers))
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts+",index=off"); err != nil {
		if err2 := unix.Mount("overlay", target, "overlay", 0, opts); err2 != nil {
			return fmt.Errorf("mount overlay on %s: %w", target, err2)
		}
	}
	return nil
}

// Unmount unmounts target; not being mounted is fine.
func (s *Snapshotter) Unmount(target string) error {
	for i := 0; i < 10; i++ {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
			continue // mounted more than once? try again until EINVAL
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY):
			return unix.Unmount(target, unix.MNT_DETACH)
		default:
			return err
		}
	}
	return nil
}

// Remove deletes the container layer key.
func (s *Snapshotter) Remove(key string) error {
	return os.RemoveAll(s.containerDir(key))
}

// RemoveSnapshot deletes an unpacked layer (when no image uses it any more).
func (s *Snapshotter) RemoveSnapshot(chain digest.Digest) error {
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "rm-")
	if err != nil {
		return err
	}
	// Rename first so a crash mid-delete leaves no half snapshot under its name.
	if err := os.Rename(s.dir(chain), filepath.Join(tmp, "s")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(tmp)
		return err
	}
	return os.RemoveAll(tmp)
}

// Usage is the disk use of the container layer key in bytes.
func (s *Snapshotter) Usage(key string) int64 {
	return du(filepath.Join(s.containerDir(key), "upper"))
}

// Size is the disk use of one unpacked layer.
func (s *Snapshotter) Size(chain digest.Digest) int64 {
	return du(filepath.Join(s.dir(chain), "fs"))
}

func du(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

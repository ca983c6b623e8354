package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/errdefs"
)

const (
	seedSuffix   = ".seed-" // <data dir>.seed-<random>: a copy in progress, removed at Open
	maxSeedDepth = 512      // each level holds two descriptors open; no real image nests deeper
)

// Seed copies the content of src (a directory inside a container rootfs) into the volume's
// data directory dst if dst is empty, as Docker does the first time a volume is mounted
// over an image directory. A missing src is a no-op. Modes, ownership, symlinks (never
// followed), hardlinks within src, xattrs where the file system allows, times, device
// nodes and fifos are kept; sockets are skipped. src itself gives its ownership and mode
// to dst.
//
// The image is hostile: src's final component must not be a symlink (the caller resolves
// the path inside the rootfs, e.g. with securejoin), and below it every entry is reached
// through directory descriptors opened with O_NOFOLLOW, so nothing outside src is read and
// nothing outside dst is written.
//
// The copy goes to a sibling directory renamed onto dst at the end, so a crash never leaves
// a half-seeded volume (Open removes the sibling) and of two concurrent Seeds one wins.
// When dst is a mount point (a tmpfs volume) it is filled in place.
func Seed(dst, src string) error {
	srcDir, err := openDir(unix.AT_FDCWD, src)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("seed volume from %s: it is a symlink: resolve it inside the container's root first: %w", src, errdefs.ErrInvalidArgument)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("seed volume from %s: it is not a directory: mount the volume on a directory: %w", src, errdefs.ErrInvalidArgument)
	case err != nil:
		return fmt.Errorf("seed volume from %s: %w", src, err)
	}
	defer srcDir.Close()

	empty, err := isEmptyDir(dst)
	if err != nil || !empty {
		if err != nil {
			return fmt.Errorf("seed volume %s: %w", dst, err)
		}
		return nil
	}
	if isMountpoint(dst) {
		if err := copyInto(dst, srcDir); err != nil {
			return fmt.Errorf("seed volume %s from %s: %w", dst, src, err)
		}
		return nil
	}

	tmp := dst + seedSuffix + randomName()[:16]
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("seed volume %s: %w", dst, err)
	}
	err = copyInto(tmp, srcDir)
	if err == nil {
		err = atomicfile.SyncFS(tmp) // the rename must not become durable before the data
	}
	if err == nil {
		// rename(2) replaces dst only while it is still empty (os.Rename refuses any
		// existing directory, hence the raw call).
		err = unix.Rename(tmp, dst)
		if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
			err = nil // seeded meanwhile by someone else, or written to: theirs stays
		}
	}
	os.RemoveAll(tmp) // no-op after a successful rename
	if err != nil {
		return fmt.Errorf("seed volume %s from %s: %w", dst, src, err)
	}
	return nil
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// openDir opens name in dirfd as a directory, never following a symlink.
func openDir(dirfd int, name string) (*os.File, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// copyInto copies the content of srcDir into the empty directory dst, then gives dst the
// ownership, mode, xattrs and times of srcDir.
func copyInto(dst string, srcDir *os.File) error {
	dstDir, err := openDir(unix.AT_FDCWD, dst)
	if err != nil {
		return err
	}
	defer dstDir.Close()
	c := &copier{dstRoot: dstDir, links: map[inode]string{}, root: os.Geteuid() == 0}
	if err := c.copyDir(srcDir, dstDir, "", 0); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(srcDir.Fd()), &st); err != nil {
		return err
	}
	// "." through the descriptors names the directories themselves.
	return c.setAttrs(srcDir, dstDir, ".", &st)
}

type inode struct{ dev, ino uint64 }

type copier struct {
	dstRoot *os.File
	links   map[inode]string // source inode with several links -> its first copy, relative to dstRoot
	root    bool             // running as root: ownership must be kept, not merely tried
}

func (c *copier) copyDir(src, dst *os.File, rel string, depth int) error {
	if depth >= maxSeedDepth {
		return fmt.Errorf("directories nest more than %d levels deep", maxSeedDepth)
	}
	names, err := src.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", displayRel(rel), err)
	}
	for _, name := range names {
		if err := c.copyEntry(src, dst, rel, name, depth); err != nil {
			return err
		}
	}
	return nil
}

func displayRel(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

func (c *copier) copyEntry(src, dst *os.File, rel, name string, depth int) error {
	p := path.Join(rel, name)
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	var st unix.Stat_t
	if err := unix.Fstatat(sfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFSOCK {
		return nil // a socket is meaningless without its process
	}
	key := inode{st.Dev, st.Ino}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			if err := c.link(first, dst, name); err != nil {
				return fmt.Errorf("hardlink %s to %s: %w", p, first, err)
			}
			return nil
		}
	}
	var err error
	switch typ {
	case unix.S_IFDIR:
		err = c.copySubdir(src, dst, name, p, depth)
	case unix.S_IFREG:
		err = copyFile(src, dst, name, &st)
	case unix.S_IFLNK:
		err = copySymlink(sfd, dfd, name)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		err = unix.Mknodat(dfd, name, st.Mode&(unix.S_IFMT|0o777), int(st.Rdev))
	default:
		return nil
	}
	if err == nil {
		err = c.setAttrs(src, dst, name, &st)
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		c.links[key] = p
	}
	return nil
}

func (c *copier) copySubdir(src, dst *os.File, name, p string, depth int) error {
	if err := unix.Mkdirat(int(dst.Fd()), name, 0o700); err != nil {
		return err
	}
	s, err := openDir(int(src.Fd()), name)
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := openDir(int(dst.Fd()), name)
	if err != nil {
		return err
	}
	defer d.Close()
	return c.copyDir(s, d, p, depth+1)
}

func copyFile(src, dst *os.File, name string, want *unix.Stat_t) error {
	// O_NONBLOCK: should the entry have turned into a fifo since the stat, do not hang.
	in, err := unix.Openat(int(src.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	inf := os.NewFile(uintptr(in), name)
	defer inf.Close()
	var st unix.Stat_t
	if err := unix.Fstat(in, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Ino != want.Ino || st.Dev != want.Dev {
		return errors.New("changed while being copied")
	}
	out, err := unix.Openat(int(dst.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	outf := os.NewFile(uintptr(out), name)
	_, err = io.Copy(outf, inf)
	if cerr := outf.Close(); err == nil {
		err = cerr
	}
	return err
}

func copySymlink(sfd, dfd int, name string) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(sfd, name, buf)
	if err != nil {
		return err
	}
	return unix.Symlinkat(string(buf[:n]), dfd, name) // the target is copied as text only
}

// link makes name in dst a hardlink to first (relative to dstRoot), resolving first's
// directory beneath dstRoot without following any symlink.
func (c *copier) link(first string, dst *os.File, name string) error {
	dir, base := path.Split(first)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	fd, err := unix.Openat2(int(c.dstRoot.Fd()), dir, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Linkat(fd, base, int(dst.Fd()), name, 0)
}

// setAttrs gives name in dst (a fresh copy, so no symlink unless it is one itself) the
// ownership, mode, xattrs and times of st, the entry name in src. Ownership comes first:
// chown clears setuid bits and file capabilities.
func (c *copier) setAttrs(src, dst *os.File, name string, st *unix.Stat_t) error {
	dfd := int(dst.Fd())
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil && (c.root || !errors.Is(err, unix.EPERM)) {
		return fmt.Errorf("chown: %w", err)
	}
	if !isLink { // symlinks have no mode of their own on Linux
		if err := unix.Fchmodat(dfd, name, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := copyXattrs(procPath(src, name), procPath(dst, name)); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// procPath names name in the open directory dir for the xattr calls, which have no *at
// form; the l* calls do not follow its final component.
func procPath(dir *os.File, name string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), name) // not Join: "." must stay, to enter the directory
}

func copyXattrs(src, dst string) error {
	names, err := listXattrs(src)
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, "trusted.overlay.") {
			continue // overlayfs bookkeeping, meaningless outside its layer
		}
		v, err := getXattr(src, n)
		if err != nil {
			return err
		}
		err = unix.Lsetxattr(dst, n, v, 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
			return fmt.Errorf("set xattr %s: %w", n, err)
		}
	}
	return nil
}

func listXattrs(p string) ([]string, error) {
	for size := 1024; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		var out []string
		for _, s := range strings.Split(string(buf[:n]), "\x00") {
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
}

func getXattr(p, name string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s: %w", name, err)
		}
		return buf[:n], nil
	}
}

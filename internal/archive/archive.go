// Package archive copies files in and out of a container's root filesystem as tar streams
// (drover cp). The root filesystem belongs to a possibly hostile container, so every path
// is resolved by the kernel inside it (openat2 RESOLVE_IN_ROOT / RESOLVE_BENEATH) and no
// symlink planted by the container or by the tar can lead outside.
package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
)

// openInRoot opens p (absolute inside root) with symlinks resolved as if root were "/".
func openInRoot(root *os.File, p string, flags int) (*os.File, error) {
	rel := strings.TrimLeft(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(int(root.Fd()), rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openBeneath opens rel below dir without following any symlink.
func openBeneath(dir *os.File, rel string, flags int) (*os.File, error) {
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(int(dir.Fd()), rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// Tar writes the file or directory at p (inside rootfs) to w; entries are named from p's
// base name, as docker cp does.
func Tar(w io.Writer, rootfs, p string) error {
	root, err := os.Open(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	clean := path.Clean("/" + p)
	parent, base := path.Split(clean)
	if base == "" {
		base = "."
	}
	dir, err := openInRoot(root, parent, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return notFound(p, err)
	}
	defer dir.Close()
	tw := tar.NewWriter(w)
	name := base
	if base == "." {
		name = "."
	}
	if err := addEntry(tw, dir, base, name); err != nil {
		return notFound(p, err)
	}
	return tw.Close()
}

func notFound(p string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("could not find %s in the container: %w", p, errdefs.ErrNotFound)
	}
	return err
}

// addEntry writes rel (below dir) as name, recursing into directories.
func addEntry(tw *tar.Writer, dir *os.File, rel, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), rel, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "stat", Path: name, Err: err}
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name = strings.TrimSuffix(name, "/") + "/"
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		sub, err := openBeneath(dir, rel, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		defer sub.Close()
		names, err := sub.Readdirnames(-1)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := addEntry(tw, sub, n, path.Join(name, n)); err != nil {
				return err
			}
		}
		return nil
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		f, err := openBeneath(dir, rel, unix.O_RDONLY|unix.O_NOFOLLOW)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.CopyN(tw, f, st.Size)
		return err
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(int(dir.Fd()), rel, buf)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = string(buf[:n])
		return tw.WriteHeader(hdr)
	default:
		// Devices, fifos and sockets are not copied out.
		return nil
	}
}

// Limits bound what Untar writes, against decompression and size bombs.
type Limits struct {
	MaxBytes   int64
	MaxEntries int
}

// DefaultLimits suit docker cp of ordinary files.
var DefaultLimits = Limits{MaxBytes: 64 << 30, MaxEntries: 1 << 20}

// Untar extracts the tar stream r into directory dst inside rootfs. Entries that would
// land outside dst, or pass through a symlink, are refused.
func Untar(r io.Reader, rootfs, dst string, lim Limits) error {
	root, err := os.Open(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	dir, err := openInRoot(root, dst, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("destination %s in the container is not a directory: %w", dst, errdefs.ErrInvalidArgument)
		}
		return notFound(dst, err)
	}
	defer dir.Close()
	tr := tar.NewReader(r)
	var total int64
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		if n >= lim.MaxEntries {
			return fmt.Errorf("tar has more than %d entries: %w", lim.MaxEntries, errdefs.ErrInvalidArgument)
		}
		if hdr.Size > 0 {
			total += hdr.Size
			if total > lim.MaxBytes {
				return fmt.Errorf("tar is larger than %d bytes: %w", lim.MaxBytes, errdefs.ErrInvalidArgument)
			}
		}
		if err := extract(dir, hdr, tr); err != nil {
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
	}
}

// cleanName makes a tar entry name relative and refuses names that climb out.
func cleanName(name string) (string, error) {
	c := path.Clean("/" + name)
	if c == "/" {
		return ".", nil
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("path %q climbs out of the destination: %w", name, errdefs.ErrInvalidArgument)
		}
	}
	return strings.TrimPrefix(c, "/"), nil
}

func extract(dir *os.File, hdr *tar.Header, r io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	parentRel, base := path.Split(name)
	parent, err := openBeneath(dir, strings.TrimSuffix(parentRel, "/"), unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		// Archives may omit directory entries; make the parents as tar does.
		parent, err = mkdirBeneath(dir, strings.TrimSuffix(parentRel, "/"))
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV) {
			return fmt.Errorf("parent passes through a symlink: %w", errdefs.ErrInvalidArgument)
		}
		return err
	}
	defer parent.Close()
	pfd := int(parent.Fd())
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && err != unix.EEXIST {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("exists and is not a directory: %w", errdefs.ErrInvalidArgument)
		}
		d, err := openBeneath(parent, base, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		err = setAttrs(d, hdr)
		d.Close()
		if err != nil {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		_ = unix.Unlinkat(pfd, base, 0)
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		_, err = io.Copy(f, r)
		if err == nil {
			err = setAttrs(f, hdr)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		_ = unix.Unlinkat(pfd, base, 0)
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return err
		}
		tparentRel, tbase := path.Split(target)
		tparent, err := openBeneath(dir, strings.TrimSuffix(tparentRel, "/"), unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("hardlink target: %w", err)
		}
		defer tparent.Close()
		_ = unix.Unlinkat(pfd, base, 0)
		if err := unix.Linkat(int(tparent.Fd()), tbase, pfd, base, 0); err != nil {
			return err
		}
	default:
		return nil // devices, fifos and the like are not created by cp
	}
	if hdr.Typeflag == tar.TypeSymlink {
		_ = unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// setAttrs applies ownership, mode and times through an open file, never through a path
// the container could swap for a symlink.
func setAttrs(f *os.File, hdr *tar.Header) error {
	_ = f.Chown(hdr.Uid, hdr.Gid)
	if err := f.Chmod(os.FileMode(hdr.Mode&0o777) | modeBits(hdr.Mode)); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	_ = unix.UtimesNanoAt(int(f.Fd()), "", ts, unix.AT_EMPTY_PATH)
	return nil
}

func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}

// mkdirBeneath makes rel and its missing parents below dir, following no symlink, and
// returns the last directory opened.
func mkdirBeneath(dir *os.File, rel string) (*os.File, error) {
	cur, err := openBeneath(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	for _, part := range strings.Split(rel, "/") {
		if part == "" || part == "." {
			continue
		}
		if err := unix.Mkdirat(int(cur.Fd()), part, 0o755); err != nil && err != unix.EEXIST {
			cur.Close()
			return nil, err
		}
		next, err := openBeneath(cur, part, unix.O_RDONLY|unix.O_DIRECTORY)
		cur.Close()
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

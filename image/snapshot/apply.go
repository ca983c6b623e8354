package snapshot

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh." // aufs metadata; only the opaque marker below is honoured
	whiteoutOpaque = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
	paxXattr       = "SCHILYXATTR."
)

// applyMode says how whiteouts are written.
type applyMode int

const (
	// overlayMode writes one layer into its own empty directory, converting whiteouts
	// into overlayfs's format: a 0/0 character device for a removed entry and the
	// trusted.overlay.opaque=y xattr for an opaque directory.
	overlayMode applyMode = iota
	// mergeMode applies a layer on top of a merged tree (the copy-up fallback): whiteouts
	// delete what they name, an opaque marker empties its directory.
	mergeMode
)

// applier applies one OCI layer tar below root.
type applier struct {
	root   *os.File
	mode   applyMode
	limits Limits

	entries   int64
	size      int64 // bytes of regular file content written
	whiteouts map[string]bool
	dirTimes  []dirTime
}

type dirTime struct {
	rel          string
	atime, mtime time.Time
}

// writerOnly is an io.Writer and nothing else.
type writerOnly struct{ io.Writer }

var copyBuf = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// applyLayer reads the tar stream r and applies it below dir. It returns the bytes of file
// content written. Every refusal names the entry and the problem.
func applyLayer(ctx context.Context, dir string, r io.Reader, mode applyMode, limits Limits) (int64, error) {
	root, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	a := &applier{root: root, mode: mode, limits: limits.withDefaults(), whiteouts: map[string]bool{}}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return a.size, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader) || errors.Is(err, tar.ErrFieldTooLong) {
				return a.size, refusal("read layer tar: %v", err)
			}
			return a.size, fmt.Errorf("read layer tar: %w", err)
		}
		a.entries++
		if a.entries > a.limits.MaxEntries {
			return a.size, refusal("layer has more than %d entries", a.limits.MaxEntries)
		}
		if err := a.entry(hdr, tr); err != nil {
			return a.size, fmt.Errorf("layer entry %q: %w", truncate(hdr.Name), err)
		}
	}
	// Directory times last: creating their children changed them.
	for i := len(a.dirTimes) - 1; i >= 0; i-- {
		dt := a.dirTimes[i]
		d, err := openDir(a.root, dt.rel, false)
		if err != nil {
			continue // replaced by a later entry
		}
		err = setTimes(d, "", dt.atime, dt.mtime)
		d.Close()
		if err != nil {
			return a.size, fmt.Errorf("layer entry %q: %w", dt.rel, err)
		}
	}
	return a.size, nil
}

func truncate(s string) string {
	if len(s) > 256 {
		return s[:256] + "..."
	}
	return s
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanRel(hdr.Name)
	if err != nil {
		return err
	}
	if hdr.Size < 0 || hdr.Size > a.limits.MaxBytes {
		return refusal("size %d is over the %d byte layer limit", hdr.Size, a.limits.MaxBytes)
	}
	if hdr.Uid < 0 || hdr.Gid < 0 || hdr.Uid > 1<<32-2 || hdr.Gid > 1<<32-2 {
		return refusal("owner %d:%d is out of range", hdr.Uid, hdr.Gid)
	}
	dir, base := split(rel)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(dir, base)
	}
	if rel == "." {
		if hdr.Typeflag != tar.TypeDir {
			return refusal("the layer root can only be a directory")
		}
		return a.meta(a.root, "", hdr, true)
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return refusal("unsupported tar entry type %q", hdr.Typeflag)
	}
	parent, err := openDir(a.root, dir, true)
	if err != nil {
		return err
	}
	defer parent.Close()

	st, exists, err := lstatAt(parent, base)
	if err != nil {
		return err
	}
	if exists && !(hdr.Typeflag == tar.TypeDir && st.Mode&unix.S_IFMT == unix.S_IFDIR) {
		// Replace, never write into what is there: no writing through an earlier symlink
		// or hardlink of the same name.
		if err := removeAllAt(parent, base); err != nil {
			return err
		}
		exists = false
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.dir(parent, base, rel, hdr, exists)
	case tar.TypeReg, tar.TypeRegA:
		return a.file(parent, base, hdr, r)
	case tar.TypeSymlink:
		if hdr.Linkname == "" || len(hdr.Linkname) > maxNameLen || strings.IndexByte(hdr.Linkname, 0) >= 0 {
			return refusal("symlink target is empty, too long or has a NUL byte")
		}
		// The target is stored as text and never followed here.
		if err := unix.Symlinkat(hdr.Linkname, int(parent.Fd()), base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		return a.meta(parent, base, hdr, false)
	case tar.TypeLink:
		return a.hardlink(parent, base, hdr)
	default: // char, block, fifo
		return a.node(parent, base, hdr)
	}
}

// whiteout handles ".wh.name" and ".wh..wh..opq" entries.
func (a *applier) whiteout(dir, base string) error {
	if base == whiteoutOpaque {
		d, err := openDir(a.root, dir, true)
		if err != nil {
			return err
		}
		defer d.Close()
		if a.mode == mergeMode {
			return clearDir(d)
		}
		return setOpaque(d)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // other aufs metadata (.wh..wh.plnk, .wh..wh.aufs) means nothing here
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return refusal("whiteout names nothing")
	}
	parent, err := openDir(a.root, dir, true)
	if err != nil {
		return err
	}
	defer parent.Close()
	if a.mode == mergeMode {
		return removeAllAt(parent, name)
	}
	rel := path.Join(dir, name)
	a.whiteouts[rel] = true
	st, exists, err := lstatAt(parent, name)
	if err != nil {
		return err
	}
	if exists {
		// The same layer has the entry too. A whiteout hides lower layers only: a file
		// here hides them anyway, a directory must stop merging with them.
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			d, err := openDir(a.root, rel, false)
			if err != nil {
				return err
			}
			defer d.Close()
			return setOpaque(d)
		}
		return nil
	}
	if err := unix.Mknodat(int(parent.Fd()), name, unix.S_IFCHR|0, 0); err != nil {
		return fmt.Errorf("whiteout device: %w", err)
	}
	return nil
}

func setOpaque(d *os.File) error {
	if err := unix.Fsetxattr(int(d.Fd()), opaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("mark directory opaque (%s): %w", opaqueXattr, err)
	}
	return nil
}

func (a *applier) dir(parent *os.File, base, rel string, hdr *tar.Header, exists bool) error {
	if !exists {
		if err := unix.Mkdirat(int(parent.Fd()), base, 0o755); err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	}
	fd, err := openDirAt(int(parent.Fd()), base)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	d := os.NewFile(uintptr(fd), rel)
	defer d.Close()
	if a.mode == overlayMode && a.whiteouts[rel] {
		// Whited out and recreated in this layer: the lower directory must not show.
		if err := setOpaque(d); err != nil {
			return err
		}
	}
	if err := a.meta(d, "", hdr, true); err != nil {
		return err
	}
	a.dirTimes = append(a.dirTimes, dirTime{rel: rel, atime: accessTime(hdr), mtime: hdr.ModTime})
	return nil
}

func (a *applier) file(parent *os.File, base string, hdr *tar.Header, r io.Reader) error {
	a.size += hdr.Size
	if a.size > a.limits.MaxBytes {
		return refusal("layer content is over the %d byte limit", a.limits.MaxBytes)
	}
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	buf := copyBuf.Get().(*[]byte)
	// writerOnly hides os.File's ReadFrom, which would ignore buf and copy 32 KiB a call.
	n, err := io.CopyBuffer(writerOnly{f}, io.LimitReader(r, hdr.Size), *buf)
	copyBuf.Put(buf)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if n != hdr.Size {
		return refusal("tar stream ends inside the file (%d of %d bytes)", n, hdr.Size)
	}
	return a.meta(f, "", hdr, false)
}

func (a *applier) hardlink(parent *os.File, base string, hdr *tar.Header) error {
	target, err := cleanRel(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", truncate(hdr.Linkname), err)
	}
	if target == "." {
		return refusal("hardlink to the layer root")
	}
	tdir, tbase := split(target)
	td, err := openDir(a.root, tdir, false)
	if err != nil {
		return refusal("hardlink target %s is not in this layer (%v)", target, err)
	}
	defer td.Close()
	st, ok, err := lstatAt(td, tbase)
	if err != nil || !ok {
		return refusal("hardlink target %s is not in this layer", target)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return refusal("hardlink target %s is a directory", target)
	}
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
	if err := unix.Linkat(int(td.Fd()), tbase, int(parent.Fd()), base, 0); err != nil {
		return fmt.Errorf("hardlink to %s: %w", target, err)
	}
	return nil
}

func (a *applier) node(parent *os.File, base string, hdr *tar.Header) error {
	if hdr.Devmajor < 0 || hdr.Devminor < 0 || hdr.Devmajor > 1<<32-1 || hdr.Devminor > 1<<32-1 {
		return refusal("device number %d:%d out of range", hdr.Devmajor, hdr.Devminor)
	}
	mode := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
	case tar.TypeBlock:
		mode = unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(int(parent.Fd()), base, mode|0o600, int(dev)); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	return a.meta(parent, base, hdr, false)
}

// meta sets owner, mode, xattrs and times. With name == "" it applies to the open file f
// itself; otherwise to name inside the directory f (never following it).
func (a *applier) meta(f *os.File, name string, hdr *tar.Header, isDir bool) error {
	symlink := hdr.Typeflag == tar.TypeSymlink
	fd := int(f.Fd())
	if name == "" {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
		// After chown, which clears set-id bits.
		if err := unix.Fchmod(fd, uint32(hdr.Mode&0o7777)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	} else {
		if err := unix.Fchownat(fd, name, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
		if !symlink { // symlinks have no mode of their own; name is a node made just now
			if err := unix.Fchmodat(fd, name, uint32(hdr.Mode&0o7777), 0); err != nil {
				return fmt.Errorf("chmod: %w", err)
			}
		}
	}
	// Xattrs after chown: chown drops security.capability.
	if !symlink {
		if err := a.xattrs(f, name, hdr); err != nil {
			return err
		}
	}
	if isDir {
		return nil // applyLayer sets directory times at the end
	}
	return setTimes(f, name, accessTime(hdr), hdr.ModTime)
}

// allowedXattr says which extended attributes a layer may set. trusted.* (overlayfs's own
// opaque, redirect and metacopy attributes among them) and security labels other than
// file capabilities are dropped: a layer must not steer the overlay or label files.
func allowedXattr(name string) bool {
	switch {
	case strings.HasPrefix(name, "user."):
		return true
	case name == "security.capability":
		return true
	case name == "system.posix_acl_access", name == "system.posix_acl_default":
		return true
	}
	return false
}

func (a *applier) xattrs(f *os.File, name string, hdr *tar.Header) error {
	n := 0
	for k, v := range hdr.PAXRecords {
		x, ok := strings.CutPrefix(k, paxXattr)
		if !ok || !allowedXattr(x) {
			continue
		}
		if n++; n > maxXattrs {
			return refusal("more than %d extended attributes", maxXattrs)
		}
		var err error
		if name == "" {
			err = unix.Fsetxattr(int(f.Fd()), x, []byte(v), 0)
		} else {
			err = unix.Lsetxattr(procPath(f, name), x, []byte(v), 0)
		}
		if err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				return fmt.Errorf("set xattr %s: the snapshot directory's filesystem does not support it: %w", x, err)
			}
			return fmt.Errorf("set xattr %s: %w", x, err)
		}
	}
	return nil
}

func accessTime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func setTimes(f *os.File, name string, atime, mtime time.Time) error {
	ts := []unix.Timespec{toTimespec(atime), toTimespec(mtime)}
	var err error
	if name == "" {
		err = futimens(int(f.Fd()), ts)
	} else {
		err = unix.UtimesNanoAt(int(f.Fd()), name, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// futimens sets the times of the open file fd (utimensat with a NULL path).
func futimens(fd int, ts []unix.Timespec) error {
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func toTimespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return timespec(0, 0)
	}
	return timespec(t.Unix(), int64(t.Nanosecond()))
}

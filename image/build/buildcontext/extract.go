package buildcontext

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
)

// Limits bound what Extract writes.
type Limits struct {
	MaxBytes   int64
	MaxEntries int
}

// Extract unpacks a context tar (hostile input) into dir, an empty directory nobody else
// writes to. Every path is walked one component at a time from dir with O_NOFOLLOW, so no
// entry can reach outside dir through ".." or a symlink; devices, fifos and hardlinks are
// left out (a context has none), and owners are not kept (COPY sets them). It keeps the
// directories it opens, which makes it several times faster than a general extractor on
// contexts of thousands of small files.
//
// Sums, when not nil, receives the sha256 (hex) of each regular file's content by its
// slash path relative to dir, computed while the file is written: the builder's cache keys
// need them and need not read the files again.
func Extract(r io.Reader, dir string, lim Limits, sums map[string]string) error {
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	dirs := map[string]int{"": root}
	defer func() {
		for _, fd := range dirs {
			unix.Close(fd)
		}
	}()
	var openDir func(rel string) (int, error)
	openDir = func(rel string) (int, error) {
		if fd, ok := dirs[rel]; ok {
			return fd, nil
		}
		parent, base := path.Split(rel)
		pfd, err := openDir(strings.TrimSuffix(parent, "/"))
		if err != nil {
			return -1, err
		}
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil && err != unix.EEXIST {
			return -1, err
		}
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ELOOP || err == unix.ENOTDIR {
				return -1, fmt.Errorf("%s is not a directory (a symlink or file of the archive): %w", rel, errdefs.ErrInvalidArgument)
			}
			return -1, err
		}
		dirs[rel] = fd
		return fd, nil
	}
	tr := tar.NewReader(r)
	var total int64
	buf := make([]byte, 64<<10)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read context tar: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		if n >= lim.MaxEntries {
			return fmt.Errorf("the context has more than %d entries: %w", lim.MaxEntries, errdefs.ErrInvalidArgument)
		}
		if total += max(hdr.Size, 0); total > lim.MaxBytes {
			return fmt.Errorf("the context is larger than %d bytes: %w", lim.MaxBytes, errdefs.ErrInvalidArgument)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		var h hash.Hash
		if sums != nil && (hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA) {
			h = sha256.New()
		}
		if err := extractEntry(hdr, name, tr, openDir, buf, h); err != nil {
			return fmt.Errorf("context entry %s: %w", name, err)
		}
		if h != nil {
			sums[name] = hex.EncodeToString(h.Sum(nil))
		}
	}
}

func cleanName(n string) (string, error) {
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("context entry %q climbs out of the context: %w", n, errdefs.ErrInvalidArgument)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+n), "/"), nil
}

func extractEntry(hdr *tar.Header, name string, r io.Reader, openDir func(string) (int, error), buf []byte, h hash.Hash) error {
	mode := uint32(hdr.Mode & 0o7777)
	if hdr.Typeflag == tar.TypeDir {
		fd, err := openDir(name)
		if err != nil {
			return err
		}
		return unix.Fchmod(fd, mode)
	}
	parent, base := path.Split(name)
	pfd, err := openDir(strings.TrimSuffix(parent, "/"))
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), base)
		var w io.Writer = f
		if h != nil {
			w = io.MultiWriter(f, h)
		}
		_, err = io.CopyBuffer(w, io.LimitReader(r, hdr.Size), buf)
		if err == nil {
			err = unix.Fchmod(fd, mode)
		}
		if err == nil {
			ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
			err = unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		return unix.Symlinkat(hdr.Linkname, pfd, base)
	}
	if hdr.Typeflag == tar.TypeLink {
		return errors.New("hardlinks are not sent in a build context")
	}
	return nil // devices, fifos: left out
}

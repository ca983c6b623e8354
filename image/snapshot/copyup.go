package snapshot

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// copyLayer merges the snapshot directory layer (overlayfs format) into dst, as the copy
// driver's fallback for overlayfs: the layer is turned back into an OCI tar stream and
// applied with whiteouts deleting and opaque markers emptying, through the same
// never-follow code that unpacks layers.
func copyLayer(ctx context.Context, dst, layer string) error {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeLayerTar(pw, layer))
	}()
	_, err := applyLayer(ctx, dst, pr, mergeMode, Limits{MaxBytes: 1 << 62, MaxEntries: 1 << 62})
	pr.CloseWithError(errors.New("copy aborted"))
	return err
}

type inode struct{ dev, ino uint64 }

// writeLayerTar writes the snapshot directory dir as an OCI layer tar: overlayfs whiteout
// devices become ".wh." entries, opaque directories get a ".wh..wh..opq" entry, hardlinks
// within the layer stay hardlinks.
func writeLayerTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	seen := map[inode]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0 {
			pdir, base := path.Split(rel)
			return tw.WriteHeader(&tar.Header{Name: pdir + whiteoutPrefix + base, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		hdr.Name, hdr.Uname, hdr.Gname = rel, "", ""
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		hdr.Format = tar.FormatPAX
		if fi.IsDir() {
			hdr.Name += "/"
		}
		xattrs, opaque, err := readXattrs(p)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if len(xattrs) > 0 {
			hdr.PAXRecords = map[string]string{}
			for k, v := range xattrs {
				hdr.PAXRecords[paxXattr+k] = v
			}
		}
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := seen[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				seen[key] = rel
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, io.LimitReader(f, hdr.Size))
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		if opaque {
			return tw.WriteHeader(&tar.Header{Name: rel + "/" + whiteoutOpaque, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// readXattrs lists the xattrs of p (not following it) that a layer may carry, and
// whether p is an opaque overlayfs directory.
func readXattrs(p string) (map[string]string, bool, error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if errors.Is(err, unix.ERANGE) {
		sz, err2 := unix.Llistxattr(p, nil)
		if err2 != nil {
			return nil, false, err2
		}
		buf = make([]byte, sz)
		n, err = unix.Llistxattr(p, buf)
	}
	if errors.Is(err, unix.ENOTSUP) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("list xattrs: %w", err)
	}
	out := map[string]string{}
	opaque := false
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		if name != opaqueXattr && !allowedXattr(name) {
			continue
		}
		v, err := lgetxattr(p, name)
		if err != nil {
			return nil, false, err
		}
		if name == opaqueXattr {
			opaque = string(v) == "y"
			continue
		}
		out[name] = string(v)
	}
	return out, opaque, nil
}

func lgetxattr(p, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*4)
			if len(buf) > 1<<20 {
				return nil, fmt.Errorf("xattr %s is too large", name)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s: %w", name, err)
		}
		return buf[:n], nil
	}
}

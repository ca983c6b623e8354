package snapshot

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/errdefs"
)

// Diff writes the changes made in container layer key, its overlayfs upper directory, to
// w as an uncompressed OCI layer tar: whiteout devices become ".wh.NAME" entries, opaque
// directories get a ".wh..wh..opq" entry, hardlinks within the layer stay links. skip,
// when set, leaves out paths (slash-separated, relative to the root) it returns true for;
// a skipped directory is left out with its contents. Only the overlay driver keeps the
// changes apart from the image's files.
func (s *Snapshotter) Diff(key string, w io.Writer, skip func(rel string) bool) error {
	tw := tar.NewWriter(w)
	links := map[uint64]string{} // inode -> first name, for hardlinks
	if err := s.walkUpper(key, "diff", skip, func(p, rel string, _ fs.DirEntry) error {
		return writeDiffEntry(tw, p, rel, links)
	}); err != nil {
		return err
	}
	return tw.Close()
}

// walkUpper calls fn for each path of container layer key's overlayfs upper directory
// (parents first; rel slash-separated, relative to the root) that skip keeps. what names
// the operation in errors.
func (s *Snapshotter) walkUpper(key, what string, skip func(rel string) bool, fn func(p, rel string, d fs.DirEntry) error) error {
	if err := validKey(key); err != nil {
		return err
	}
	dir := s.containerDir(key)
	driver, err := readMeta(dir, "driver")
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, key, err)
	}
	if Driver(driver) != DriverOverlay {
		return fmt.Errorf("%s %s: the %s driver keeps no separate changes (this needs overlayfs): %w", what, key, driver, errdefs.ErrInvalidArgument)
	}
	upper := filepath.Join(dir, "upper")
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return fn(p, rel, d)
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, key, err)
	}
	return nil
}

func writeDiffEntry(tw *tar.Writer, p, rel string, links map[uint64]string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	mode := st.Mode & unix.S_IFMT
	if isWhiteout(&st) {
		// overlayfs records a deletion as a 0/0 character device.
		dirName, base := filepath.Split(rel)
		return tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: dirName + ".wh." + base, ModTime: fi.ModTime(), Format: tar.FormatPAX,
		})
	}
	if mode == unix.S_IFDIR {
		if v, _ := getXattr(p, "trusted.overlay.redirect"); v != "" {
			return fmt.Errorf("%s: directory renamed with overlayfs redirect_dir, which layers cannot express", rel)
		}
	}
	link := ""
	if mode == unix.S_IFLNK {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	hdr.Name = rel
	if mode == unix.S_IFDIR {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	hdr.Uname, hdr.Gname = "", ""
	hdr.AccessTime, hdr.ChangeTime = fi.ModTime(), fi.ModTime()
	hdr.Format = tar.FormatPAX
	if v, _ := getXattr(p, "security.capability"); v != "" {
		hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": v}
	}
	if mode == unix.S_IFREG {
		if _, err := getXattr(p, "trusted.overlay.metacopy"); err == nil {
			return fmt.Errorf("%s: overlayfs metacopy left the file's data in a lower layer (turn the overlay module's metacopy option off)", rel)
		}
	}
	if mode == unix.S_IFREG && st.Nlink > 1 {
		if first, ok := links[st.Ino]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return tw.WriteHeader(hdr)
		}
		links[st.Ino] = rel
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if mode == unix.S_IFREG && hdr.Size > 0 {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	if mode == unix.S_IFDIR {
		opaque, _ := getXattr(p, "trusted.overlay.opaque")
		if opaque == "" {
			opaque, _ = getXattr(p, "user.overlay.opaque")
		}
		if opaque == "y" {
			return tw.WriteHeader(&tar.Header{
				Typeflag: tar.TypeReg, Name: rel + "/.wh..wh..opq", ModTime: fi.ModTime(), Format: tar.FormatPAX,
			})
		}
	}
	return nil
}

func getXattr(p, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) && len(buf) < 64<<10 {
			buf = make([]byte, len(buf)*4)
			continue
		}
		if err != nil {
			return "", err
		}
		return strings.Clone(string(buf[:n])), nil
	}
}

// CommitUpper publishes the changes of container layer key (unmounted; prepared on
// parent) as snapshot chain, whose diff ID the caller computed from Diff's tar of the same
// changes: the overlay upper directory already is a layer in the snapshot format, so it
// is renamed into place instead of unpacking the tar again. Paths skip names are removed
// first (as Diff left them out), and overlayfs' own bookkeeping xattrs are dropped. The
// container layer is left without its upper directory: remove it afterwards.
func (s *Snapshotter) CommitUpper(key string, chain, parent, diffID digest.Digest, skip []string) error {
	if err := validKey(key); err != nil {
		return err
	}
	if err := s.checkChain(chain, parent); err != nil {
		return err
	}
	if got := ChainID(parent, diffID); got != chain {
		return fmt.Errorf("commit %s: diff ID %s does not give this chain", key, diffID)
	}
	dir := s.containerDir(key)
	if d, _ := readMeta(dir, "driver"); Driver(d) != DriverOverlay {
		return fmt.Errorf("commit %s: not an overlay layer: %w", key, errdefs.ErrInvalidArgument)
	}
	if p, _ := readMeta(dir, "parent"); p != parent.String() {
		return fmt.Errorf("commit %s: prepared on %q, not on %s", key, p, parent)
	}
	if s.Exists(chain) {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "commit-")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	fsDir := filepath.Join(tmp, "fs")
	if err := os.Rename(filepath.Join(dir, "upper"), fsDir); err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	for _, p := range skip {
		_ = os.RemoveAll(filepath.Join(fsDir, filepath.FromSlash(p)))
	}
	size, err := scrubUpper(fsDir)
	if err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	for name, v := range map[string]string{"parent": parent.String(), "diffid": diffID.String(), "size": strconv.FormatInt(size, 10)} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(v), 0o600); err != nil {
			return fmt.Errorf("commit %s: %w", key, err)
		}
	}
	if err := atomicfile.SyncFS(tmp); err != nil {
		return fmt.Errorf("commit %s: sync: %w", key, err)
	}
	if err := os.Rename(tmp, s.dir(chain)); err != nil {
		if s.Exists(chain) {
			return nil
		}
		return fmt.Errorf("commit %s: %w", key, err)
	}
	done = true
	return atomicfile.SyncDir(filepath.Join(s.root, "snapshots"))
}

// scrubUpper drops the xattrs overlayfs keeps for itself in an upper directory (origin,
// impure, nlink...) except the opaque marker, which the snapshot format shares, and
// returns the bytes of file content.
func scrubUpper(root string) (int64, error) {
	var size int64
	buf := make([]byte, 4096)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		n, err := unix.Llistxattr(p, buf)
		if err != nil || n == 0 {
			return nil
		}
		for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
			if strings.HasPrefix(name, "trusted.overlay.") && name != "trusted.overlay.opaque" {
				if err := unix.Lremovexattr(p, name); err != nil && !errors.Is(err, unix.ENODATA) {
					return fmt.Errorf("%s: remove %s: %w", p, name, err)
				}
			}
		}
		return nil
	})
	return size, err
}

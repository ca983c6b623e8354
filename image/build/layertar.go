package build

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
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/drover/drover/image"
)

// COPY, ADD and WORKDIR write their layer as a tar straight from their sources: no
// container layer is mounted writable, so each file is written once (when the layer is
// unpacked) instead of twice (into an overlay upper directory, then from its diff). A
// read-only view of the parent image answers what the tar must respect: symlinks in
// destination paths, existing directories, users and groups for --chown.

// layerWriter writes one step's layer tar, with the parent's view to consult.
type layerWriter struct {
	view    string // the parent's root filesystem, read-only
	tw      *tar.Writer
	now     time.Time
	emitted map[string]bool // directories already in the tar
}

// layerFromTar mounts the parent read-only, lets plan decide what to write (errNoChange:
// nothing), and stores what write puts in the tar as the step's layer.
func (sb *stageBuild) layerFromTar(ctx context.Context, plan func(view string) (write func(*layerWriter) error, err error)) (*image.Layer, func(), error) {
	store := sb.j.b.store
	chain := sb.st.chain()
	var view string
	if len(sb.st.layers) > 0 {
		var unmount func()
		var err error
		if view, unmount, err = sb.mountReadonly(ctx, sb.st); err != nil {
			return nil, nil, fmt.Errorf("mount the parent: %w", err)
		}
		defer unmount()
	} else {
		view = filepath.Join(sb.j.b.work, "mnt", "empty")
		if err := os.MkdirAll(view, 0o755); err != nil {
			return nil, nil, err
		}
	}
	write, err := plan(view)
	if errors.Is(err, errNoChange) {
		return nil, func() {}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	pr, pw := io.Pipe()
	var writeErr error
	written := make(chan struct{})
	go func() {
		defer close(written)
		lw := &layerWriter{view: view, tw: tar.NewWriter(pw), now: time.Now(), emitted: map[string]bool{}}
		writeErr = write(lw)
		if writeErr == nil {
			writeErr = lw.tw.Close()
		}
		pw.CloseWithError(writeErr)
	}()
	l, release, err := store.AddLayer(ctx, chain, pr)
	pr.CloseWithError(io.ErrClosedPipe) // stops the writer if the unpacker gave up early
	<-written
	if writeErr != nil && !errors.Is(writeErr, io.ErrClosedPipe) { // the source's error says more than the unpacker's
		release()
		return nil, nil, writeErr
	}
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("store the step's layer: %w", err)
	}
	return &l, release, nil
}

// resolve maps a path of the image (absolute) to where it really is: symlinks in it are
// followed inside the image, as a process in a container would.
func (lw *layerWriter) resolve(p string) (string, error) {
	hp, err := securejoin.SecureJoin(lw.view, p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(lw.view, hp)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%s resolves outside the image", p)
	}
	return path.Clean("/" + filepath.ToSlash(rel)), nil
}

// stat looks at a resolved image path in the parent.
func (lw *layerWriter) stat(p string) (os.FileInfo, error) {
	return os.Lstat(filepath.Join(lw.view, p))
}

// mkdirs writes the directories down to dir (resolved): existing ones as they are, new
// ones 0755 and owned by owner (root without --chown).
func (lw *layerWriter) mkdirs(dir string, own owner) error {
	if dir == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	cur := ""
	for _, part := range parts {
		cur += "/" + part
		if lw.emitted[cur] {
			continue
		}
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(cur, "/") + "/", Mode: 0o755, ModTime: lw.now, Format: tar.FormatPAX}
		fi, err := lw.stat(cur)
		switch {
		case err == nil && fi.IsDir():
			st := fi.Sys().(*syscall.Stat_t)
			hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime = int64(st.Mode&0o7777), int(st.Uid), int(st.Gid), fi.ModTime()
		case err == nil:
			return fmt.Errorf("%s is not a directory in the image", cur)
		case errors.Is(err, fs.ErrNotExist):
			if own.set {
				hdr.Uid, hdr.Gid = own.uid, own.gid
			}
		default:
			return err
		}
		if err := lw.tw.WriteHeader(hdr); err != nil {
			return err
		}
		lw.emitted[cur] = true
	}
	return nil
}

// addSource writes a COPY source into the layer under the resolved directory target;
// a file source gets the name single when it is set.
func (lw *layerWriter) addSource(s source, target, single string, own owner, mode int64) error {
	if err := lw.mkdirs(target, own); err != nil {
		return err
	}
	if s.data != nil {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: joinName(target, single), Mode: 0o644, Size: int64(len(*s.data)), ModTime: lw.now, Format: tar.FormatPAX}
		if mode >= 0 {
			hdr.Mode = mode
		}
		own.apply(hdr)
		if err := lw.tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := io.WriteString(lw.tw, *s.data)
		return err
	}
	dirs := map[string]string{"": target} // source directory -> resolved image directory
	links := map[uint64]string{}
	return walkSource(s, func(rel, hp string, fi os.FileInfo) error {
		if rel == "" && fi.IsDir() {
			return nil // a directory's contents go into the target
		}
		parentRel, base := path.Split(rel)
		parent := dirs[strings.TrimSuffix(parentRel, "/")]
		if single != "" {
			parent, base = target, single
		}
		name := joinName(parent, base)
		if fi.IsDir() {
			// A directory of the image stays what it is; a symlink to one is followed.
			if cur, err := lw.stat(name); err == nil && cur.Mode()&os.ModeSymlink != 0 {
				resolved, err := lw.resolve(name)
				if err != nil {
					return err
				}
				if rfi, err := lw.stat(resolved); err == nil && rfi.IsDir() {
					dirs[rel] = resolved
					return nil
				}
			}
			dirs[rel] = name
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			var err error
			if link, err = os.Readlink(hp); err != nil {
				return err
			}
		} else if !fi.Mode().IsRegular() && !fi.IsDir() {
			return nil // devices, sockets, fifos are not copied
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name, hdr.Format = strings.TrimPrefix(name, "/"), tar.FormatPAX
		if fi.IsDir() {
			hdr.Name += "/"
			lw.emitted[name] = true
		}
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				if first, ok := links[st.Ino]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[st.Ino] = hdr.Name
				}
			}
		}
		own.apply(hdr)
		if mode >= 0 && hdr.Typeflag != tar.TypeSymlink {
			hdr.Mode = (hdr.Mode &^ 0o7777) | mode
		}
		if err := lw.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			f, err := os.Open(hp)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.CopyN(lw.tw, f, hdr.Size); err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		return nil
	})
}

// addArchive writes the entries of a tar archive (ADD of a local archive) under the
// resolved directory target; names that climb out are refused.
func (lw *layerWriter) addArchive(r io.Reader, target string) error {
	if err := lw.mkdirs(target, owner{}); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name, err := archiveName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink:
		case tar.TypeLink:
			ln, err := archiveName(hdr.Linkname)
			if err != nil || ln == "" {
				return fmt.Errorf("archive entry %q links outside the archive", hdr.Name)
			}
			hdr.Linkname = strings.TrimPrefix(joinName(target, ln), "/")
		default:
			continue // devices and fifos are not unpacked
		}
		full := joinName(target, name)
		if err := lw.mkdirs(path.Dir(full), owner{}); err != nil { // archives may leave parents out
			return err
		}
		hdr.Name = strings.TrimPrefix(full, "/")
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
			lw.emitted[full] = true
		}
		hdr.Format = tar.FormatPAX
		hdr.PAXRecords = nil
		if err := lw.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if _, err := io.Copy(lw.tw, tr); err != nil {
				return err
			}
		}
	}
}

// archiveName cleans an archive entry name, refusing one that climbs out.
func archiveName(n string) (string, error) {
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("archive entry %q climbs out of the destination", n)
		}
	}
	c := strings.TrimPrefix(path.Clean("/"+n), "/")
	return c, nil
}

func joinName(dir, base string) string { return path.Join("/", dir, base) }

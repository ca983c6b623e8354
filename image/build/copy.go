package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime/spec"
)

// source is one resolved COPY/ADD source.
type source struct {
	rel  string // as matched, relative to the source root
	path string // host path (symlinks resolved inside the root)
	info os.FileInfo
	data *string // inline content (a heredoc)
	// remote marks a file ADD downloaded: copied as it is, never unpacked.
	remote bool
}

func isURL(p string) bool { return strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") }

func isGit(p string) bool {
	return strings.HasPrefix(p, "git@") || strings.HasPrefix(p, "git://") || (isURL(p) && strings.HasSuffix(strings.SplitN(p, "#", 2)[0], ".git"))
}

// maxDownload bounds what ADD fetches from a URL.
const maxDownload = 8 << 30

// download fetches an ADD URL into dir, as Docker does: the file is named after the URL's
// last path element, has mode 0600 and the Last-Modified time; checksum ("sha256:HEX"),
// when set, must match.
func download(ctx context.Context, rawURL, dir, checksum string) (source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return source{}, fmt.Errorf("%v: %w", err, errdefs.ErrInvalidArgument)
	}
	base := path.Base(u.Path)
	if base == "/" || base == "." || base == "" {
		return source{}, fmt.Errorf("cannot name the file after the URL (it has no path): give a file destination: %w", errdefs.ErrInvalidArgument)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return source{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return source{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return source{}, fmt.Errorf("server answered %s", resp.Status)
	}
	f, err := os.CreateTemp(dir, "file-")
	if err != nil {
		return source{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return source{}, fmt.Errorf("download: %w", err)
	}
	if n > maxDownload {
		return source{}, fmt.Errorf("larger than %d bytes: %w", int64(maxDownload), errdefs.ErrInvalidArgument)
	}
	if checksum != "" {
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != checksum {
			return source{}, fmt.Errorf("checksum is %s, --checksum says %s: %w", got, checksum, errdefs.ErrInvalidArgument)
		}
	}
	if err := f.Chmod(0o600); err != nil {
		return source{}, err
	}
	mtime := time.Now()
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = t
	}
	if err := os.Chtimes(f.Name(), mtime, mtime); err != nil {
		return source{}, err
	}
	fi, err := os.Lstat(f.Name())
	if err != nil {
		return source{}, err
	}
	return source{rel: base, path: f.Name(), info: fi, remote: true}, nil
}

// copy runs a COPY or ADD step.
func (sb *stageBuild) copy(ctx context.Context, sd instructions.SourcesAndDest, from, chown, chmod string, isAdd bool, c instructions.Command) (bool, error) {
	name := "COPY"
	if isAdd {
		name = "ADD"
	}
	if cp, ok := c.(*instructions.CopyCommand); ok && (cp.Parents || len(cp.ExcludePatterns) > 0) {
		return false, fmt.Errorf("COPY --parents and --exclude are not supported by drover build: %w", errdefs.ErrInvalidArgument)
	}
	if chmod != "" {
		if _, err := strconv.ParseUint(chmod, 8, 32); err != nil || len(chmod) > 4 {
			return false, fmt.Errorf("%s --chmod=%s: use an octal mode such as 0755: %w", name, chmod, errdefs.ErrInvalidArgument)
		}
	}
	checksum := ""
	if a, ok := c.(*instructions.AddCommand); ok {
		checksum = a.Checksum
	}
	local := 0
	for _, p := range sd.SourcePaths {
		switch {
		case isGit(p):
			return false, fmt.Errorf("ADD %s: git sources are not supported by drover build: clone in a RUN step: %w", p, errdefs.ErrInvalidArgument)
		case isURL(p) && !isAdd:
			return false, fmt.Errorf("COPY %s: COPY takes files, not URLs: use ADD: %w", p, errdefs.ErrInvalidArgument)
		case isURL(p) && from != "":
			return false, fmt.Errorf("%s --from with a URL: %w", name, errdefs.ErrInvalidArgument)
		case !isURL(p):
			local++
		}
	}
	if checksum != "" && (local > 0 || len(sd.SourcePaths) != 1) {
		return false, fmt.Errorf("ADD --checksum needs one URL source: %w", errdefs.ErrInvalidArgument)
	}
	downloads, err := os.MkdirTemp(filepath.Join(sb.j.b.work, "downloads"), "add-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(downloads)
	dest, destDir := sb.cleanDest(sd.DestPath)
	if len(sd.SourcePaths)+len(sd.SourceContents) > 1 && !destDir {
		return false, fmt.Errorf("%s with more than one source needs a directory destination ending in /, not %s: %w", name, sd.DestPath, errdefs.ErrInvalidArgument)
	}
	text := fmt.Sprintf("%s %s %s", name, strings.Join(sd.SourcePaths, " "), sd.DestPath)
	if from != "" {
		text = fmt.Sprintf("%s --from=%s %s %s", name, from, strings.Join(sd.SourcePaths, " "), sd.DestPath)
	}
	// The sources: the build context (hashed for the key), or another stage or an image
	// (whose key stands for its content: mounted only when the step runs).
	var src *state
	if local > 0 || len(sd.SourceContents) > 0 || from != "" {
		if src, err = sb.sourceState(ctx, from, name); err != nil {
			return false, err
		}
	}
	resolve := func(root string) ([]source, error) {
		var srcs []source
		for _, p := range sd.SourcePaths {
			if isURL(p) {
				d, err := download(ctx, p, downloads, checksum)
				if err != nil {
					return nil, fmt.Errorf("ADD %s: %w", p, err)
				}
				srcs = append(srcs, d)
				continue
			}
			matched, err := resolveSources(root, p, from == "")
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", name, p, err)
			}
			srcs = append(srcs, matched...)
		}
		for i := range sd.SourceContents {
			data := sd.SourceContents[i].Data
			srcs = append(srcs, source{rel: sd.SourceContents[i].Path, data: &data})
		}
		if len(srcs) == 0 {
			return nil, fmt.Errorf("%s: no source files: %w", name, errdefs.ErrInvalidArgument)
		}
		if len(srcs) > 1 && !destDir {
			return nil, fmt.Errorf("%s: the sources match several files: the destination must be a directory ending in /: %w", name, errdefs.ErrInvalidArgument)
		}
		return srcs, nil
	}
	var srcs []source
	var inputs string
	if src == nil {
		if srcs, err = resolve(sb.j.opts.Context); err != nil {
			return false, err
		}
		if inputs, err = hashSources(srcs, sb.j.opts.Context, sb.j.opts.ContextSums); err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
	} else {
		inputs = string(src.key)
	}
	key := sb.stepKey(text, "inputs="+inputs, "chown="+chown, "chmod="+chmod, "wd="+sb.st.cfg.Config.WorkingDir)
	if sb.fromCache(key) {
		return true, nil
	}
	if src != nil {
		root, unmount, err := sb.mountReadonly(ctx, src)
		if err != nil {
			return false, fmt.Errorf("%s --from=%s: mount: %w", name, from, err)
		}
		defer unmount()
		if srcs, err = resolve(root); err != nil {
			return false, err
		}
	}
	l, release, err := sb.layerFromTar(ctx, func(view string) (func(*layerWriter) error, error) {
		own := owner{keep: from != ""}
		if chown != "" {
			u, err := spec.ResolveUser(view, chown)
			if err != nil {
				return nil, fmt.Errorf("%s --chown=%s: %w", name, chown, err)
			}
			own = owner{set: true, uid: int(u.UID), gid: int(u.GID)}
			if !strings.Contains(chown, ":") {
				own.gid = own.uid // Docker: a user without group gets the same number as GID
			}
		}
		var mode int64 = -1
		if chmod != "" {
			m, _ := strconv.ParseUint(chmod, 8, 32)
			mode = int64(m)
		}
		probe := &layerWriter{view: view}
		destR, err := probe.resolve(dest)
		if err != nil {
			return nil, err
		}
		if !destDir {
			if fi, err := probe.stat(destR); err == nil && fi.IsDir() {
				destDir = true
			}
		}
		fileDir, fileName := destR, ""
		if !destDir {
			if fileDir, err = probe.resolve(path.Dir(dest)); err != nil {
				return nil, err
			}
			fileName = path.Base(dest)
		}
		return func(lw *layerWriter) error {
			for _, s := range srcs {
				if isAdd && s.data == nil && !s.remote && s.info.Mode().IsRegular() {
					done, err := addIfArchive(lw, s.path, destR)
					if err != nil {
						return fmt.Errorf("%s %s: %w", name, s.rel, err)
					}
					if done {
						continue
					}
				}
				target, single := destR, ""
				if s.data != nil || !s.info.IsDir() {
					target, single = destR, path.Base(s.rel)
					if !destDir {
						target, single = fileDir, fileName
					}
				}
				if err := lw.addSource(s, target, single, own, mode); err != nil {
					return fmt.Errorf("%s %s: %w", name, s.rel, err)
				}
			}
			return nil
		}, nil
	})
	if err != nil {
		return false, err
	}
	return false, sb.addLayer(key, l, release, text, sb.st.cfg.clone())
}

// sourceState is the state COPY --from reads (nil for the build context).
func (sb *stageBuild) sourceState(ctx context.Context, from, name string) (*state, error) {
	if from == "" {
		if sb.j.opts.Context == "" {
			return nil, fmt.Errorf("%s needs a build context (the Dockerfile came alone on stdin): %w", name, errdefs.ErrInvalidArgument)
		}
		return nil, nil
	}
	if k := sb.j.df.StageIndex(strings.ToLower(from)); k >= 0 {
		if k == sb.index {
			return nil, fmt.Errorf("%s --from=%s: a stage cannot copy from itself: %w", name, from, errdefs.ErrInvalidArgument)
		}
		return sb.j.stage(ctx, k)
	}
	img, err := sb.j.image(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("%s --from=%s: %w", name, from, err)
	}
	return imageState(img)
}

// mountReadonly mounts a state's root filesystem read-only on a layer of its own.
func (sb *stageBuild) mountReadonly(ctx context.Context, st *state) (dir string, unmount func(), err error) {
	store := sb.j.b.store
	snaps := store.Snapshots()
	chain := st.chain()
	if len(st.layers) > 0 {
		if chain, err = store.UnpackLayers(ctx, st.layers, st.cfg.RootFS.DiffIDs); err != nil {
			return "", nil, err
		}
	}
	key := randomKey()
	if err := snaps.Prepare(key, chain); err != nil {
		return "", nil, err
	}
	d := filepath.Join(sb.j.b.work, "mnt", key)
	if err := os.Mkdir(d, 0o700); err != nil {
		_ = snaps.Remove(key)
		return "", nil, err
	}
	if err := snaps.Mount(key, d, true); err != nil {
		_ = os.Remove(d)
		_ = snaps.Remove(key)
		return "", nil, err
	}
	return d, func() {
		_ = snaps.Unmount(d)
		_ = os.Remove(d)
		_ = snaps.Remove(key)
	}, nil
}

// hasMeta reports whether a source path is a pattern.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[`) }

// resolveSources finds the sources a COPY path names inside root: a path or a pattern.
// Paths that climb out of the context are refused; symlinks resolve inside root.
func resolveSources(root, p string, isContext bool) ([]source, error) {
	clean := path.Clean(strings.TrimPrefix(p, "/"))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		where := "the source image or stage"
		if isContext {
			where = "the build context"
		}
		return nil, fmt.Errorf("the path is outside %s: %w", where, errdefs.ErrInvalidArgument)
	}
	if !hasMeta(clean) {
		hp, err := securejoin.SecureJoin(root, clean)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(hp)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if isContext {
					return nil, fmt.Errorf("not found in the build context (or excluded by .dockerignore): %w", errdefs.ErrNotFound)
				}
				return nil, fmt.Errorf("not found in the source: %w", errdefs.ErrNotFound)
			}
			return nil, err
		}
		return []source{{rel: clean, path: hp, info: fi}}, nil
	}
	depth := strings.Count(clean, "/")
	var out []source
	err := filepath.WalkDir(root, func(hp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, hp)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		n := strings.Count(rel, "/")
		if ok, _ := path.Match(clean, rel); ok && n == depth {
			resolved, err := securejoin.SecureJoin(root, rel)
			if err != nil {
				return err
			}
			if fi, err := os.Stat(resolved); err == nil {
				out = append(out, source{rel: rel, path: resolved, info: fi})
			}
		}
		if d.IsDir() && n >= depth {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no file matches the pattern: %w", errdefs.ErrNotFound)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].rel < out[b].rel })
	return out, nil
}

// walkSource calls fn for a source and, for a directory, everything below it (names
// relative to the source, "" for the source itself). Symlinks below are not followed.
func walkSource(s source, fn func(rel, hp string, fi os.FileInfo) error) error {
	if !s.info.IsDir() {
		return fn("", s.path, s.info)
	}
	return filepath.Walk(s.path, func(hp string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.path, hp)
		if rel == "." {
			rel = ""
		}
		return fn(filepath.ToSlash(rel), hp, fi)
	})
}

// hashSources digests what COPY reads from the context: names, types, modes, link
// targets and the sha256 of contents (not times nor owners, which the copy resets). sums
// holds content digests known already, by path relative to root.
func hashSources(srcs []source, root string, sums map[string]string) (string, error) {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "source %s\x00", s.rel)
		if s.data != nil {
			fmt.Fprintf(h, "inline %d\x00%s", len(*s.data), *s.data)
			continue
		}
		err := walkSource(s, func(rel, hp string, fi os.FileInfo) error {
			fmt.Fprintf(h, "%s\x00%o\x00%d\x00", rel, fi.Mode(), fi.Size())
			switch {
			case fi.Mode()&os.ModeSymlink != 0:
				t, err := os.Readlink(hp)
				if err != nil {
					return err
				}
				fmt.Fprintf(h, "%s\x00", t)
			case fi.Mode().IsRegular():
				sum, err := contentSum(hp, root, sums)
				if err != nil {
					return err
				}
				fmt.Fprintf(h, "%s\x00", sum)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// contentSum is the sha256 (hex) of a file's content: from sums when known, else read.
func contentSum(hp, root string, sums map[string]string) (string, error) {
	if rel, err := filepath.Rel(root, hp); err == nil && sums != nil {
		if sum, ok := sums[filepath.ToSlash(rel)]; ok {
			return sum, nil
		}
	}
	f, err := os.Open(hp)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// owner is the ownership copied files get.
type owner struct {
	keep     bool // keep the source's (COPY --from)
	set      bool // --chown
	uid, gid int
}

func (o owner) apply(hdr *tar.Header) {
	switch {
	case o.set:
		hdr.Uid, hdr.Gid = o.uid, o.gid
	case !o.keep:
		hdr.Uid, hdr.Gid = 0, 0
	}
	hdr.Uname, hdr.Gname = "", ""
}

// addIfArchive writes the contents of a local tar archive (plain, gzip, bzip2 or zstd)
// under dest for ADD; done is false when the file is not an archive, which ADD copies.
func addIfArchive(lw *layerWriter, hp, dest string) (done bool, err error) {
	f, err := os.Open(hp)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(512)
	var r io.Reader
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return false, nil
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(head, []byte("BZh")):
		r = bzip2.NewReader(br)
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return false, nil
		}
		defer zr.Close()
		r = zr
	case isTarHeader(head):
		r = br
	default:
		return false, nil
	}
	// A compressed file that is not a tar is copied as it is, as Docker does.
	inner := bufio.NewReaderSize(r, 64<<10)
	if h, _ := inner.Peek(512); !isTarHeader(h) {
		return false, nil
	}
	return true, lw.addArchive(inner, dest)
}

func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	magic := string(b[257:262])
	return magic == "ustar"
}

package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime/spec"
)

// errNoChange tells layerFromTar that the step changes no file, so no layer is made.
var errNoChange = errors.New("no change")

// runMountpoints are the paths the runtime mounts over in a RUN container (the resolver
// file only with a network); when the runtime had to create them they are left out of the
// step's layer.
func runMountpoints(network string) []string {
	if network == "none" {
		return []string{"proc", "sys", "dev"}
	}
	return []string{"proc", "sys", "dev", "etc/resolv.conf"}
}

// mutate mounts a writable layer on the current state, lets fn change it (fn runs the
// step's container), and stores the changes as a layer, leaving out the mountpoints the
// container needed that the image did not have.
func (sb *stageBuild) mutate(ctx context.Context, mountpoints []string, fn func(rootfs string) error) (*image.Layer, func(), error) {
	store := sb.j.b.store
	snaps := store.Snapshots()
	var chain = sb.st.chain()
	if len(sb.st.layers) > 0 {
		var err error
		if chain, err = store.UnpackLayers(ctx, sb.st.layers, sb.st.cfg.RootFS.DiffIDs); err != nil {
			return nil, nil, fmt.Errorf("unpack the layers below: %w", err)
		}
	}
	key := randomKey()
	if err := snaps.Prepare(key, chain); err != nil {
		return nil, nil, err
	}
	defer snaps.Remove(key)
	dir := filepath.Join(sb.j.b.work, "mnt", key)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, nil, err
	}
	defer os.Remove(dir)
	if err := snaps.Mount(key, dir, false); err != nil {
		return nil, nil, err
	}
	mounted := true
	defer func() {
		if mounted {
			_ = snaps.Unmount(dir)
		}
	}()
	// The runtime creates the mountpoints the image lacks (and their parents): the
	// topmost missing path of each is left out of the layer if the step put nothing but
	// empty directories and files there.
	var missing []string
	seen := map[string]bool{}
	for _, p := range mountpoints {
		if top := topMissing(dir, p); top != "" && !seen[top] {
			seen[top] = true
			missing = append(missing, top)
		}
	}
	if err := fn(dir); err != nil {
		return nil, nil, err
	}
	var skip []string
	for _, p := range missing {
		if onlyEmpty(filepath.Join(dir, p)) {
			skip = append(skip, p)
		}
	}
	if err := snaps.Unmount(dir); err != nil {
		return nil, nil, err
	}
	mounted = false
	l, release, err := store.CommitLayer(ctx, key, chain, skip)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("store the step's layer: %w", err)
	}
	return &l, release, nil
}

// topMissing is the first path from the root down to rel (slash-separated) that does
// not exist in rootfs, "" when rel exists.
func topMissing(rootfs, rel string) string {
	cur := ""
	for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
		if cur == "" {
			cur = part
		} else {
			cur += "/" + part
		}
		if _, err := os.Lstat(filepath.Join(rootfs, cur)); err != nil {
			return cur
		}
	}
	return ""
}

// onlyEmpty reports whether p holds nothing but directories and empty regular files.
func onlyEmpty(p string) bool {
	empty := true
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		switch {
		case d.IsDir():
		case d.Type().IsRegular():
			if info, err := d.Info(); err != nil || info.Size() > 0 {
				empty = false
			}
		default:
			empty = false
		}
		if !empty {
			return filepath.SkipAll
		}
		return nil
	})
	return empty
}

// addLayer records a state with one more layer.
func (sb *stageBuild) addLayer(key digest.Digest, l *image.Layer, release func(), createdBy string, cfg imageConfig) error {
	defer release()
	layers := sb.st.layers
	if l != nil {
		layers = append(append([]ocispec.Descriptor(nil), layers...), l.Desc)
		cfg.RootFS.DiffIDs = append(append(cfg.RootFS.DiffIDs[:0:0], cfg.RootFS.DiffIDs...), l.DiffID)
	}
	addHistory(&cfg, createdBy, l == nil)
	return sb.commit(key, cfg, layers)
}

// run runs a RUN step.
func (sb *stageBuild) run(ctx context.Context, c *instructions.RunCommand) (bool, error) {
	for _, f := range c.FlagsUsed {
		if f == "security" || f == "device" {
			return false, fmt.Errorf("RUN --%s is not supported by drover build: %w", f, errdefs.ErrInvalidArgument)
		}
	}
	network := instructions.GetNetwork(c)
	switch network {
	case "", instructions.NetworkDefault:
		network = sb.j.network
	case instructions.NetworkNone, instructions.NetworkHost:
	default:
		return false, fmt.Errorf("RUN --network=%s: use default, host or none: %w", network, errdefs.ErrInvalidArgument)
	}
	args, err := sb.runArgs(c)
	if err != nil {
		return false, err
	}
	env, keyed := sb.runEnv()
	text := "RUN " + strings.Join(args, " ")
	mounts, mountKeys, cleanup, err := sb.runMounts(ctx, instructions.GetMounts(c))
	defer cleanup()
	if err != nil {
		return false, err
	}
	key := sb.stepKey(text, append(append(keyed, "network="+network), mountKeys...)...)
	if sb.fromCache(key) {
		return true, nil
	}
	mountpoints := runMountpoints(network)
	for _, m := range mounts {
		mountpoints = append(mountpoints, strings.TrimPrefix(m.Target, "/"))
	}
	tail := &tailBuffer{max: 4 << 10}
	var code int
	l, release, err := sb.mutate(ctx, mountpoints, func(rootfs string) error {
		cwd := sb.st.cfg.Config.WorkingDir
		if cwd == "" {
			cwd = "/"
		}
		var rerr error
		code, rerr = sb.j.b.runner.Run(ctx, RunRequest{
			ID: randomKey(), Rootfs: rootfs, Args: args, Env: env, Cwd: cwd,
			User: sb.st.cfg.Config.User, Network: network, Output: io.MultiWriter(sb.j.out, tail), Mounts: mounts,
		})
		if rerr != nil {
			return fmt.Errorf("run %s: %w", oneLine(strings.Join(args, " ")), rerr)
		}
		if code != 0 {
			return &RunError{Command: strings.Join(args, " "), ExitCode: code, Tail: tail.lines(10)}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return false, sb.addLayer(key, l, release, text, sb.st.cfg.clone())
}

// runArgs is the argv of a RUN step; heredocs are run as BuildKit does.
func (sb *stageBuild) runArgs(c *instructions.RunCommand) ([]string, error) {
	if len(c.Files) == 0 {
		return sb.commandLine(c.ShellDependantCmdLine), nil
	}
	if len(c.CmdLine) != 1 || !c.PrependShell {
		return nil, fmt.Errorf("RUN with a heredoc: use the shell form: %w", errdefs.ErrInvalidArgument)
	}
	if parser.MustParseHeredoc(c.CmdLine[0]) != nil {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		return append(append([]string(nil), sb.shellCmd()...), data), nil
	}
	var b strings.Builder
	b.WriteString(c.CmdLine[0])
	for _, f := range c.Files {
		b.WriteString("\n" + f.Data + f.Name)
	}
	return append(append([]string(nil), sb.shellCmd()...), b.String()), nil
}

// RunError is a RUN step whose command failed.
type RunError struct {
	Command  string
	ExitCode int
	Tail     []string // the last lines of its output
}

func (e *RunError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "RUN %s: exit code %d", oneLine(e.Command), e.ExitCode)
	if len(e.Tail) > 0 {
		b.WriteString("; last output:\n  " + strings.Join(e.Tail, "\n  "))
	}
	return b.String()
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) lines(n int) []string {
	ls := strings.Split(strings.TrimRight(string(bytes.ToValidUTF8(t.buf, []byte("?"))), "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	if len(ls) == 1 && ls[0] == "" {
		return nil
	}
	return ls
}

// workdir sets the working directory and creates it when missing.
func (sb *stageBuild) workdir(ctx context.Context, c *instructions.WorkdirCommand) (bool, error) {
	if c.Path == "" {
		return false, fmt.Errorf("WORKDIR needs a path: %w", errdefs.ErrInvalidArgument)
	}
	wd := sb.absPath(c.Path)
	text := "WORKDIR " + wd
	key := sb.stepKey(text)
	if sb.fromCache(key) {
		return true, nil
	}
	cfg := sb.st.cfg.clone()
	cfg.Config.WorkingDir = wd
	l, release, err := sb.layerFromTar(ctx, func(view string) (func(*layerWriter) error, error) {
		probe := &layerWriter{view: view}
		resolved, err := probe.resolve(wd)
		if err != nil {
			return nil, err
		}
		if fi, err := probe.stat(resolved); err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("WORKDIR %s exists and is not a directory: %w", wd, errdefs.ErrInvalidArgument)
			}
			return nil, errNoChange
		}
		// As BuildKit and buildah: the directories WORKDIR creates belong to the USER.
		own := owner{}
		if u := sb.st.cfg.Config.User; u != "" {
			ru, err := spec.ResolveUser(view, u)
			if err != nil {
				return nil, fmt.Errorf("WORKDIR %s: user %s: %w", wd, u, err)
			}
			own = owner{set: true, uid: int(ru.UID), gid: int(ru.GID)}
		}
		return func(lw *layerWriter) error { return lw.mkdirs(resolved, own) }, nil
	})
	if err != nil {
		return false, err
	}
	return false, sb.addLayer(key, l, release, text, cfg)
}

// cleanDest is a COPY destination made absolute (against WORKDIR); dir tells whether it
// names a directory (a trailing slash).
func (sb *stageBuild) cleanDest(dst string) (p string, dir bool) {
	dir = strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, "/.") || dst == "." || dst == ""
	return sb.absPath(dst), dir
}

// runMounts turns RUN --mount flags into mounts: type=cache (a directory kept by the
// build cache, per id, shared by every build), type=tmpfs, and read-only type=bind of the
// context, a stage or an image. Keys are what the mounts add to the step's cache key
// (bind: the content of its source); cleanup unmounts the sources it mounted.
func (sb *stageBuild) runMounts(ctx context.Context, ms []*instructions.Mount) (mounts []RunMount, keys []string, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	for _, m := range ms {
		switch m.Type {
		case instructions.MountTypeTmpfs, instructions.MountTypeCache, instructions.MountTypeBind:
		default:
			return nil, nil, cleanup, fmt.Errorf("RUN --mount=type=%s is not supported by drover build (bind, cache and tmpfs are): %w", m.Type, errdefs.ErrInvalidArgument)
		}
		target := m.Target
		if !path.IsAbs(target) {
			target = sb.absPath(target)
		}
		target = path.Clean(target)
		if target == "/" {
			return nil, nil, cleanup, fmt.Errorf("RUN --mount: target / is not allowed: %w", errdefs.ErrInvalidArgument)
		}
		switch m.Type {
		case instructions.MountTypeTmpfs:
			mounts = append(mounts, RunMount{Target: target, Tmpfs: true, Size: m.SizeLimit})
			keys = append(keys, "tmpfs="+target)
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = target
			}
			dir := sb.j.b.cache.mountDir(id)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, nil, cleanup, err
			}
			if m.Mode != nil {
				_ = os.Chmod(dir, os.FileMode(*m.Mode&0o7777))
			}
			if m.UID != nil || m.GID != nil {
				uid, gid := 0, 0
				if m.UID != nil {
					uid = int(*m.UID)
				}
				if m.GID != nil {
					gid = int(*m.GID)
				}
				_ = os.Lchown(dir, uid, gid)
			}
			mounts = append(mounts, RunMount{Target: target, Source: dir, ReadOnly: m.ReadOnly})
			keys = append(keys, "cache="+target)
		case instructions.MountTypeBind:
			if !m.ReadOnly {
				return nil, nil, cleanup, fmt.Errorf("RUN --mount=type=bind,rw: writable bind mounts are not supported by drover build (their writes would have to be thrown away): %w", errdefs.ErrInvalidArgument)
			}
			from, ferr := sb.j.expand(m.From, sb.j.metaEnv())
			if ferr != nil {
				return nil, nil, cleanup, ferr
			}
			src, err := sb.sourceState(ctx, from, "RUN --mount")
			if err != nil {
				return nil, nil, cleanup, err
			}
			root, key := sb.j.opts.Context, ""
			if src != nil {
				dir, unmount, err := sb.mountReadonly(ctx, src)
				if err != nil {
					return nil, nil, cleanup, err
				}
				undo = append(undo, unmount)
				root, key = dir, string(src.key)
			}
			source := m.Source
			if source == "" {
				source = "."
			}
			srcs, err := resolveSources(root, source, from == "")
			if err != nil {
				return nil, nil, cleanup, fmt.Errorf("RUN --mount source %s: %w", source, err)
			}
			if len(srcs) != 1 {
				return nil, nil, cleanup, fmt.Errorf("RUN --mount source %s: names %d files: %w", source, len(srcs), errdefs.ErrInvalidArgument)
			}
			if from == "" {
				if key, err = hashSources(srcs, root, sb.j.opts.ContextSums); err != nil {
					return nil, nil, cleanup, err
				}
			}
			mounts = append(mounts, RunMount{Target: target, Source: srcs[0].path, ReadOnly: true})
			keys = append(keys, "bind="+target+"="+source+"@"+key)
		}
	}
	return mounts, keys, cleanup, nil
}

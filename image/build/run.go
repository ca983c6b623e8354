package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image"
	"github.com/drover/drover/internal/errdefs"
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
	var missing []string
	for _, p := range mountpoints {
		if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
			missing = append(missing, p)
		}
	}
	if err := fn(dir); err != nil {
		return nil, nil, err
	}
	if err := snaps.Unmount(dir); err != nil {
		return nil, nil, err
	}
	mounted = false
	l, release, err := store.CommitLayer(ctx, key, chain, missing)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("store the step's layer: %w", err)
	}
	return &l, release, nil
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
	if ms := instructions.GetMounts(c); len(ms) > 0 {
		return false, fmt.Errorf("RUN --mount is not supported by drover build: %w", errdefs.ErrInvalidArgument)
	}
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
	key := sb.stepKey(text, append(keyed, "network="+network)...)
	if sb.fromCache(key) {
		return true, nil
	}
	tail := &tailBuffer{max: 4 << 10}
	var code int
	l, release, err := sb.mutate(ctx, runMountpoints(network), func(rootfs string) error {
		cwd := sb.st.cfg.Config.WorkingDir
		if cwd == "" {
			cwd = "/"
		}
		var rerr error
		code, rerr = sb.j.b.runner.Run(ctx, RunRequest{
			ID: randomKey(), Rootfs: rootfs, Args: args, Env: env, Cwd: cwd,
			User: sb.st.cfg.Config.User, Network: network, Output: io.MultiWriter(sb.j.out, tail),
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
		return func(lw *layerWriter) error { return lw.mkdirs(resolved, owner{}) }, nil
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

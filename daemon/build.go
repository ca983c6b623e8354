package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/moby/sys/mount"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/api"
	"github.com/drover/drover/dockerapi"
	"github.com/drover/drover/image/build"
	"github.com/drover/drover/image/build/buildcontext"
	"github.com/drover/drover/image/remote"
	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime/spec"
)

// Build contexts arrive as tar streams; these bound what one may unpack.
var buildContextLimits = buildcontext.Limits{MaxBytes: 16 << 30, MaxEntries: 2 << 20}

// buildState is the daemon's builder and its cache.
type buildState struct {
	builder *build.Builder
	cache   *build.Cache
}

func (d *Daemon) closeBuilder() {
	if d.build.cache != nil {
		d.build.cache.Close()
	}
}

// initBuilder opens the build cache (Root/build) and the builder on the image store.
func (d *Daemon) initBuilder() error {
	root := filepath.Join(d.cfg.Root, "build")
	d.removeStaleContexts()
	d.removeStaleSteps()
	cache, err := build.OpenCache(root)
	if err != nil {
		return err
	}
	pull := func(ctx context.Context, ref string, p ocispec.Platform, out io.Writer) error {
		plat := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			plat += "/" + p.Variant
		}
		fmt.Fprintf(out, "pulling %s\n", ref)
		_, err := d.registry.Pull(ctx, ref, remote.PullOptions{Platform: plat, Progress: func(api.Progress) {}})
		return err
	}
	b, err := build.New(d.images, &buildRunner{d: d}, cache, filepath.Join(d.cfg.ExecRoot, "build"), pull)
	if err != nil {
		cache.Close()
		return err
	}
	d.build = buildState{builder: b, cache: cache}
	return nil
}

func (d *Daemon) buildRoutes(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
	handle("POST /build", d.handleBuild)
	handle("POST /build/prune", d.handleBuildPrune)
}

// handleBuild builds from the context tar in the body; options are query parameters:
// t (repeated), dockerfile (a path in the context), buildarg and label (K=V, repeated),
// target, nocache, pull, platform, network, nocontext; the Dockerfile itself may come
// in the api.DockerfileHeader header instead of the context. The answer streams api.BuildMessage.
func (d *Daemon) handleBuild(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	opts := build.Options{
		Tags: q["t"], Target: q.Get("target"), NoCache: boolQuery(r, "nocache"), Pull: boolQuery(r, "pull"),
		Platform: q.Get("platform"), Network: q.Get("network"),
		BuildArgs: map[string]string{}, Labels: map[string]string{},
	}
	for _, kv := range q["buildarg"] {
		k, v, _ := strings.Cut(kv, "=")
		opts.BuildArgs[k] = v
	}
	for _, kv := range q["label"] {
		k, v, _ := strings.Cut(kv, "=")
		opts.Labels[k] = v
	}
	size, _ := strconv.ParseInt(r.Header.Get(api.ContextSizeHeader), 10, 64)
	dir, err := d.contextDir(size)
	if err != nil {
		return err
	}
	defer removeContextDir(dir)
	if !boolQuery(r, "nocontext") {
		opts.ContextSums = map[string]string{}
		if err := buildcontext.Extract(r.Body, dir, buildContextLimits, opts.ContextSums); err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		opts.Context = dir
	}
	if enc := r.Header.Get(api.DockerfileHeader); enc != "" {
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return fmt.Errorf("%s header: %v: %w", api.DockerfileHeader, err, errdefs.ErrInvalidArgument)
		}
		opts.Dockerfile, opts.DockerfileName = raw, filepath.Base(q.Get("dockerfile"))
		if opts.DockerfileName == "." || opts.DockerfileName == "/" {
			opts.DockerfileName = "Dockerfile"
		}
	} else if opts.Dockerfile, err = readDockerfile(dir, q.Get("dockerfile")); err != nil {
		return err
	} else {
		opts.DockerfileName = "Dockerfile"
		if name := q.Get("dockerfile"); name != "" {
			opts.DockerfileName = filepath.Base(name)
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	bs := &buildStream{w: w, enc: json.NewEncoder(w)}
	opts.Out = bs
	res, err := d.build.builder.Build(r.Context(), opts)
	if err != nil {
		bs.send(api.BuildMessage{Error: cleanMessage(err)})
		return nil
	}
	bs.send(api.BuildMessage{ID: res.Image.ID.String()})
	return nil
}

// readDockerfile reads the Dockerfile named (default "Dockerfile") inside the unpacked
// context dir, never outside it.
func readDockerfile(dir, name string) ([]byte, error) {
	if name == "" {
		name = "Dockerfile"
	}
	p, err := securejoin.SecureJoin(dir, name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s not found in the build context: name it with -f: %w", name, errdefs.ErrInvalidArgument)
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, build.MaxDockerfileSize+1))
	if err != nil {
		return nil, err
	}
	return data, nil
}

// BuildImage builds for the Docker API's POST /build: the same builder, cache and
// context unpacking as drover's own build endpoint.
func (d *Daemon) BuildImage(ctx context.Context, req dockerapi.BuildRequest, progress func(line string)) (string, error) {
	opts := build.Options{Tags: req.Tags, Target: req.Target, NoCache: req.NoCache, Pull: req.Pull,
		Platform: req.Platform, BuildArgs: map[string]string{}, Labels: req.Labels,
		ContextSums: map[string]string{}, Out: progressWriter(progress)}
	if opts.Labels == nil {
		opts.Labels = map[string]string{}
	}
	for k, v := range req.BuildArgs {
		if v != nil { // a name without a value: the client had none in its environment
			opts.BuildArgs[k] = *v
		}
	}
	dir, err := d.contextDir(0)
	if err != nil {
		return "", err
	}
	defer removeContextDir(dir)
	if err := buildcontext.Extract(req.Context, dir, buildContextLimits, opts.ContextSums); err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	opts.Context = dir
	if opts.Dockerfile, err = readDockerfile(dir, req.Dockerfile); err != nil {
		return "", err
	}
	opts.DockerfileName = filepath.Base(req.Dockerfile)
	res, err := d.build.builder.Build(ctx, opts)
	if err != nil {
		return "", err
	}
	return res.Image.ID.String(), nil
}

// progressWriter hands each write of the builder's progress to fn as one line.
type progressWriter func(line string)

func (p progressWriter) Write(b []byte) (int, error) {
	p(string(b))
	return len(b), nil
}

// contextsDir holds the unpacked contexts of builds under way.
func (d *Daemon) contextsDir() string { return filepath.Join(d.cfg.Root, "build", "contexts") }

// memoryContextMax is the largest context unpacked in memory (a tmpfs): writing and
// removing thousands of small files on a disk costs seconds, on a tmpfs milliseconds.
const memoryContextMax = 512 << 20

// contextDir makes the directory a build context is unpacked to: a tmpfs sized for a
// context of size bytes when it is small, else a directory on disk.
func (d *Daemon) contextDir(size int64) (string, error) {
	if err := os.MkdirAll(d.contextsDir(), 0o700); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(d.contextsDir(), "context-")
	if err != nil {
		return "", err
	}
	if size > 0 && size <= memoryContextMax {
		// Room for the files' own blocks and inodes beyond their bytes.
		limit := size + size/4 + 64<<20
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", limit)); err != nil {
			d.log.Warn("build context in memory", "err", err)
		}
	}
	return dir, nil
}

// removeContextDir unmounts (if a tmpfs) and removes a context directory.
func removeContextDir(dir string) {
	_ = mount.RecursiveUnmount(dir)
	_ = os.RemoveAll(dir)
}

// removeStaleSteps deletes the RUN containers a crash left (their runtime state, cgroups
// and processes) and their bundles; the builder then unmounts their layers.
func (d *Daemon) removeStaleSteps() {
	stateRoot := filepath.Join(d.cfg.ExecRoot, "build", "runtime")
	entries, _ := os.ReadDir(stateRoot)
	for _, e := range entries {
		_ = d.selfCommand("runtime", "--root", stateRoot, "delete", "--force", e.Name()).Run()
	}
	_ = os.RemoveAll(filepath.Join(d.cfg.ExecRoot, "build", "bundles"))
}

// removeStaleContexts removes the contexts of builds a crash interrupted.
func (d *Daemon) removeStaleContexts() {
	entries, _ := os.ReadDir(d.contextsDir())
	for _, e := range entries {
		removeContextDir(filepath.Join(d.contextsDir(), e.Name()))
	}
}

func (d *Daemon) handleBuildPrune(w http.ResponseWriter, r *http.Request) error {
	n, err := d.build.cache.Prune()
	if err != nil {
		return err
	}
	freed, err := d.images.GC()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.BuildCachePruneReport{StepsDeleted: n, SpaceReclaimed: freed})
	return nil
}

// buildStream sends the builder's progress text as api.BuildMessage lines.
type buildStream struct {
	mu  sync.Mutex
	w   http.ResponseWriter
	enc *json.Encoder
}

func (b *buildStream) Write(p []byte) (int, error) {
	b.send(api.BuildMessage{Stream: string(p)})
	return len(p), nil
}

func (b *buildStream) send(m api.BuildMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.enc.Encode(m)
	if f, ok := b.w.(http.Flusher); ok {
		f.Flush()
	}
}

// buildRunner runs RUN steps as containers of the embedded runtime, through
// "drover runtime run" (a child process that creates, starts, waits for and deletes the
// container), with the same spec generator and security defaults as containers.
type buildRunner struct{ d *Daemon }

var _ build.Runner = (*buildRunner)(nil)

func (r *buildRunner) Run(ctx context.Context, req build.RunRequest) (int, error) {
	d := r.d
	bundle := filepath.Join(d.cfg.ExecRoot, "build", "bundles", req.ID)
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(bundle)
	o := spec.Options{
		ID: req.ID, Rootfs: req.Rootfs, Args: req.Args, Env: req.Env, Cwd: req.Cwd, User: req.User,
		Hostname: "buildsandbox", CgroupsPath: d.cgroupsPath(req.ID), Network: spec.NetworkNone,
	}
	if req.Network == "host" {
		o.Network = spec.NetworkHost
		o.Mounts = append(o.Mounts, spec.Mount{Type: spec.MountBind, Source: d.cfg.ResolvConf, Destination: "/etc/resolv.conf", ReadOnly: true})
	}
	for _, m := range req.Mounts {
		sm := spec.Mount{Type: spec.MountBind, Source: m.Source, Destination: m.Target, ReadOnly: m.ReadOnly}
		if m.Tmpfs {
			sm = spec.Mount{Type: spec.MountTmpfs, Destination: m.Target}
			if m.Size > 0 {
				sm.Options = []string{"size=" + strconv.FormatInt(m.Size, 10)}
			}
		}
		o.Mounts = append(o.Mounts, sm)
	}
	s, err := spec.Generate(o)
	if err != nil {
		return 0, err
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), raw, 0o600); err != nil {
		return 0, err
	}
	stateRoot := filepath.Join(d.cfg.ExecRoot, "build", "runtime")
	cmd := d.selfCommand("runtime", "--root", stateRoot, "run", "--bundle", bundle, req.ID)
	cmd.Stdout, cmd.Stderr = req.Output, req.Output
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = d.selfCommand("runtime", "--root", stateRoot, "kill", "--all", req.ID, "KILL").Run()
		case <-done:
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		_ = d.selfCommand("runtime", "--root", stateRoot, "delete", "--force", req.ID).Run()
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

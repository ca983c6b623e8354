package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/image"
	"github.com/drover/drover/internal/errdefs"
)

// Runner runs the command of a RUN step in a container on a root filesystem the builder
// has mounted. The daemon implements it with the real runtime and its security defaults.
type Runner interface {
	Run(ctx context.Context, req RunRequest) (exitCode int, err error)
}

// RunRequest is one RUN step's process.
type RunRequest struct {
	// ID is unique among running steps; it can name the container and its cgroup.
	ID string
	// Rootfs is the mounted, writable root filesystem.
	Rootfs string
	Args   []string
	Env    []string
	Cwd    string
	User   string
	// Network is "none" or "host" ("default" is mapped by the builder to Options.Network).
	Network string
	// Output receives the process's stdout and stderr.
	Output io.Writer
	// Mounts are the step's RUN --mount mounts.
	Mounts []RunMount
}

// RunMount is a mount of a RUN step: a host directory or file bound at Target, or a
// fresh tmpfs.
type RunMount struct {
	Target   string
	Source   string // host path; "" with Tmpfs
	ReadOnly bool
	Tmpfs    bool
	Size     int64 // tmpfs size in bytes, 0 for the default
}

// Puller pulls an image into the store (for FROM and COPY --from of images not there, or
// every base with --pull).
type Puller func(ctx context.Context, ref string, platform ocispec.Platform, out io.Writer) error

// Builder builds images onto an image store.
type Builder struct {
	store  *image.Store
	runner Runner
	cache  *Cache
	work   string
	pull   Puller
}

// New returns a builder. work is a scratch directory for mount points (it removes what a
// crash left there); cache is where step results are kept; pull may be nil.
func New(store *image.Store, runner Runner, cache *Cache, work string, pull Puller) (*Builder, error) {
	b := &Builder{store: store, runner: runner, cache: cache, work: work, pull: pull}
	for _, d := range []string{"mnt", "downloads"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o700); err != nil {
			return nil, fmt.Errorf("builder: %w", err)
		}
	}
	b.recover()
	store.AddGCRoots(cache.Roots)
	return b, nil
}

// keyPrefix names the container layers of build steps.
const keyPrefix = "build-"

// recover unmounts and removes the step layers a crash left behind.
func (b *Builder) recover() {
	mnt := filepath.Join(b.work, "mnt")
	entries, _ := os.ReadDir(mnt)
	for _, e := range entries {
		p := filepath.Join(mnt, e.Name())
		_ = unix.Unmount(p, unix.MNT_DETACH)
		_ = os.Remove(p)
	}
	downloads, _ := os.ReadDir(filepath.Join(b.work, "downloads"))
	for _, e := range downloads {
		_ = os.RemoveAll(filepath.Join(b.work, "downloads", e.Name()))
	}
	keys, _ := b.store.Snapshots().Keys()
	for k := range keys {
		if strings.HasPrefix(k, keyPrefix) {
			_ = b.store.Snapshots().Remove(k)
		}
	}
}

// Options are one build's inputs.
type Options struct {
	// Dockerfile is its content; DockerfileName names it in messages.
	Dockerfile     []byte
	DockerfileName string
	// Context is the directory COPY and ADD read from ("" for none).
	Context string
	// ContextSums, when set, holds the sha256 (hex) of the context's regular files by
	// slash path relative to Context, as buildcontext.Extract computes them, so the cache
	// keys of COPY need not read the files again. Files missing from it are read.
	ContextSums map[string]string
	// Tags name the result (none: only its ID).
	Tags      []string
	BuildArgs map[string]string
	// Target is the stage to build (the last one by default).
	Target  string
	NoCache bool
	// Pull pulls every base image even when it is in the store.
	Pull   bool
	Labels map[string]string
	// Platform is os/arch[/variant]; only the host's platform can run RUN steps.
	Platform string
	// Network is what RUN steps get by default: "host" (the default) or "none".
	Network string
	// Out receives the progress: each step with its time, cache hits, RUN output.
	Out io.Writer
}

// Result is what a build made.
type Result struct {
	Image *image.Image
	// Steps and Cached count the steps run and those taken from the cache.
	Steps, Cached int
}

// Build builds the image and names it with opts.Tags. Nothing is tagged unless the whole
// build succeeds.
func (b *Builder) Build(ctx context.Context, opts Options) (*Result, error) {
	out := &syncWriter{w: opts.Out}
	if opts.Out == nil {
		out.w = io.Discard
	}
	name := opts.DockerfileName
	if name == "" {
		name = "Dockerfile"
	}
	df, err := Parse(name, opts.Dockerfile)
	if err != nil {
		return nil, err
	}
	for _, w := range df.Warnings {
		fmt.Fprintf(out, "WARNING: %s\n", w)
	}
	platform, err := image.ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	host := image.HostPlatform()
	if platform.OS != host.OS || platform.Architecture != host.Architecture {
		return nil, fmt.Errorf("platform %s/%s: only the host's platform (%s/%s) can be built here: %w", platform.OS, platform.Architecture, host.OS, host.Architecture, errdefs.ErrInvalidArgument)
	}
	network := opts.Network
	switch network {
	case "", "default", "host":
		network = "host"
	case "none":
	default:
		return nil, fmt.Errorf("network %q: use default, host or none: %w", opts.Network, errdefs.ErrInvalidArgument)
	}
	for _, t := range opts.Tags {
		if _, err := image.ParseReference(t); err != nil {
			return nil, fmt.Errorf("tag %q: %w", t, err)
		}
	}
	j := &job{
		b: b, opts: opts, df: df, file: name, out: out, platform: platform, network: network,
		used: map[string]bool{}, pulled: map[string]bool{}, stages: make([]*stageRun, len(df.Stages)),
	}
	if err := j.globalArgs(); err != nil {
		return nil, err
	}
	target := len(df.Stages) - 1
	if opts.Target != "" {
		if target = df.StageIndex(strings.ToLower(opts.Target)); target < 0 {
			return nil, fmt.Errorf("target stage %q is not in the Dockerfile: %w", opts.Target, errdefs.ErrInvalidArgument)
		}
	}
	for i := range df.Stages {
		j.stages[i] = &stageRun{index: i}
	}
	if err := j.resolveDeps(); err != nil {
		return nil, err
	}
	if err := j.checkCycles(target); err != nil {
		return nil, err
	}
	start := time.Now()
	st, err := j.stage(ctx, target)
	if err != nil {
		return nil, err
	}
	if len(opts.Labels) > 0 {
		if st, err = j.labelStep(st, opts.Labels); err != nil {
			return nil, err
		}
	}
	j.warnUnusedArgs()
	cfg := st.cfg.clone()
	if cfg.Created == nil {
		now := time.Now().UTC()
		cfg.Created = &now
	}
	raw, err := marshalConfig(cfg)
	if err != nil {
		return nil, err
	}
	img, err := b.store.CreateImage(ctx, raw, st.layers, opts.Tags...)
	if err != nil {
		return nil, fmt.Errorf("store the image: %w", err)
	}
	j.mu.Lock()
	steps, cached := j.steps, j.cached
	j.mu.Unlock()
	fmt.Fprintf(out, "Built %s in %.2fs (%d steps, %d cached)\n", img.ID, time.Since(start).Seconds(), steps, cached)
	for _, t := range opts.Tags {
		r, _ := image.ParseReference(t)
		fmt.Fprintf(out, "Tagged %s\n", r.Familiar())
	}
	return &Result{Image: img, Steps: steps, Cached: cached}, nil
}

// job is one build under way.
type job struct {
	b        *Builder
	opts     Options
	df       *Dockerfile
	file     string
	out      *syncWriter
	platform ocispec.Platform
	network  string

	meta []argValue // global ARGs, in order

	mu     sync.Mutex
	used   map[string]bool // build args consumed
	pulled map[string]bool
	steps  int
	cached int
	stages []*stageRun
}

// stageRun is one stage's dependencies and, once built, its final state.
type stageRun struct {
	index int
	base  string // expanded base name
	deps  []int
	once  sync.Once
	state *state
	err   error
}

// state is an image under construction: its config, layers and cache key.
type state struct {
	cfg    imageConfig
	layers []ocispec.Descriptor
	key    digest.Digest
}

func (s *state) chain() digest.Digest { return image.ChainID(s.cfg.RootFS.DiffIDs) }

type argValue struct {
	name  string
	value string
	set   bool
}

// proxyArgs may be passed without an ARG instruction; they stay out of the cache key and
// the history, as in Docker.
var proxyArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// platformArgs are BuildKit's automatic platform ARGs.
func (j *job) platformArgs() map[string]string {
	p, h := j.platform, image.HostPlatform()
	fmtP := func(p ocispec.Platform) string {
		s := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			s += "/" + p.Variant
		}
		return s
	}
	return map[string]string{
		"TARGETPLATFORM": fmtP(p), "TARGETOS": p.OS, "TARGETARCH": p.Architecture, "TARGETVARIANT": p.Variant,
		"BUILDPLATFORM": fmtP(h), "BUILDOS": h.OS, "BUILDARCH": h.Architecture, "BUILDVARIANT": h.Variant,
	}
}

// globalArgs evaluates the ARGs before the first FROM.
func (j *job) globalArgs() error {
	for k, v := range j.platformArgs() {
		j.meta = append(j.meta, argValue{name: k, value: v, set: true})
	}
	for _, a := range j.df.MetaArgs {
		for _, kv := range a.Args {
			av := argValue{name: kv.Key}
			if v, ok := j.opts.BuildArgs[kv.Key]; ok {
				av.value, av.set = v, true
				j.markUsed(kv.Key)
			} else if kv.Value != nil {
				v, err := j.expand(*kv.Value, j.metaEnv())
				if err != nil {
					return &Error{File: j.file, Line: lineOf(a.Location()), Err: fmt.Errorf("ARG %s: %w: %w", kv.Key, err, errdefs.ErrInvalidArgument)}
				}
				av.value, av.set = v, true
			}
			j.meta = append(j.meta, av)
		}
	}
	return nil
}

func (j *job) metaEnv() *envMap {
	e := newEnvMap()
	for _, a := range j.meta {
		if a.set {
			e.set(a.name, a.value)
		}
	}
	return e
}

func (j *job) metaArg(name string) (argValue, bool) {
	for i := len(j.meta) - 1; i >= 0; i-- {
		if j.meta[i].name == name {
			return j.meta[i], true
		}
	}
	return argValue{}, false
}

func (j *job) markUsed(name string) {
	j.mu.Lock()
	j.used[name] = true
	j.mu.Unlock()
}

func (j *job) warnUnusedArgs() {
	var unused []string
	for k := range j.opts.BuildArgs {
		if !j.used[k] && !proxyArgs[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		fmt.Fprintf(j.out, "WARNING: build args not consumed by any ARG: %s\n", strings.Join(unused, ", "))
	}
}

// errAt wraps err with the Dockerfile line of a command.
func (j *job) errAt(loc int, err error) error {
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	return &Error{File: j.file, Line: loc, Err: err}
}

// resolveDeps finds each stage's base and the stages its COPY --from read.
func (j *job) resolveDeps() error {
	env := j.metaEnv()
	for i, st := range j.df.Stages {
		base, err := j.expand(st.BaseName, env)
		if err != nil {
			return j.errAt(lineOf(st.Location), fmt.Errorf("FROM %s: %w: %w", st.BaseName, err, errdefs.ErrInvalidArgument))
		}
		if base == "" {
			return j.errAt(lineOf(st.Location), fmt.Errorf("FROM needs an image or stage name: %w", errdefs.ErrInvalidArgument))
		}
		j.stages[i].base = base
		if k := j.df.StageIndex(strings.ToLower(base)); k >= 0 && !strings.Contains(base, ":") {
			j.stages[i].deps = append(j.stages[i].deps, k)
		}
		for _, c := range st.Commands {
			cp, ok := c.(*instructions.CopyCommand)
			if !ok || cp.From == "" {
				continue
			}
			from, err := j.expand(cp.From, env)
			if err != nil {
				return j.errAt(lineOf(c.Location()), fmt.Errorf("COPY --from=%s: %w: %w", cp.From, err, errdefs.ErrInvalidArgument))
			}
			if k := j.df.StageIndex(strings.ToLower(from)); k >= 0 {
				j.stages[i].deps = append(j.stages[i].deps, k)
			}
		}
	}
	return nil
}

// checkCycles refuses stages that depend on themselves through FROM or COPY --from,
// naming the whole cycle.
func (j *job) checkCycles(target int) error {
	const (
		visiting = 1
		done     = 2
	)
	mark := make([]int, len(j.stages))
	var stack []int
	var visit func(i int) error
	visit = func(i int) error {
		switch mark[i] {
		case visiting:
			var names []string
			from := 0
			for k, s := range stack {
				if s == i {
					from = k
				}
			}
			for _, s := range append(stack[from:], i) {
				names = append(names, stageLabel(j.df.Stages[s], s))
			}
			st := j.df.Stages[i]
			return j.errAt(lineOf(st.Location), fmt.Errorf("stages depend on each other in a cycle (FROM or COPY --from): %s: %w", strings.Join(names, " -> "), errdefs.ErrInvalidArgument))
		case done:
			return nil
		}
		mark[i] = visiting
		stack = append(stack, i)
		for _, d := range j.stages[i].deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		mark[i] = done
		return nil
	}
	return visit(target)
}

func stageLabel(st instructions.Stage, i int) string {
	if st.Name != "" {
		return fmt.Sprintf("%q", st.Name)
	}
	return fmt.Sprintf("%d", i)
}

// stage builds stage i once (its dependencies first, in parallel) and returns its state.
func (j *job) stage(ctx context.Context, i int) (*state, error) {
	sr := j.stages[i]
	sr.once.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, len(sr.deps))
		for n, d := range sr.deps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[n] = j.stage(ctx, d)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			sr.err = err
			return
		}
		sr.state, sr.err = j.buildStage(ctx, i)
	})
	return sr.state, sr.err
}

func (j *job) countStep(cached bool) {
	j.mu.Lock()
	j.steps++
	if cached {
		j.cached++
	}
	j.mu.Unlock()
}

// randomKey names a step's container layer.
func randomKey() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return keyPrefix + hex.EncodeToString(b[:])
}

// syncWriter serialises the progress of stages building in parallel.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

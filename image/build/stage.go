package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/drover/drover/image"
	"github.com/drover/drover/internal/errdefs"
)

// historyComment marks the history entries drover's builder writes.
const historyComment = "drover build"

// envMap is the variables a word is expanded with (shell.EnvGetter).
type envMap struct {
	vals map[string]string
	keys []string
}

func newEnvMap() *envMap { return &envMap{vals: map[string]string{}} }

func (e *envMap) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *envMap) Get(k string) (string, bool) { v, ok := e.vals[k]; return v, ok }
func (e *envMap) Keys() []string              { return e.keys }

func (j *job) expand(word string, env *envMap) (string, error) {
	s, _, err := shell.NewLex(j.df.Escape).ProcessWord(word, env)
	return s, err
}

// stageBuild is a stage being built.
type stageBuild struct {
	j       *job
	index   int
	label   string // [stage] prefix of progress lines
	st      *state
	args    []argValue // ARGs declared in the stage, in order
	cmdSet  bool       // CMD set in this stage (ENTRYPOINT then keeps it)
	step    int
	total   int
	noCache bool
}

// buildStage runs the instructions of stage i on its base.
func (j *job) buildStage(ctx context.Context, i int) (*state, error) {
	stg := j.df.Stages[i]
	sb := &stageBuild{j: j, index: i, total: len(stg.Commands) + 1, noCache: j.opts.NoCache}
	sb.label = fmt.Sprintf("[%d/%d]", i+1, len(j.df.Stages))
	if stg.Name != "" {
		sb.label = fmt.Sprintf("[%s]", stg.Name)
	}
	sb.step = 1
	started := time.Now()
	sb.printf("STEP %d/%d: %s\n", sb.step, sb.total, stg.SourceCode)
	base, err := j.baseState(ctx, i)
	if err != nil {
		return nil, j.errAt(lineOf(stg.Location), err)
	}
	sb.st = base
	sb.done(started, false)
	// ONBUILD triggers of the base image run first, then leave the config.
	if triggers := base.cfg.Config.OnBuild; len(triggers) > 0 {
		cfg := base.cfg.clone()
		cfg.Config.OnBuild = nil
		sb.st = &state{cfg: cfg, layers: base.layers, key: digest.FromString(string(base.key) + "\x00onbuild-cleared")}
		for _, t := range triggers {
			res, err := parser.Parse(strings.NewReader(t))
			if err != nil || len(res.AST.Children) != 1 {
				return nil, j.errAt(lineOf(stg.Location), fmt.Errorf("ONBUILD trigger %q of the base image: %v: %w", t, err, errdefs.ErrInvalidArgument))
			}
			c, err := instructions.ParseCommand(res.AST.Children[0])
			if err != nil {
				return nil, j.errAt(lineOf(stg.Location), fmt.Errorf("ONBUILD trigger %q of the base image: %w: %w", t, cleanErr(err), errdefs.ErrInvalidArgument))
			}
			sb.printf("ONBUILD %s\n", t)
			if err := sb.dispatch(ctx, c, lineOf(stg.Location)); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range stg.Commands {
		sb.step++
		line := lineOf(c.Location())
		if err := sb.dispatch(ctx, c, line); err != nil {
			return nil, err
		}
	}
	return sb.st, nil
}

func (sb *stageBuild) printf(format string, a ...any) {
	fmt.Fprintf(sb.j.out, sb.label+" "+format, a...)
}

func (sb *stageBuild) done(started time.Time, cached bool) {
	if cached {
		sb.printf("CACHED %.2fs\n", time.Since(started).Seconds())
	} else {
		sb.printf("DONE %.2fs\n", time.Since(started).Seconds())
	}
	sb.j.countStep(cached)
}

// baseState is the state a stage starts from: scratch, another stage or an image.
func (j *job) baseState(ctx context.Context, i int) (*state, error) {
	base := j.stages[i].base
	if p := j.df.Stages[i].Platform; p != "" {
		p, err := j.expand(p, j.metaEnv())
		if err != nil {
			return nil, fmt.Errorf("FROM --platform: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		want, err := image.ParsePlatform(p)
		if err != nil {
			return nil, err
		}
		if want.OS != j.platform.OS || want.Architecture != j.platform.Architecture {
			return nil, fmt.Errorf("FROM --platform=%s: only the host's platform (%s/%s) can be built here: %w", p, j.platform.OS, j.platform.Architecture, errdefs.ErrInvalidArgument)
		}
	}
	if strings.EqualFold(base, "scratch") {
		cfg := imageConfig{Architecture: j.platform.Architecture, Variant: j.platform.Variant, OS: j.platform.OS}
		cfg.RootFS.Type = "layers"
		cfg.Config.Env = []string{"PATH=" + defaultPath}
		return &state{cfg: cfg, key: digest.FromString("scratch " + cfg.OS + "/" + cfg.Architecture)}, nil
	}
	if k := j.df.StageIndex(strings.ToLower(base)); k >= 0 && !strings.Contains(base, ":") {
		if k == i {
			return nil, fmt.Errorf("stage %s is its own base: %w", base, errdefs.ErrInvalidArgument)
		}
		st, err := j.stage(ctx, k)
		if err != nil {
			return nil, err
		}
		cp := *st
		cp.cfg = st.cfg.clone()
		return &cp, nil
	}
	img, err := j.image(ctx, base)
	if err != nil {
		return nil, err
	}
	return imageState(img)
}

// defaultPath is the PATH a scratch image gets, as in Docker.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func imageState(img *image.Image) (*state, error) {
	var cfg imageConfig
	if err := json.Unmarshal(img.RawConfig, &cfg); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	cfg.Created = nil
	if _, ok := getEnv(cfg.Config.Env, "PATH"); !ok {
		// As BuildKit and buildah do: steps and the image get a PATH.
		cfg.Config.Env = append([]string{"PATH=" + defaultPath}, cfg.Config.Env...)
	}
	return &state{cfg: cfg, layers: append([]ocispec.Descriptor(nil), img.Layers...), key: digest.FromString("image " + img.ID.String())}, nil
}

// image finds ref in the store, pulling it when missing (or always with --pull).
func (j *job) image(ctx context.Context, ref string) (*image.Image, error) {
	j.mu.Lock()
	pulled := j.pulled[ref]
	j.mu.Unlock()
	img, err := j.b.store.Get(ref)
	if err == nil && !(j.opts.Pull && !pulled && !isID(ref)) {
		return img, nil
	}
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return nil, err
	}
	if j.b.pull == nil {
		return nil, fmt.Errorf("image %s is not in the store: pull it first: %w", ref, errdefs.ErrNotFound)
	}
	if perr := j.b.pull(ctx, ref, j.platform, j.out); perr != nil {
		if img != nil { // --pull of an image we have: keep the local one, say so
			fmt.Fprintf(j.out, "WARNING: pull %s: %v (using the local image)\n", ref, perr)
			return img, nil
		}
		return nil, fmt.Errorf("pull %s: %w", ref, perr)
	}
	j.mu.Lock()
	j.pulled[ref] = true
	j.mu.Unlock()
	return j.b.store.Get(ref)
}

func isID(ref string) bool {
	return strings.HasPrefix(ref, "sha256:") || strings.Contains(ref, "@")
}

// env is the variables instructions are expanded with: the stage's ARGs (and the proxy
// args passed), then its ENV, which wins.
func (sb *stageBuild) env() *envMap {
	e := newEnvMap()
	for _, a := range sb.args {
		if a.set {
			e.set(a.name, a.value)
		}
	}
	for _, kv := range sb.st.cfg.Config.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e.set(k, v)
		}
	}
	return e
}

// runEnv is the environment of a RUN step: the image's ENV plus the stage's ARGs and
// the proxy args given, which ENV overrides. The second value is the part that goes
// into the cache key (ARGs but not proxy args).
func (sb *stageBuild) runEnv() (env, keyed []string) {
	env = append([]string(nil), sb.st.cfg.Config.Env...)
	for _, a := range sb.args {
		if !a.set {
			continue
		}
		keyed = append(keyed, a.name+"="+a.value)
		if _, ok := getEnv(env, a.name); !ok {
			env = append(env, a.name+"="+a.value)
		}
	}
	var proxies []string
	for k := range sb.j.opts.BuildArgs {
		if proxyArgs[k] {
			proxies = append(proxies, k)
		}
	}
	sort.Strings(proxies)
	for _, k := range proxies {
		if _, ok := getEnv(env, k); !ok {
			env = append(env, k+"="+sb.j.opts.BuildArgs[k])
		}
	}
	return env, keyed
}

func (sb *stageBuild) shellCmd() []string {
	if len(sb.st.cfg.Config.Shell) > 0 {
		return sb.st.cfg.Config.Shell
	}
	return []string{"/bin/sh", "-c"}
}

// commandLine is the argv of a CMD, ENTRYPOINT or RUN: exec form as written, shell form
// through the stage's SHELL.
func (sb *stageBuild) commandLine(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	return append(append([]string(nil), sb.shellCmd()...), strings.Join(c.CmdLine, " "))
}

// dispatch runs one instruction.
func (sb *stageBuild) dispatch(ctx context.Context, c instructions.Command, line int) error {
	j := sb.j
	started := time.Now()
	sb.printf("STEP %d/%d: %s\n", sb.step, sb.total, oneLine(fmt.Sprint(c)))
	fail := func(err error) error { return j.errAt(line, err) }
	if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		env := sb.env()
		if err := ex.Expand(func(w string) (string, error) { return j.expand(w, env) }); err != nil {
			return fail(fmt.Errorf("%s: %w: %w", strings.ToUpper(c.Name()), err, errdefs.ErrInvalidArgument))
		}
	}
	var err error
	cached := false
	switch c := c.(type) {
	case *instructions.ArgCommand:
		sb.arg(c)
		sb.printf("DONE 0.00s\n")
		return nil
	case *instructions.RunCommand:
		cached, err = sb.run(ctx, c)
	case *instructions.CopyCommand:
		// --from is expanded with the global ARGs, as the stage graph was resolved.
		from, ferr := j.expand(c.From, j.metaEnv())
		if ferr != nil {
			return fail(fmt.Errorf("COPY --from=%s: %w: %w", c.From, ferr, errdefs.ErrInvalidArgument))
		}
		cached, err = sb.copy(ctx, c.SourcesAndDest, from, c.Chown, c.Chmod, false, c)
	case *instructions.AddCommand:
		cached, err = sb.copy(ctx, c.SourcesAndDest, "", c.Chown, c.Chmod, true, c)
	case *instructions.WorkdirCommand:
		cached, err = sb.workdir(ctx, c)
	default:
		cached, err = sb.configStep(c)
	}
	if err != nil {
		return fail(err)
	}
	sb.done(started, cached)
	return nil
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// arg declares ARGs in the stage.
func (sb *stageBuild) arg(c *instructions.ArgCommand) {
	for _, kv := range c.Args {
		av := argValue{name: kv.Key}
		if v, ok := sb.j.opts.BuildArgs[kv.Key]; ok {
			av.value, av.set = v, true
			sb.j.markUsed(kv.Key)
		} else if kv.Value != nil {
			av.value, av.set = *kv.Value, true // expanded by ArgCommand.Expand
		} else if m, ok := sb.j.metaArg(kv.Key); ok && m.set {
			av.value, av.set = m.value, true
		}
		sb.args = append(sb.args, av)
	}
}

// stepKey is the cache key of a step on the current state.
func (sb *stageBuild) stepKey(text string, extra ...string) digest.Digest {
	h := digest.Canonical.Digester()
	fmt.Fprintf(h.Hash(), "%s\x00%s\x00%s", sb.st.key, sb.j.platform.Architecture, text)
	for _, e := range extra {
		fmt.Fprintf(h.Hash(), "\x00%s", e)
	}
	return h.Digest()
}

// fromCache moves to the cached state of key, if the cache has it with its layers.
func (sb *stageBuild) fromCache(key digest.Digest) bool {
	if sb.noCache {
		return false
	}
	e, ok := sb.j.b.cache.get(key)
	if !ok {
		return false
	}
	var cfg imageConfig
	if json.Unmarshal(e.Config, &cfg) != nil || len(cfg.RootFS.DiffIDs) != len(e.Layers) {
		return false
	}
	for _, l := range e.Layers {
		if _, err := sb.j.b.store.Content().Info(l.Digest); err != nil {
			return false // collected since: build the step again
		}
	}
	sb.st = &state{cfg: cfg, layers: e.Layers, key: key}
	return true
}

// commit records the new state as the result of step key.
func (sb *stageBuild) commit(key digest.Digest, cfg imageConfig, layers []ocispec.Descriptor) error {
	raw, err := marshalConfig(cfg)
	if err != nil {
		return err
	}
	if err := sb.j.b.cache.put(key, cacheEntry{Config: raw, Layers: layers, Time: time.Now().UTC()}); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	sb.st = &state{cfg: cfg, layers: layers, key: key}
	return nil
}

// addHistory appends a history entry to cfg.
func addHistory(cfg *imageConfig, createdBy string, empty bool) {
	now := time.Now().UTC()
	cfg.History = append(cfg.History, ocispec.History{Created: &now, CreatedBy: createdBy, Comment: historyComment, EmptyLayer: empty})
	cfg.Created = &now
}

// configStep runs an instruction that changes only the config.
func (sb *stageBuild) configStep(c instructions.Command) (bool, error) {
	cfg := sb.st.cfg.clone()
	text := fmt.Sprint(c)
	switch c := c.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range c.Env {
			cfg.Config.Env = setEnv(cfg.Config.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		text = "ENV " + strings.Join(parts, " ")
	case *instructions.LabelCommand:
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		var parts []string
		for _, kv := range c.Labels {
			cfg.Config.Labels[kv.Key] = kv.Value
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		text = "LABEL " + strings.Join(parts, " ")
	case *instructions.MaintainerCommand:
		cfg.Author = c.Maintainer
	case *instructions.UserCommand:
		cfg.Config.User = c.User
		text = "USER " + c.User
	case *instructions.ExposeCommand:
		env := sb.env()
		if cfg.Config.ExposedPorts == nil {
			cfg.Config.ExposedPorts = map[string]struct{}{}
		}
		var ports []string
		for _, p := range c.Ports {
			p, err := sb.j.expand(p, env)
			if err != nil {
				return false, fmt.Errorf("EXPOSE: %w: %w", err, errdefs.ErrInvalidArgument)
			}
			ps, err := exposedPorts(p)
			if err != nil {
				return false, err
			}
			for _, q := range ps {
				cfg.Config.ExposedPorts[q] = struct{}{}
				ports = append(ports, q)
			}
		}
		text = "EXPOSE " + strings.Join(ports, " ")
	case *instructions.VolumeCommand:
		if cfg.Config.Volumes == nil {
			cfg.Config.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return false, fmt.Errorf("VOLUME: an empty path: %w", errdefs.ErrInvalidArgument)
			}
			cfg.Config.Volumes[v] = struct{}{}
		}
		text = "VOLUME " + fmt.Sprint(c.Volumes)
	case *instructions.StopSignalCommand:
		cfg.Config.StopSignal = c.Signal
		text = "STOPSIGNAL " + c.Signal
	case *instructions.CmdCommand:
		cfg.Config.Cmd = sb.commandLine(c.ShellDependantCmdLine)
		sb.cmdSet = true
		text = "CMD " + jsonArray(cfg.Config.Cmd)
	case *instructions.EntrypointCommand:
		cfg.Config.Entrypoint = sb.commandLine(c.ShellDependantCmdLine)
		if !sb.cmdSet {
			cfg.Config.Cmd = nil // Docker: an ENTRYPOINT resets the CMD inherited from the base
		}
		text = "ENTRYPOINT " + jsonArray(cfg.Config.Entrypoint)
	case *instructions.ShellCommand:
		cfg.Config.Shell = append([]string(nil), c.Shell...)
		text = "SHELL " + jsonArray(c.Shell)
	case *instructions.OnbuildCommand:
		cfg.Config.OnBuild = append(cfg.Config.OnBuild, c.Expression)
		text = "ONBUILD " + c.Expression
	case *instructions.HealthCheckCommand:
		h := c.Health
		cfg.Config.Healthcheck = &image.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		text = "HEALTHCHECK " + jsonArray(h.Test)
	default:
		return false, fmt.Errorf("instruction %s is not supported: %w", strings.ToUpper(c.Name()), errdefs.ErrInvalidArgument)
	}
	key := sb.stepKey(text)
	if sb.fromCache(key) {
		return true, nil
	}
	addHistory(&cfg, text, true)
	return false, sb.commit(key, cfg, sb.st.layers)
}

// labelStep applies the --label options after the target stage.
func (j *job) labelStep(st *state, labels map[string]string) (*state, error) {
	sb := &stageBuild{j: j, st: st, label: "[labels]", noCache: j.opts.NoCache}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	cfg := st.cfg.clone()
	if cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	for _, k := range keys {
		cfg.Config.Labels[k] = labels[k]
		parts = append(parts, k+"="+labels[k])
	}
	text := "LABEL " + strings.Join(parts, " ")
	key := sb.stepKey(text)
	if !sb.fromCache(key) {
		addHistory(&cfg, text, true)
		if err := sb.commit(key, cfg, st.layers); err != nil {
			return nil, err
		}
	}
	return sb.st, nil
}

func jsonArray(a []string) string {
	raw, _ := json.Marshal(a)
	return string(raw)
}

// exposedPorts reads one EXPOSE word: 80, 80/udp, 8000-8002/tcp.
func exposedPorts(s string) ([]string, error) {
	port, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("EXPOSE %s: the protocol is tcp, udp or sctp: %w", s, errdefs.ErrInvalidArgument)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	if !isRange {
		hi = lo
	}
	var a, b int
	if _, err := fmt.Sscan(lo, &a); err != nil {
		return nil, fmt.Errorf("EXPOSE %s: not a port: %w", s, errdefs.ErrInvalidArgument)
	}
	if _, err := fmt.Sscan(hi, &b); err != nil {
		return nil, fmt.Errorf("EXPOSE %s: not a port: %w", s, errdefs.ErrInvalidArgument)
	}
	if a < 1 || b > 65535 || a > b || b-a >= 1024 {
		return nil, fmt.Errorf("EXPOSE %s: ports are 1-65535, ranges low-high of at most 1024: %w", s, errdefs.ErrInvalidArgument)
	}
	var out []string
	for p := a; p <= b; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}

// workdirPath resolves a WORKDIR or COPY destination against the current directory.
func (sb *stageBuild) absPath(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	wd := sb.st.cfg.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	return path.Join(wd, p)
}

// Package libcontainer is drover's embedded OCI runtime: runc's libcontainer linked into
// the drover binary. Every import of libcontainer stays inside this package because its
// API is not stable.
package libcontainer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/opencontainers/cgroups/devices" // device cgroup rules for the cgroupfs manager
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // C constructor that sets up namespaces in "drover init"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/drover/drover/internal/errdefs"
	"github.com/drover/drover/runtime"
)

// InitArg is the argv[1] libcontainer uses when it re-executes the binary as a container's
// first process.
const InitArg = "init"

// Init runs libcontainer's container init when this process was started as one; it never
// returns in that case. cmd/drover calls it before anything else.
func Init() {
	if len(os.Args) > 1 && os.Args[1] == InitArg {
		libcontainer.Init()
	}
}

func init() {
	// libcontainer logs through logrus; keep its chatter out of drover's output.
	logrus.SetLevel(logrus.ErrorLevel)
}

// Runtime drives containers through the embedded libcontainer. Root holds its state.
type Runtime struct {
	Root string
	// SystemdCgroup places containers with systemd's cgroup manager; cgroupsPath is then
	// "slice:prefix:name".
	SystemdCgroup bool

	// KeepLoaded keeps the containers this process loaded too, not only those it
	// created: for a process that runs one command (the runtime command line's start and
	// delete look a container up, then act on it), so state.json is parsed once. A
	// long-lived process must not: another process may delete and create a container of
	// the same ID meanwhile.
	KeepLoaded bool

	// The containers this process created, kept so that start, kill and delete in a
	// long-lived shim do not parse state.json (tens of KB with the seccomp rules) again.
	mu    sync.Mutex
	known map[string]*libcontainer.Container
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an embedded runtime keeping state under root.
func New(root string) *Runtime {
	return &Runtime{Root: root, known: map[string]*libcontainer.Container{}}
}

func (r *Runtime) load(id string) (*libcontainer.Container, error) {
	r.mu.Lock()
	c := r.known[id]
	r.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, err := libcontainer.Load(r.Root, id)
	if err != nil {
		if errors.Is(err, libcontainer.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
		}
		return nil, err
	}
	if r.KeepLoaded {
		r.remember(id, c)
	}
	return c, nil
}

func (r *Runtime) remember(id string, c *libcontainer.Container) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c == nil {
		delete(r.known, id)
	} else {
		r.known[id] = c
	}
}

// Create builds the container and starts its init, which waits on the exec fifo until Start.
func (r *Runtime) Create(ctx context.Context, id, bundle string, io runtime.IO) (runtime.Process, error) {
	return r.CreateWith(ctx, id, bundle, io, runtime.CreateOptions{})
}

// CreateWith is Create with runc's create-time options.
func (r *Runtime) CreateWith(ctx context.Context, id, bundle string, io runtime.IO, o runtime.CreateOptions) (_ runtime.Process, retErr error) {
	s, err := readSpec(bundle)
	if err != nil {
		return runtime.Process{}, err
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: id, Spec: s, UseSystemdCgroup: r.SystemdCgroup,
		NoPivotRoot: o.NoPivotRoot, NoNewKeyring: o.NoNewKeyring,
	})
	if err != nil {
		return runtime.Process{}, fmt.Errorf("convert spec: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	relaxConfig(cfg)
	p, err := newProcess(s.Process)
	if err != nil {
		return runtime.Process{}, err
	}
	var deferred []configs.Rlimit
	cfg.Rlimits, _ = deferRlimits(cfg.Rlimits)
	p.Rlimits, deferred = deferRlimits(p.Rlimits)
	cfg.Labels = append(cfg.Labels, rlimitLabels(deferred)...)
	pruneSeccomp(cfg.Seccomp)
	cfg.Labels = append(cfg.Labels, "bundle="+bundle)
	c, err := libcontainer.Create(r.Root, id, cfg)
	if err != nil {
		if errors.Is(err, libcontainer.ErrExist) {
			return runtime.Process{}, fmt.Errorf("container %s: %w", id, errdefs.ErrAlreadyExists)
		}
		return runtime.Process{}, err
	}
	defer func() {
		if retErr != nil {
			_ = c.Destroy()
		}
	}()
	p.Init = true
	proc, err := startProcess(c, p, io)
	if err == nil {
		r.remember(id, c)
	}
	return proc, err
}

func startProcess(c *libcontainer.Container, p *libcontainer.Process, io runtime.IO) (runtime.Process, error) {
	var parentSock *os.File
	if io.Terminal {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return runtime.Process{}, fmt.Errorf("console socket: %w", err)
		}
		parentSock = os.NewFile(uintptr(fds[0]), "console-parent")
		child := os.NewFile(uintptr(fds[1]), "console-child")
		defer parentSock.Close()
		defer child.Close()
		p.ConsoleSocket = child
		p.ConsoleWidth, p.ConsoleHeight = io.ConsoleWidth, io.ConsoleHeight
	} else {
		// Assign only non-nil files: a nil *os.File in an interface would not read as nil.
		if io.Stdin != nil {
			p.Stdin = io.Stdin
		}
		if io.Stdout != nil {
			p.Stdout = io.Stdout
		}
		if io.Stderr != nil {
			p.Stderr = io.Stderr
		}
	}
	p.ExtraFiles = io.ExtraFiles
	if err := c.Start(p); err != nil {
		return runtime.Process{}, err
	}
	pid, err := p.Pid()
	if err != nil {
		return runtime.Process{}, err
	}
	out := runtime.Process{Pid: pid}
	if parentSock != nil {
		console, err := runtime.RecvFd(parentSock)
		if err != nil {
			_ = p.Signal(unix.SIGKILL)
			return runtime.Process{}, err
		}
		out.Console = console
	}
	return out, nil
}

// Start releases the created container's init to exec the user's process.
func (r *Runtime) Start(ctx context.Context, id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if limits := deferredRlimits(c.Config().Labels); len(limits) > 0 {
		st, err := c.State()
		if err != nil {
			return err
		}
		return execWithRlimits(st.InitProcessPid, limits, c.Exec)
	}
	return c.Exec()
}

// Exec joins a running container's namespaces and cgroup with a new process.
func (r *Runtime) Exec(ctx context.Context, id string, sp *specs.Process, io runtime.IO) (runtime.Process, error) {
	c, err := r.load(id)
	if err != nil {
		return runtime.Process{}, err
	}
	p, err := newProcess(sp)
	if err != nil {
		return runtime.Process{}, err
	}
	return startProcess(c, p, io)
}

// Kill signals the container's init. With its own pid namespace, SIGKILL to init takes
// every process of the container down with it; libcontainer kills the whole cgroup otherwise.
// With all set, every process in the container's cgroup gets the signal.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if all {
		return signalAll(c, sig)
	}
	if err := c.Signal(sig); err != nil {
		if errors.Is(err, libcontainer.ErrNotRunning) {
			return fmt.Errorf("container %s is not running: %w", id, errdefs.ErrConflict)
		}
		return err
	}
	return nil
}

func (r *Runtime) Pause(ctx context.Context, id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return c.Pause()
}

func (r *Runtime) Resume(ctx context.Context, id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	return c.Resume()
}

func (r *Runtime) State(ctx context.Context, id string) (runtime.State, error) {
	c, err := r.load(id)
	if err != nil {
		return runtime.State{}, err
	}
	st, err := c.Status()
	if err != nil {
		return runtime.State{}, err
	}
	s, err := c.State()
	if err != nil {
		return runtime.State{}, err
	}
	var status runtime.Status
	switch st {
	case libcontainer.Created:
		status = runtime.StatusCreated
	case libcontainer.Running:
		status = runtime.StatusRunning
	case libcontainer.Paused:
		status = runtime.StatusPaused
	default:
		status = runtime.StatusStopped
	}
	bundle := ""
	for _, l := range s.Config.Labels {
		if b, ok := strings.CutPrefix(l, "bundle="); ok {
			bundle = b
		}
	}
	out := runtime.State{ID: id, Pid: s.InitProcessPid, Status: status, Bundle: bundle,
		Rootfs: s.Config.Rootfs, Created: s.Created}
	if oci, err := c.OCIState(); err == nil {
		out.Annotations = oci.Annotations
	}
	if status == runtime.StatusStopped {
		out.Pid = 0
	}
	return out, nil
}

func (r *Runtime) Pids(ctx context.Context, id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return c.Processes()
}

// Delete destroys the container's state and cgroups. A container that is gone already
// counts as deleted, so cleanup can be retried after a crash.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	c, err := r.load(id)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			// An aborted create can leave a directory without state.json behind.
			_ = os.RemoveAll(filepath.Join(r.Root, id))
			return nil
		}
		return err
	}
	st, err := c.Status()
	if err != nil {
		return err
	}
	if st == libcontainer.Stopped {
		return r.destroy(id, c)
	}
	if !force && st != libcontainer.Created {
		return fmt.Errorf("container %s is %s: stop it first: %w", id, st, errdefs.ErrConflict)
	}
	if st == libcontainer.Paused {
		_ = c.Resume()
	}
	_ = c.Signal(unix.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.Signal(unix.Signal(0)); err != nil {
			return r.destroy(id, c)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("container %s: init still running after SIGKILL", id)
}

func (r *Runtime) destroy(id string, c *libcontainer.Container) error {
	err := c.Destroy()
	if err == nil {
		r.remember(id, nil)
	}
	return err
}

// newProcess converts an OCI process into libcontainer's form.
func newProcess(p *specs.Process) (*libcontainer.Process, error) {
	nnp := p.NoNewPrivileges
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		NoNewPrivileges: &nnp,
		AppArmorProfile: p.ApparmorProfile,
		Label:           p.SelinuxLabel,
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth, lp.ConsoleHeight = uint16(p.ConsoleSize.Width), uint16(p.ConsoleSize.Height)
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable,
			Permitted: c.Permitted, Ambient: c.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	for _, rl := range p.Rlimits {
		typ, ok := rlimitTypes[rl.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q: %w", rl.Type, errdefs.ErrInvalidArgument)
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: typ, Hard: rl.Hard, Soft: rl.Soft})
	}
	return lp, nil
}

var rlimitTypes = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// SeccompSupported reports whether this binary was built with seccomp support (cgo and
// the "seccomp" build tag); without it containers cannot get the default profile.
func SeccompSupported() bool { return seccomp.Enabled }

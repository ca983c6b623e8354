// Package daemon is drover's engine: it wires the image store, the runtime and the shims
// together, keeps container metadata in bbolt, serves the HTTP API on a unix socket and
// recovers its state from disk when it starts.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/drover/drover/image"
	"github.com/drover/drover/image/remote"
	"github.com/drover/drover/network"
	"github.com/drover/drover/network/cni"
	"github.com/drover/drover/registry"
	"github.com/drover/drover/runtime"
	"github.com/drover/drover/runtime/libcontainer"
	"github.com/drover/drover/runtime/oci"
	"github.com/drover/drover/shim"
	"github.com/drover/drover/volume"
)

// Config is the daemon's configuration; cmd/drover fills it from flags.
type Config struct {
	// Root holds persistent state: metadata, images, logs (default /var/lib/drover).
	Root string
	// ExecRoot holds runtime state that a reboot clears: bundles, sockets (default /run/drover).
	ExecRoot string
	// Socket is the API socket (default ExecRoot/drover.sock).
	Socket string
	// DefaultRuntime is "" for the embedded runtime, else an OCI runtime name or path.
	DefaultRuntime string
	// CgroupParent is the cgroup under which every container's cgroup is made.
	CgroupParent string
	// InitPath is the init binary injected by --init (a static tini).
	InitPath string
	// Self is the drover binary, started again as "drover shim".
	Self string
	// Logger receives the daemon's own log.
	Logger *slog.Logger
	// Registries configures the registry client: mirrors, insecure registries, CAs.
	Registries remote.Options
	// NetworkPrefix names the host objects of drover's networks (bridges, veths, the
	// nftables table); daemons side by side need different prefixes.
	NetworkPrefix string
	// DefaultSubnet is the default bridge network's subnet ("" picks a free one).
	DefaultSubnet string
	// Firewall is nftables, iptables or "" (nftables where the kernel has it).
	Firewall string
	// ContainersPerShim is how many containers one shim process supervises (ADR 0005);
	// 1 gives every container a shim of its own. 0 means DefaultContainersPerShim.
	ContainersPerShim int
	// ResolvConf is the host's resolver configuration that containers inherit.
	ResolvConf string
	// RegistryAddr, when set, serves the daemon's images over the OCI distribution API
	// there (see startRegistry), with RegistryOptions (auth, limits) and, when both are
	// set, TLS from RegistryTLSCert and RegistryTLSKey.
	RegistryAddr                    string
	RegistryOptions                 registry.Options
	RegistryTLSCert, RegistryTLSKey string
	// DockerSocket, when set, serves the Docker Engine API there (dockerapi/).
	DockerSocket string
	// DockerSocketGroup is the group (name or GID) allowed on DockerSocket besides root.
	DockerSocketGroup string
	// CRISocket, when set, serves the Kubernetes CRI there (cri/), root only.
	CRISocket string
	// CNIConfDir holds the CNI network configurations CRI sandboxes use (the first valid
	// one by file name); without one they get drover's own bridge network. "" turns CNI off.
	CNIConfDir string
	// CNIBinDirs are searched for the CNI plugins (default DefaultCNIBinDirs).
	CNIBinDirs []string
	// CRIStreamAddr is the host:port of the CRI's streaming server (exec, attach, port
	// forward), whose URLs the CRI hands out; port 0 picks a free one; "" turns it off.
	CRIStreamAddr string
	// Extensions run inside the daemon above the engine (see Extension).
	Extensions []Extension
}

// DefaultContainersPerShim is how many containers share a shim process by default: a
// shim costs ~3.5 MiB, a container in it ~0.2 MiB more (ADR 0005).
const DefaultContainersPerShim = 8

// Version is drover's version string.
var Version = "0.1.0-dev"

// Daemon is a running engine.
type Daemon struct {
	cfg      Config
	log      *slog.Logger
	store    *store
	images   *image.Store
	registry *remote.Client
	embedded runtime.Runtime
	launcher *shim.Launcher
	sealed   *libcontainer.SealedExe // cfg.Self, sealed in memory: what the shims run
	net      *network.Manager
	cni      *cni.CNI
	vols     *volume.Store
	dns      *dnsServer
	podTab   podTable
	build    buildState
	events   eventBus

	mu         sync.Mutex
	containers map[string]*container // by ID
	names      map[string]string     // name -> ID

	srv      *http.Server
	ln       net.Listener
	ready    chan struct{}
	shutdown chan struct{}
	bg       sync.WaitGroup
	cleanups sync.WaitGroup // removals finishing in the background; shutdown waits for them
	// compatABI remembers, per image ID, whether the image is for the host's 32-bit ABI.
	compatABI sync.Map
}

// New opens the daemon's state and recovers containers; Serve then answers the API.
func New(cfg Config) (*Daemon, error) {
	if cfg.Root == "" {
		cfg.Root = "/var/lib/drover"
	}
	if cfg.ExecRoot == "" {
		cfg.ExecRoot = "/run/drover"
	}
	if cfg.Socket == "" {
		cfg.Socket = filepath.Join(cfg.ExecRoot, "drover.sock")
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "drover"
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	cfg.ResolvConf = hostResolvConf(cfg.ResolvConf)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find drover binary: %w", err)
		}
		cfg.Self = self
	}
	for _, dir := range []string{cfg.Root, filepath.Join(cfg.Root, "containers"), cfg.ExecRoot, filepath.Join(cfg.ExecRoot, "containers")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
	}
	if !libcontainer.SeccompSupported() {
		return nil, fmt.Errorf("this drover binary was built without seccomp support, so containers would run without their default syscall filter: rebuild with make (cgo, -tags seccomp, libseccomp-dev)")
	}
	if cfg.InitPath == "" {
		for _, name := range []string{"docker-init", "tini-static"} {
			if p, err := exec.LookPath(name); err == nil {
				cfg.InitPath = p
				break
			}
		}
	}
	if cfg.DefaultRuntime != "" {
		if _, err := oci.New(cfg.DefaultRuntime, ""); err != nil {
			return nil, err
		}
	}
	st, err := openStore(filepath.Join(cfg.Root, "drover.db"))
	if err != nil {
		return nil, err
	}
	imgs, err := image.Open(filepath.Join(cfg.Root, "image"))
	if err != nil {
		st.close()
		return nil, fmt.Errorf("open image store: %w", err)
	}
	d := &Daemon{
		cfg:        cfg,
		log:        cfg.Logger,
		store:      st,
		images:     imgs,
		registry:   remote.New(imgs, cfg.Registries),
		embedded:   libcontainer.New(filepath.Join(cfg.ExecRoot, "runtime")),
		containers: map[string]*container{},
		names:      map[string]string{},
		ready:      make(chan struct{}),
		shutdown:   make(chan struct{}),
		podTab:     podTable{byID: map[string]*podRecord{}},
	}
	// The processes the daemon starts run from a sealed copy of its binary, which spares
	// libcontainer sealing it again for every container init and exec (CVE-2019-5736).
	if d.sealed, err = libcontainer.SealCopy(cfg.Self, cfg.ExecRoot); err != nil {
		d.log.Warn("containers' processes run from the drover binary's file, which libcontainer then seals for each of them", "err", err)
		warnNestedSeal(cfg)
	}
	d.net, err = network.New(network.Config{
		StateFile:     filepath.Join(cfg.Root, "network.db"),
		NetnsDir:      filepath.Join(cfg.ExecRoot, "netns"),
		Prefix:        cfg.NetworkPrefix,
		DefaultSubnet: cfg.DefaultSubnet,
		Firewall:      cfg.Firewall,
		Logf:          func(format string, args ...any) { cfg.Logger.Warn(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		d.close()
		return nil, fmt.Errorf("networks: %w", err)
	}
	if d.cni, err = openCNI(cfg); err != nil {
		d.close()
		return nil, err
	}
	if d.vols, err = volume.Open(filepath.Join(cfg.Root, "volumes")); err != nil {
		d.close()
		return nil, fmt.Errorf("open volumes: %w", err)
	}
	pods, err := st.allPods()
	if err != nil {
		d.close()
		return nil, err
	}
	for _, p := range pods {
		d.podTab.byID[p.ID] = p
	}
	if err := d.initBuilder(); err != nil { // before recover: it unmounts its own step layers
		d.close()
		return nil, err
	}
	if err := d.recover(); err != nil {
		d.close()
		return nil, err
	}
	if err := d.net.Restore(d.isRunning); err != nil {
		d.log.Warn("restore networks", "err", err)
	}
	if err := d.startDNS(); err != nil {
		d.close()
		return nil, err
	}
	if cfg.ContainersPerShim <= 0 {
		cfg.ContainersPerShim = DefaultContainersPerShim
	}
	d.launcher = shim.NewLauncher(d.selfPath(), cfg.Self, cfg.ContainersPerShim)
	return d, nil
}

// Ready is closed once the API socket accepts connections.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Serve listens on the API socket and serves until ctx is done, then shuts down. Running
// containers keep running: their shims do not depend on the daemon.
func (d *Daemon) Serve(ctx context.Context) error {
	_ = os.Remove(d.cfg.Socket)
	if err := os.MkdirAll(filepath.Dir(d.cfg.Socket), 0o700); err != nil {
		return err
	}
	ln, err := net.Listen("unix", d.cfg.Socket)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", d.cfg.Socket, err)
	}
	if err := os.Chmod(d.cfg.Socket, 0o600); err != nil {
		ln.Close()
		return err
	}
	d.ln = ln
	d.srv = &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	stopRegistry := func() {}
	if d.cfg.RegistryAddr != "" {
		if stopRegistry, err = d.startRegistry(); err != nil {
			ln.Close()
			return err
		}
	}
	dockerLn, err := d.listenDocker()
	if err != nil {
		stopRegistry()
		ln.Close()
		return err
	}
	if dockerLn != nil {
		dockerSrv := d.serveDocker(dockerLn)
		defer dockerSrv.Close()
	}
	if d.cfg.CRISocket != "" {
		stopCRI, err := d.serveCRI()
		if err != nil {
			stopRegistry()
			ln.Close()
			return err
		}
		defer stopCRI()
	}
	close(d.ready)
	d.log.Info("drover daemon ready", "socket", d.cfg.Socket, "root", d.cfg.Root)
	extCtx, stopExtensions := context.WithCancel(ctx)
	var extensions sync.WaitGroup
	for _, ext := range d.cfg.Extensions {
		extensions.Add(1)
		go func() {
			defer extensions.Done()
			if err := ext.Run(extCtx); err != nil && extCtx.Err() == nil {
				d.log.Error("extension stopped", "name", ext.Name(), "err", err)
			}
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- d.srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			stopExtensions()
			extensions.Wait()
			stopRegistry()
			d.close()
			return err
		}
	}
	// Extensions stop before the engine does: they are its clients.
	stopExtensions()
	extensions.Wait()
	stopRegistry()
	close(d.shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.srv.Shutdown(sctx)
	d.srv.Close()
	d.waitCleanups(5 * time.Second)
	d.close()
	return nil
}

// waitCleanups lets background removals finish, for at most limit; what is left then is
// removed by the next daemon's recovery.
func (d *Daemon) waitCleanups(limit time.Duration) {
	done := make(chan struct{})
	go func() { d.cleanups.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
	}
}

func (d *Daemon) close() {
	if d.dns != nil {
		d.dns.close()
	}
	if d.net != nil {
		d.net.Close()
	}
	if d.launcher != nil {
		d.launcher.Close()
	}
	if d.sealed != nil {
		d.sealed.Close()
	}
	d.closeBuilder()
	if d.images != nil {
		d.images.Close()
	}
	if d.store != nil {
		d.store.close()
	}
}

// selfPath is the drover binary for the processes the daemon starts: its sealed copy
// when there is one. Pass cfg.Self as their argv[0].
func (d *Daemon) selfPath() string {
	if d.sealed != nil {
		return d.sealed.Path()
	}
	return d.cfg.Self
}

// selfCommand runs the drover binary (its sealed copy when there is one) with args.
func (d *Daemon) selfCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(d.selfPath(), args...)
	cmd.Args[0] = d.cfg.Self
	return cmd
}

// runtimeFor returns the runtime a container uses: embedded for "", else the binary.
func (d *Daemon) runtimeFor(path string) (runtime.Runtime, error) {
	if path == "" {
		return d.embedded, nil
	}
	return oci.New(path, d.ociRoot(path))
}

func (d *Daemon) ociRoot(path string) string {
	return filepath.Join(d.cfg.ExecRoot, "oci", filepath.Base(path))
}

// resolveRuntime maps a user's --runtime value to a binary path ("" = embedded).
func (d *Daemon) resolveRuntime(name string) (string, error) {
	if name == "" {
		name = d.cfg.DefaultRuntime
	}
	switch name {
	case "", "drover", "embedded", "libcontainer":
		return "", nil
	}
	r, err := oci.New(name, "")
	if err != nil {
		return "", err
	}
	return r.Path, nil
}

// isRunning tells whether the container with this ID has a live run (networks of others
// are released at start).
func (d *Daemon) isRunning(id string) bool {
	d.mu.Lock()
	c := d.containers[id]
	d.mu.Unlock()
	return c != nil && c.running()
}

// warnNestedSeal warns when the runtime's state directory lies under the drover binary's
// directory. libcontainer seals the binary for each container's init (CVE-2019-5736) with
// a read-only overlay of those two directories; overlayfs refuses nested layers, and
// libcontainer then copies the whole binary into memory for every container it starts.
func warnNestedSeal(cfg Config) {
	bin, err1 := filepath.EvalSymlinks(cfg.Self)
	state, err2 := filepath.EvalSymlinks(cfg.ExecRoot)
	if err1 != nil || err2 != nil {
		return
	}
	if rel, err := filepath.Rel(filepath.Dir(bin), state); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		cfg.Logger.Warn("the exec root is inside the drover binary's directory, so every container start copies the binary: move one of them",
			"binary", bin, "exec-root", cfg.ExecRoot)
	}
}

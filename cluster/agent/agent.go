// Package agent is drover's node agent (its kubelet): it registers the machine as a Node,
// keeps the node's Lease alive, runs the pods bound to the node on the local drover engine
// (only through client/) and reports their status, and serves the kubelet API (logs, exec,
// attach) to the cluster's servers. It talks to the cluster only through client-go.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/drover/drover/client"
	"github.com/drover/drover/cluster/kube"
)

// Config is what an agent needs to know of its machine and its cluster.
type Config struct {
	// NodeName is the Node object's name (the host name, usually).
	NodeName string
	// Engine is the local drover engine.
	Engine *client.Client
	// API is the cluster's API.
	API kube.Interface
	// StateDir holds the agent's own state: pods/<uid>/ (the pod's last known spec, its
	// emptyDir volumes).
	StateDir string
	// Advertise is the node's InternalIP, the address the servers reach the kubelet API on.
	Advertise string
	// KubeletPort is where the kubelet API listens (10250 when 0; -1 serves none).
	KubeletPort int
	// KubeletAddress is the address the kubelet API binds (Advertise when empty).
	KubeletAddress string
	// TLS is the kubelet API server's configuration: its certificate, and the CAs that
	// client certificates must chain to (mutual TLS).
	TLS *tls.Config
	// ClientGroup is the organisation a client certificate must carry ("drover:servers"
	// when empty).
	ClientGroup string
	// Labels and Taints are set on the Node at registration.
	Labels map[string]string
	Taints []corev1.Taint
	// RegistryMirror, when set, is the host images of docker.io are pulled from.
	RegistryMirror string
	// NetworkName is the engine network of the pods ("drover-cluster" when empty).
	NetworkName string
	// ClusterCIDR is the pod range of the whole cluster, which every node's podCIDR is a
	// part of: traffic from the node's pods to it keeps the pods' own addresses (it is
	// routed to the other nodes, not masqueraded). Empty masquerades everything.
	ClusterCIDR string
	// Logger receives what the agent does (slog.Default when nil).
	Logger *slog.Logger
}

// DefaultKubeletPort is the kubelet API's port unless configured.
const DefaultKubeletPort = 10250

// Agent runs one node.
type Agent struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	workers  map[string]*podWorker // by pod UID
	network  *netState             // the pod network once the node has a podCIDR
	apiPods  cache.Store           // the pod informer's store, once it has listed
	stopping bool                  // Run is returning: no new workers
	runCtx   context.Context       // the workers' context

	kubeletAddr chan net.Addr // the kubelet API's address once it listens
	apiSynced   chan struct{} // closed once the pod informer has listed
}

// New checks cfg and returns an agent that Run starts.
func New(cfg Config) (*Agent, error) {
	switch {
	case cfg.NodeName == "":
		return nil, errors.New("agent: a node name is required")
	case cfg.Engine == nil:
		return nil, errors.New("agent: the drover engine client is required")
	case cfg.API == nil:
		return nil, errors.New("agent: the cluster API client is required")
	case cfg.StateDir == "":
		return nil, errors.New("agent: a state directory is required")
	}
	if cfg.KubeletPort == 0 {
		cfg.KubeletPort = DefaultKubeletPort
	}
	if cfg.KubeletAddress == "" {
		cfg.KubeletAddress = cfg.Advertise
	}
	if cfg.ClientGroup == "" {
		cfg.ClientGroup = "drover:servers"
	}
	if cfg.NetworkName == "" {
		cfg.NetworkName = "drover-cluster"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "pods"), 0o700); err != nil {
		return nil, fmt.Errorf("agent: create state directory: %w", err)
	}
	return &Agent{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName), workers: map[string]*podWorker{},
		kubeletAddr: make(chan net.Addr, 1), apiSynced: make(chan struct{})}, nil
}

// KubeletAddr returns the kubelet API's listening address once it listens.
func (a *Agent) KubeletAddr(ctx context.Context) (net.Addr, error) {
	select {
	case addr := <-a.kubeletAddr:
		a.kubeletAddr <- addr
		return addr, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Run runs the agent until ctx ends. The pods keep running when it returns: a restarted
// agent adopts them. It returns early only when the kubelet API cannot listen.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.mu.Lock()
	a.runCtx = ctx
	a.mu.Unlock()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	if a.cfg.KubeletPort > 0 && a.cfg.TLS != nil {
		srv, ln, err := a.listenKubelet()
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
			_ = srv.Close()
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, errServerClosed) {
				errc <- fmt.Errorf("kubelet api: %w", err)
				cancel()
			}
		}()
	}
	a.adoptNetwork(ctx)
	// Pods known from before (an agent restart, the API down) run from their saved specs.
	a.loadSavedPods(ctx, &wg)
	wg.Add(4)
	go func() { defer wg.Done(); a.runNode(ctx) }()
	go func() { defer wg.Done(); a.runPodInformer(ctx) }()
	go func() { defer wg.Done(); a.runHousekeeping(ctx) }()
	go func() { defer wg.Done(); a.runRoutes(ctx) }()
	<-ctx.Done()
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	wg.Wait()
	a.waitWorkers()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// waitWorkers waits for every pod worker to return.
func (a *Agent) waitWorkers() {
	a.mu.Lock()
	ws := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.mu.Unlock()
	for _, w := range ws {
		<-w.done
	}
}

// retry calls fn until it succeeds or ctx ends, backing off from 200 ms to 5 s.
func retry(ctx context.Context, fn func() error) error {
	delay := 200 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// Package cluster makes machines into a cluster: servers keep the Raft-replicated state
// (cluster/store) behind a Kubernetes-shaped API (cluster/apiserver), schedule pods
// (cluster/scheduler) and run the controllers (cluster/controllers); every machine runs
// the pods bound to it on its own engine (cluster/agent). The Manager is the daemon
// extension (daemon.Extension) that holds a machine's membership: `drover cluster init`,
// `join` and `leave` reach it on the daemon's socket, and it starts the machine's roles
// again when the daemon restarts.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/drover/drover/api"
	"github.com/drover/drover/internal/atomicfile"
	"github.com/drover/drover/internal/errdefs"
)

// Config is what the daemon tells the Manager.
type Config struct {
	// StateDir keeps the membership, certificates, Raft data and the agent's state
	// (DAEMON-ROOT/cluster).
	StateDir string
	// EngineSocket is the daemon's API socket, which the node agent drives.
	EngineSocket string
	Logger       *slog.Logger
}

// Roles a machine has.
const (
	RoleServer = "server" // keeps a replica of the state and serves the API; runs pods too
	RoleAgent  = "agent"  // runs pods
)

// membership is what a machine keeps on disk once it is in a cluster; state.json is
// written last, so a machine that crashed half-way through init or join is in no
// cluster and the next attempt starts from scratch.
type membership struct {
	Role      string   `json:"role"`
	NodeName  string   `json:"nodeName"`
	Advertise string   `json:"advertise"`
	APIPort   int      `json:"apiPort,omitempty"`
	RaftPort  int      `json:"raftPort,omitempty"`
	Servers   []string `json:"servers"` // API URLs
}

// Manager is a machine's cluster membership and the roles it runs.
type Manager struct {
	cfg Config
	log *slog.Logger

	// base outlives requests: roles started by init or join run until the daemon stops.
	base   context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	member *membership
	roles  *roles // running roles; nil when none
}

// New returns a Manager; Run starts the roles a previous daemon left configured.
func New(cfg Config) *Manager {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	base, cancel := context.WithCancel(context.Background())
	return &Manager{cfg: cfg, log: log.With("component", "cluster"), base: base, cancel: cancel}
}

// Name implements daemon.Extension.
func (m *Manager) Name() string { return "cluster" }

// Run implements daemon.Extension: it brings back the roles of the membership on disk and
// stops them when ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	mb, err := m.load()
	if err != nil {
		m.mu.Unlock()
		return err
	}
	if mb != nil {
		m.member = mb
		if m.roles, err = m.startRoles(m.base, mb); err != nil {
			m.log.Error("cluster roles did not start; the daemon serves the engine without them", "err", err)
		}
	}
	m.mu.Unlock()
	<-ctx.Done()
	m.cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.roles != nil {
		m.roles.stop()
		m.roles = nil
	}
	return nil
}

func (m *Manager) statePath() string { return filepath.Join(m.cfg.StateDir, "state.json") }

func (m *Manager) load() (*membership, error) {
	data, err := os.ReadFile(m.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var mb membership
	if err := json.Unmarshal(data, &mb); err != nil {
		return nil, fmt.Errorf("cluster state %s is damaged (%v): remove the directory to leave the cluster", m.statePath(), err)
	}
	return &mb, nil
}

func (m *Manager) save(mb *membership) error {
	data, err := json.MarshalIndent(mb, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteDurable(m.statePath(), data, 0o600)
}

// fresh clears what an interrupted init or join left, for a machine in no cluster.
func (m *Manager) fresh() error {
	if err := os.RemoveAll(m.cfg.StateDir); err != nil {
		return err
	}
	return os.MkdirAll(m.cfg.StateDir, 0o700)
}

// Handler implements daemon.Extension.
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(w http.ResponseWriter, r *http.Request) (any, error)) {
		method, path, _ := cutSpace(pattern)
		mux.HandleFunc(method+" /v1/cluster"+path, func(w http.ResponseWriter, r *http.Request) {
			out, err := h(w, r)
			if err != nil {
				writeError(w, err)
				return
			}
			if out == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(out)
		})
	}
	handle("POST /init", m.handleInit)
	handle("POST /join", m.handleJoin)
	handle("POST /leave", m.handleLeave)
	handle("GET /status", m.handleStatus)
	handle("GET /kubeconfig", m.handleKubeconfig)
	handle("POST /tokens", m.handleTokenCreate)
	handle("GET /nodes", m.handleNodeList)
	handle("POST /nodes/{name}/cordon", m.handleCordon(true))
	handle("POST /nodes/{name}/uncordon", m.handleCordon(false))
	handle("POST /nodes/{name}/drain", m.handleDrain)
	handle("DELETE /nodes/{name}", m.handleNodeRemove)
	return mux
}

func cutSpace(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// writeError answers as the daemon's own API does: {"message": ...} with the status the
// error's kind maps to.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, errdefs.ErrInvalidArgument):
		code = http.StatusBadRequest
	case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrAlreadyExists):
		code = http.StatusConflict
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(api.Error{Message: err.Error()})
}

func decode(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return fmt.Errorf("%w: bad request body: %v", errdefs.ErrInvalidArgument, err)
	}
	return nil
}

// defaultAdvertise is the address of the interface the default route leaves through: what
// other machines of a LAN reach this one at.
func defaultAdvertise() string {
	conn, err := net.Dial("udp", "192.0.2.1:9") // TEST-NET-1: nothing is sent for UDP
	if err != nil {
		return "127.0.0.1"
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String()
}

func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	return h
}

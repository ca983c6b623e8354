package store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Config configures one store server.
type Config struct {
	// ID names this server in the Raft configuration; stable across restarts.
	ID string
	// Dir holds the Raft log (raft.db) and snapshots; a restart with the same
	// Dir rejoins the cluster with the data it had.
	Dir string
	// BindAddr is the host:port the Raft transport listens on
	// ("127.0.0.1:0" picks a free port).
	BindAddr string
	// Advertise is the host:port peers dial to reach this server; empty
	// means BindAddr as bound (which must then not be a wildcard).
	Advertise string
	// TLS is the mutual TLS for the Raft transport: its certificate is both
	// the server and the client certificate, and peers must present one
	// signed by ClientCAs (RootCAs when unset). nil is plain TCP, for tests.
	TLS *tls.Config
	// Bootstrap forms a new cluster with this server as its only voter;
	// others join through AddVoter on the leader. A no-op when Dir already
	// holds Raft state.
	Bootstrap bool
	// WatchWindow is how many recent writes Watch can replay and List can
	// read at a past revision (default 10000).
	WatchWindow int
	// WatchBuffer is how many events may wait for a slow watcher before its
	// watch is ended (default 1000).
	WatchBuffer int
	// Logger receives Raft's logs (default: warnings and errors on stderr).
	Logger hclog.Logger

	// SnapshotThreshold, TrailingLogs and SnapshotInterval tune snapshots
	// (0: Raft's defaults of 8192 entries, 10240 entries and 120 s).
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration

	// wrapLogStore lets tests put a failing disk under the log.
	wrapLogStore func(raft.LogStore) raft.LogStore
}

// Timings for a LAN: a follower that hears nothing for 0.5-1 s stands for
// election, so a lost leader is replaced in about 1-2 s. The leader steps down
// when it has not heard from a quorum for the lease: at 250 ms a busy host
// (load well above its CPU count) made leaders step down, most often as a
// second server joined, when the quorum is both of them.
const (
	heartbeatTimeout   = 500 * time.Millisecond
	electionTimeout    = 500 * time.Millisecond
	leaderLeaseTimeout = 500 * time.Millisecond
	commitTimeout      = 5 * time.Millisecond
	applyTimeout       = 10 * time.Second
	transportTimeout   = 10 * time.Second
)

// Raft is a store server: one member of the Raft cluster and its replica of
// the state. It implements Store.
type Raft struct {
	cfg       Config
	raft      *raft.Raft
	fsm       *fsm
	stream    *streamLayer
	transport *raft.NetworkTransport
	bolt      *raftboltdb.BoltStore
	logger    hclog.Logger

	// readyTerm is the term in which this server, as leader, saw a no-op of
	// its own applied, so its state holds every earlier term's writes.
	readyTerm atomic.Uint64

	subsMu sync.Mutex
	subs   []chan bool
	closed bool

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var (
	_ Store       = (*Raft)(nil)
	_ LocalReader = (*Raft)(nil)
)

// Open starts a store server on cfg.Dir: it bootstraps a new cluster when
// asked and the directory is empty, or recovers the log and snapshots it
// holds.
func Open(cfg Config) (*Raft, error) {
	if cfg.ID == "" || cfg.Dir == "" || cfg.BindAddr == "" {
		return nil, errors.New("open store: ID, Dir and BindAddr are required")
	}
	if cfg.WatchWindow <= 0 {
		cfg.WatchWindow = 10000
	}
	if cfg.WatchBuffer <= 0 {
		cfg.WatchBuffer = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "store." + cfg.ID, Level: hclog.Warn})
	}
	tlsCfg, err := mutualTLS(cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", cfg.ID, err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store %s: %w", cfg.ID, err)
	}

	r := &Raft{cfg: cfg, logger: cfg.Logger, done: make(chan struct{})}
	var cleanup []func()
	fail := func(err error) (*Raft, error) {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
		return nil, fmt.Errorf("open store %s in %s: %w", cfg.ID, cfg.Dir, err)
	}

	r.bolt, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db")})
	if err != nil {
		return fail(fmt.Errorf("raft log: %w", err))
	}
	cleanup = append(cleanup, func() { r.bolt.Close() })
	var logs raft.LogStore = r.bolt
	if cfg.wrapLogStore != nil {
		logs = cfg.wrapLogStore(logs)
	}
	if logs, err = raft.NewLogCache(512, logs); err != nil {
		return fail(err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, cfg.Logger.Named("snapshot"))
	if err != nil {
		return fail(fmt.Errorf("snapshot store: %w", err))
	}

	r.stream, err = newStreamLayer(cfg.BindAddr, cfg.Advertise, tlsCfg)
	if err != nil {
		return fail(err)
	}
	r.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  r.stream,
		MaxPool: 3,
		Timeout: transportTimeout,
		Logger:  cfg.Logger.Named("transport"),
	})
	cleanup = append(cleanup, func() { r.transport.Close() })

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = cfg.Logger
	rc.HeartbeatTimeout = heartbeatTimeout
	rc.ElectionTimeout = electionTimeout
	rc.LeaderLeaseTimeout = leaderLeaseTimeout
	rc.CommitTimeout = commitTimeout
	// Batch the fsyncs of concurrent writers.
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	notify := make(chan bool, 16)
	rc.NotifyCh = notify

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, r.bolt, snaps)
		if err != nil {
			return fail(fmt.Errorf("check for existing state: %w", err))
		}
		if !has {
			boot := raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter, ID: rc.LocalID, Address: r.transport.LocalAddr(),
			}}}
			if err := raft.BootstrapCluster(rc, logs, r.bolt, snaps, r.transport, boot); err != nil {
				return fail(fmt.Errorf("bootstrap: %w", err))
			}
		}
	}

	r.fsm = newFSM(cfg.WatchWindow, cfg.WatchBuffer)
	r.raft, err = raft.NewRaft(rc, r.fsm, logs, r.bolt, snaps, r.transport)
	if err != nil {
		return fail(fmt.Errorf("start raft: %w", err))
	}
	go r.followLeadership(notify)
	return r, nil
}

// mutualTLS completes the caller's TLS config so both ends authenticate.
func mutualTLS(c *tls.Config) (*tls.Config, error) {
	if c == nil {
		return nil, nil
	}
	if len(c.Certificates) == 0 && c.GetCertificate == nil {
		return nil, errors.New("raft TLS config has no certificate: give this server's certificate and key")
	}
	c = c.Clone()
	if c.ClientCAs == nil {
		c.ClientCAs = c.RootCAs
	}
	if c.RootCAs == nil {
		c.RootCAs = c.ClientCAs
	}
	if c.ClientCAs == nil {
		return nil, errors.New("raft TLS config has no CA to verify peers (set RootCAs to the cluster CA)")
	}
	c.ClientAuth = tls.RequireAndVerifyClientCert
	if c.MinVersion < tls.VersionTLS13 {
		c.MinVersion = tls.VersionTLS13
	}
	if len(c.Certificates) > 0 && c.GetClientCertificate == nil {
		cert := c.Certificates[0]
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	return c, nil
}

// Addr is the address peers reach this server's Raft transport on.
func (r *Raft) Addr() string { return string(r.transport.LocalAddr()) }

// ID is this server's Raft ID.
func (r *Raft) ID() string { return r.cfg.ID }

// Close stops this server without leaving the cluster (its peers see it as
// down); a later Open of the same Dir brings it back.
func (r *Raft) Close() error {
	r.closeOnce.Do(func() {
		if err := r.raft.Shutdown().Error(); err != nil {
			r.closeErr = fmt.Errorf("shut down raft: %w", err)
		}
		close(r.done)
		r.transport.Close()
		r.fsm.closeWatchers()
		r.subsMu.Lock()
		r.closed = true
		for _, ch := range r.subs {
			close(ch)
		}
		r.subs = nil
		r.subsMu.Unlock()
		if err := r.bolt.Close(); err != nil && r.closeErr == nil {
			r.closeErr = fmt.Errorf("close raft log: %w", err)
		}
	})
	return r.closeErr
}

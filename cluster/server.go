package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/drover/drover/cluster/join"
	"github.com/drover/drover/cluster/pki"
	"github.com/drover/drover/cluster/store"
)

// serverRole is a server's share of the cluster: a Raft replica of the state, the API on
// its port (with the join endpoint), and, while it leads, the scheduler and controllers.
type serverRole struct {
	m      *Manager
	name   string
	st     *store.Raft
	rec    *records
	ca     *pki.CA
	cert   tls.Certificate
	apiURL string
	srv    *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (m *Manager) pkiDir() string { return filepath.Join(m.cfg.StateDir, "pki") }

// startServer opens the state (bootstrapping a new cluster when boot), serves the API and
// follows the leadership. A joined server's CA key arrives through the replicated state.
func (m *Manager) startServer(ctx context.Context, mb *membership, boot bool, afterOpen func(*serverRole) error) (_ *serverRole, err error) {
	kp, err := pki.ReadKeyPair(m.pkiDir(), "server")
	if err != nil {
		return nil, err
	}
	cert, err := kp.TLSCertificate()
	if err != nil {
		return nil, err
	}
	caCert, err := readCACert(m.pkiDir())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &serverRole{m: m, name: mb.NodeName, cert: cert, cancel: cancel,
		apiURL: "https://" + net.JoinHostPort(mb.Advertise, strconv.Itoa(mb.APIPort))}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	raftAddr := net.JoinHostPort(mb.Advertise, strconv.Itoa(mb.RaftPort))
	var recs *records
	raftTLS := pki.ServerTLS(caCert, cert, pki.WithVerifyPeer(pki.RequireGroup(pki.GroupServers), func(c *x509.Certificate) error {
		if recs == nil {
			return nil
		}
		return recs.checkRevoked(c)
	}))
	s.st, err = store.Open(store.Config{ID: mb.NodeName, Dir: filepath.Join(m.cfg.StateDir, "raft"),
		BindAddr: raftAddr, TLS: raftTLS, Bootstrap: boot})
	if err != nil {
		return nil, fmt.Errorf("open the cluster state: %w", err)
	}
	s.rec = newRecords(s.st)
	recs = s.rec
	if boot {
		if err := s.waitLeader(ctx, 30*time.Second); err != nil {
			return nil, err
		}
	} else if afterOpen == nil {
		// A restarted server's replica is replayed once a leader commits again: wait a
		// little for one, so the API does not start out refusing members it lost track
		// of. Without a leader it serves anyway (reads that can be local still work).
		// A joining server is skipped: it hears from no leader before it is a voter.
		s.waitAnyLeader(ctx, 5*time.Second)
	}
	if err := s.rec.follow(ctx); err != nil {
		return nil, err
	}
	if afterOpen != nil {
		if err := afterOpen(s); err != nil {
			return nil, err
		}
	}
	if s.ca, err = s.loadCA(ctx); err != nil {
		return nil, err
	}
	if err := s.ensureNodeCert(mb); err != nil {
		return nil, err
	}
	apiTLS := pki.ServerTLS(caCert, cert, pki.WithOptionalClientCert(),
		pki.WithVerifyPeer(s.rec.checkRevoked, pki.RequireMember(s.rec.isMember)))
	// HTTP/2 as kube-apiserver offers it: client-go's clients (kubectl, the agents, this
	// server's own controllers) multiplex their requests and watches on one connection
	// instead of a TLS handshake for each request beyond a pool's worth at once. Streams
	// that upgrade the connection (exec, attach, port-forward) ask for HTTP/1.1.
	apiTLS.NextProtos = []string{"h2", "http/1.1"}
	mux := http.NewServeMux()
	jh := join.Handler(join.Config{CA: s.ca, Tokens: s.rec, Cluster: s.rec, VerifyPeer: s.rec.checkRevoked,
		Logf: func(f string, a ...any) { m.log.Info(fmt.Sprintf(f, a...)) }})
	mux.Handle(join.Path, jh)
	mux.Handle(join.VoterPath, jh)
	api, err := s.apiHandler(ctx)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", s.refuseRemoved(api))
	ln, err := tls.Listen("tcp", net.JoinHostPort(mb.Advertise, strconv.Itoa(mb.APIPort)), apiTLS)
	if err != nil {
		return nil, fmt.Errorf("serve the cluster API: %w", err)
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = s.srv.Serve(ln) }()
	go func() { defer s.wg.Done(); s.followLeadership(ctx) }()
	return s, nil
}

// waitLeader waits until this server leads (a new cluster's only server elects itself).
func (s *serverRole) waitLeader(ctx context.Context, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		if s.st.IsLeader() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return errors.New("the new cluster's server did not become leader")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitAnyLeader waits until the cluster has a leader and this replica has applied the
// leader's first entry of its term, or limit passes.
func (s *serverRole) waitAnyLeader(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if id, _ := s.st.Leader(); id != "" && s.st.Revision() > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loadCA returns the CA with its key: from disk, or, on a joined server, from the
// replicated state once it has caught up.
func (s *serverRole) loadCA(ctx context.Context) (*pki.CA, error) {
	dir := s.m.pkiDir()
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err == nil {
		return pki.LoadCA(dir)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		kv, err := s.st.GetLocal(keyCAKey)
		if err == nil {
			if err := pki.WriteFileAtomic(filepath.Join(dir, "ca.key"), kv.Value, 0o600); err != nil {
				return nil, err
			}
			return pki.LoadCA(dir)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the cluster's CA did not arrive from the other servers: is the leader reachable on its Raft port?")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// followLeadership runs the leader's work (scheduler, controllers) while this server
// leads. It subscribes once, for the server's life: each LeaderChanges call adds a
// channel that starts full, so a subscription per loop turn spun and kept every channel
// (the server's heap grew by gigabytes a minute).
func (s *serverRole) followLeadership(ctx context.Context) {
	followLeader(ctx, s.st.LeaderChanges(), s.lead)
}

// followLeader runs lead from each change to true until the next false, ctx's end or
// changes' close, and waits for it to return before going on.
func followLeader(ctx context.Context, changes <-chan bool, lead func(context.Context)) {
	var term struct {
		stop context.CancelFunc // nil while following
		done sync.WaitGroup
	}
	endTerm := func() {
		if term.stop != nil {
			term.stop()
			term.done.Wait()
			term.stop = nil
		}
	}
	defer endTerm()
	for {
		select {
		case <-ctx.Done():
			return
		case isLeader, ok := <-changes:
			if !ok {
				return
			}
			if !isLeader {
				endTerm()
				continue
			}
			if term.stop == nil {
				lctx, stop := context.WithCancel(ctx)
				term.stop = stop
				term.done.Add(1)
				go func() {
					defer term.done.Done()
					lead(lctx)
				}()
			}
		}
	}
}

func (s *serverRole) stop() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.srv.Shutdown(ctx)
		cancel()
		s.srv.Close()
	}
	s.wg.Wait()
	if s.st != nil {
		_ = s.st.Close()
	}
}

func readCACert(dir string) (*x509.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	return pki.ParseCertPEM(data)
}

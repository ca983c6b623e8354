package cluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/drover/drover/api"
	"github.com/drover/drover/cluster/agent"
	"github.com/drover/drover/cluster/join"
	"github.com/drover/drover/cluster/pki"
	"github.com/drover/drover/internal/errdefs"
)

// TokenTTL is how long the tokens init prints work.
const TokenTTL = 24 * time.Hour

const (
	defaultAPIPort  = 6443
	defaultRaftPort = 6444
)

func (m *Manager) notMember() error {
	if m.member != nil {
		return fmt.Errorf("%w: this machine is in a cluster already, as %s %q: \"drover cluster leave\" first",
			errdefs.ErrConflict, m.member.Role, m.member.NodeName)
	}
	return nil
}

func (m *Manager) handleInit(_ http.ResponseWriter, r *http.Request) (any, error) {
	var req api.ClusterInit
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.notMember(); err != nil {
		return nil, err
	}
	mb := &membership{Role: RoleServer, NodeName: req.NodeName, Advertise: req.Advertise, APIPort: req.APIPort, RaftPort: req.RaftPort}
	if err := fillDefaults(mb); err != nil {
		return nil, err
	}
	mb.Servers = []string{apiAddr(mb)}
	res, rl, err := m.initialize(mb)
	if err != nil {
		_ = m.fresh()
		return nil, err
	}
	m.member, m.roles = mb, rl
	return res, nil
}

// initialize makes the CA and this server's certificates, bootstraps the state, writes
// the first records and tokens, and starts the roles; state.json comes last.
func (m *Manager) initialize(mb *membership) (_ *api.ClusterInitResult, _ *roles, err error) {
	if err := m.fresh(); err != nil {
		return nil, nil, err
	}
	ca, err := pki.NewCA(m.pkiDir())
	if err != nil {
		return nil, nil, err
	}
	id := pki.ServerIdentity(mb.NodeName)
	serverKP, err := ca.NewKeyPair(pki.Request{CommonName: id.CommonName, Organizations: id.Organizations,
		DNSNames: []string{mb.NodeName, "localhost"}, IPs: append(ipsOf(mb.Advertise), net.IPv4(127, 0, 0, 1)), Usage: pki.Both})
	if err != nil {
		return nil, nil, err
	}
	if err := pki.WriteKeyPair(m.pkiDir(), "server", serverKP); err != nil {
		return nil, nil, err
	}
	rl := &roles{}
	defer func() {
		if err != nil {
			rl.stop()
		}
	}()
	// The first records go in before the API serves and the leader's work starts: the
	// server's own certificate must be a member's when they first connect.
	raftAddr := net.JoinHostPort(mb.Advertise, strconv.Itoa(mb.RaftPort))
	var s *serverRole
	firstRecords := func() error {
		ctx, cancel := context.WithTimeout(m.base, 30*time.Second)
		defer cancel()
		caKey, err := os.ReadFile(filepath.Join(m.pkiDir(), "ca.key"))
		if err != nil {
			return err
		}
		if err := putRaw(ctx, s.st, keyCAKey, caKey); err != nil {
			return fmt.Errorf("record the CA: %w", err)
		}
		if err := s.rec.put(ctx, prefixServers+mb.NodeName, serverRecord{ID: mb.NodeName, RaftAddr: raftAddr, APIAddr: apiAddr(mb)}); err != nil {
			return err
		}
		leaf, err := pki.ParseCertPEM(serverKP.CertPEM)
		if err != nil {
			return err
		}
		if err := s.rec.Admit(ctx, mb.NodeName, join.RoleServer, leaf); err != nil {
			return err
		}
		return s.rec.waitMember(ctx, mb.NodeName)
	}
	if rl.server, err = m.startServer(m.base, mb, true, func(started *serverRole) error { s = started; return firstRecords() }); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(m.base, 30*time.Second)
	defer cancel()
	res := &api.ClusterInitResult{Expires: time.Now().Add(TokenTTL)}
	if res.AgentToken, err = s.newToken(ctx, pki.TokenAgent, TokenTTL); err != nil {
		return nil, nil, err
	}
	if res.ServerToken, err = s.newToken(ctx, pki.TokenServer, TokenTTL); err != nil {
		return nil, nil, err
	}
	if rl.agent, err = m.startAgent(m.base, mb); err != nil {
		return nil, nil, err
	}
	if err := m.save(mb); err != nil {
		return nil, nil, err
	}
	res.Status = m.statusOf(mb, rl)
	return res, rl, nil
}

// newToken makes a join token and records it (leader only).
func (s *serverRole) newToken(ctx context.Context, usage pki.TokenUsage, ttl time.Duration) (string, error) {
	if !s.st.IsLeader() {
		id, _ := s.st.Leader()
		return "", fmt.Errorf("%w: tokens are made on the leader: run this on %s", errdefs.ErrConflict, id)
	}
	text, rec, err := pki.NewToken(s.ca.Cert, ttl, usage)
	if err != nil {
		return "", err
	}
	if err := s.rec.put(ctx, prefixTokens+rec.ID, rec); err != nil {
		return "", fmt.Errorf("record the token: %w", err)
	}
	return text, nil
}

func (m *Manager) handleJoin(_ http.ResponseWriter, r *http.Request) (any, error) {
	var req api.ClusterJoin
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.Addr == "" || req.Token == "" {
		return nil, fmt.Errorf("%w: a server address and a token are needed", errdefs.ErrInvalidArgument)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.notMember(); err != nil {
		return nil, err
	}
	role := RoleAgent
	if req.Server {
		role = RoleServer
	}
	mb := &membership{Role: role, NodeName: req.NodeName, Advertise: req.Advertise, APIPort: req.APIPort, RaftPort: req.RaftPort}
	if err := fillDefaults(mb); err != nil {
		return nil, err
	}
	addr := req.Addr
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, strconv.Itoa(defaultAPIPort))
	}
	rl, err := m.join(r.Context(), mb, addr, req.Token)
	if err != nil {
		_ = m.fresh()
		return nil, err
	}
	m.member, m.roles = mb, rl
	return m.statusOf(mb, rl), nil
}

func (m *Manager) join(ctx context.Context, mb *membership, addr, token string) (_ *roles, err error) {
	if err := m.fresh(); err != nil {
		return nil, err
	}
	jr := join.Request{NodeName: mb.NodeName, Role: join.RoleAgent, Addresses: []string{mb.Advertise, mb.NodeName}}
	raftAddr := net.JoinHostPort(mb.Advertise, strconv.Itoa(mb.RaftPort))
	if mb.Role == RoleServer {
		jr.Role, jr.RaftAddress = join.RoleServer, raftAddr
		jr.Addresses = append(jr.Addresses, "127.0.0.1", "localhost")
	}
	res, err := join.Join(ctx, addr, token, jr)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.pkiDir(), 0o700); err != nil {
		return nil, err
	}
	if err := pki.WriteFileAtomic(filepath.Join(m.pkiDir(), "ca.crt"), res.CAPEM, 0o644); err != nil {
		return nil, err
	}
	mb.Servers = res.Servers
	rl := &roles{}
	defer func() {
		if err != nil {
			rl.stop()
		}
	}()
	if mb.Role == RoleServer {
		if err := pki.WriteKeyPair(m.pkiDir(), "server", res.KeyPair); err != nil {
			return nil, err
		}
		voterVia := addr
		if res.Leader != nil && res.Leader.APIAddress != "" {
			voterVia = res.Leader.APIAddress
		}
		addVoter := func(*serverRole) error { return join.AddVoter(ctx, voterVia, res, raftAddr, apiAddr(mb)) }
		if rl.server, err = m.startServer(m.base, mb, false, addVoter); err != nil {
			return nil, err
		}
		if !contains(mb.Servers, apiAddr(mb)) {
			mb.Servers = append(mb.Servers, apiAddr(mb))
		}
	} else if err := pki.WriteKeyPair(m.pkiDir(), "node", res.KeyPair); err != nil {
		return nil, err
	}
	if rl.agent, err = m.startAgent(m.base, mb); err != nil {
		return nil, err
	}
	if err := m.save(mb); err != nil {
		return nil, err
	}
	return rl, nil
}

func (m *Manager) handleLeave(_ http.ResponseWriter, r *http.Request) (any, error) {
	force := r.URL.Query().Get("force") != ""
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.member == nil {
		if force {
			return nil, m.fresh()
		}
		return nil, fmt.Errorf("%w: this machine is in no cluster", errdefs.ErrInvalidArgument)
	}
	if err := m.leave(r.Context(), force); err != nil {
		return nil, err
	}
	return nil, nil
}

// leave removes this machine's Node (the leader then revokes its certificate and, for a
// server, takes it out of the Raft configuration), stops the roles and forgets the
// cluster. Pods the agent ran are removed from the engine.
func (m *Manager) leave(ctx context.Context, force bool) error {
	mb := m.member
	// What needs the rest of the cluster is bounded: with a majority out of reach,
	// a forced leave goes on without it.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if mb.Role == RoleServer && m.roles != nil && m.roles.server != nil {
		servers, _ := m.roles.server.rec.servers(ctx)
		if len(servers) <= 1 && !force {
			return fmt.Errorf("%w: %s is the cluster's last server: leaving ends the cluster; use --force to do it anyway", errdefs.ErrConflict, mb.NodeName)
		}
	}
	if mb.Role == RoleServer && m.roles != nil && m.roles.server != nil && m.roles.server.st.IsLeader() {
		// A follower's removal is the leader's to make when it sees the Node go; the
		// leader makes its own.
		if err := m.roles.server.rec.remove(ctx, mb.NodeName); err != nil && !force {
			return fmt.Errorf("leave the Raft configuration: %w (use --force to leave anyway)", err)
		}
	}
	if err := m.deleteOwnNode(ctx, mb); err != nil && !force {
		return fmt.Errorf("remove node %s from the cluster: %w (use --force to leave anyway)", mb.NodeName, err)
	}
	if m.roles != nil {
		m.roles.stop()
		m.roles = nil
	}
	local, cancelLocal := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelLocal()
	m.removeClusterPods(local)
	if err := agent.RemoveRoutes(); err != nil {
		m.log.Warn("remove the routes to other nodes' pods", "err", err)
	}
	m.member = nil
	return m.fresh()
}

func (m *Manager) handleStatus(_ http.ResponseWriter, _ *http.Request) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.member == nil {
		return api.ClusterStatus{}, nil
	}
	return m.statusOf(m.member, m.roles), nil
}

func (m *Manager) statusOf(mb *membership, rl *roles) api.ClusterStatus {
	st := api.ClusterStatus{Member: true, Role: mb.Role, NodeName: mb.NodeName}
	for _, s := range mb.Servers {
		st.Servers = append(st.Servers, "https://"+s)
	}
	if rl != nil && rl.server != nil {
		st.API = rl.server.apiURL
		st.Leader, _ = rl.server.st.Leader()
		if recs, err := rl.server.rec.servers(m.base); err == nil {
			st.Servers = st.Servers[:0]
			for _, s := range recs {
				st.Servers = append(st.Servers, "https://"+s.APIAddr)
			}
		}
	}
	return st
}

// server returns the running server role, or an error saying to ask a server.
func (m *Manager) server() (*serverRole, error) {
	if m.member == nil {
		return nil, fmt.Errorf("%w: this machine is in no cluster", errdefs.ErrInvalidArgument)
	}
	if m.roles == nil || m.roles.server == nil {
		return nil, fmt.Errorf("%w: %s is an agent: run this on one of the cluster's servers (%s)",
			errdefs.ErrInvalidArgument, m.member.NodeName, strings.Join(m.member.Servers, ", "))
	}
	return m.roles.server, nil
}

func (m *Manager) handleKubeconfig(_ http.ResponseWriter, r *http.Request) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.server()
	if err != nil {
		return nil, err
	}
	id := pki.AdminIdentity()
	kp, err := s.ca.NewKeyPair(pki.Request{CommonName: id.CommonName, Organizations: id.Organizations, Usage: pki.Client})
	if err != nil {
		return nil, err
	}
	server := r.URL.Query().Get("server")
	if server == "" {
		server = s.apiURL
	}
	kc, err := pki.Kubeconfig("drover", server, s.ca.CertPEM, kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, err
	}
	return struct {
		Kubeconfig []byte `json:"kubeconfig"`
	}{kc}, nil
}

func (m *Manager) handleTokenCreate(_ http.ResponseWriter, r *http.Request) (any, error) {
	var req api.ClusterTokenCreate
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.TTL <= 0 {
		req.TTL = TokenTTL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.server()
	if err != nil {
		return nil, err
	}
	usage := pki.TokenAgent
	if req.Server {
		usage = pki.TokenServer
	}
	tok, err := s.newToken(r.Context(), usage, req.TTL)
	if err != nil {
		return nil, err
	}
	return api.ClusterToken{Token: tok, Expires: time.Now().Add(req.TTL)}, nil
}

func fillDefaults(mb *membership) error {
	if mb.NodeName == "" {
		mb.NodeName = defaultNodeName()
	}
	mb.NodeName = strings.ToLower(mb.NodeName)
	if mb.Advertise == "" {
		mb.Advertise = defaultAdvertise()
	}
	if net.ParseIP(mb.Advertise) == nil {
		return fmt.Errorf("%w: --advertise %q is not an IP address", errdefs.ErrInvalidArgument, mb.Advertise)
	}
	if mb.APIPort == 0 {
		mb.APIPort = defaultAPIPort
	}
	if mb.RaftPort == 0 {
		mb.RaftPort = defaultRaftPort
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

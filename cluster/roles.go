package cluster

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"k8s.io/client-go/rest"

	"github.com/drover/drover/client"
	"github.com/drover/drover/cluster/agent"
	"github.com/drover/drover/cluster/kube"
	"github.com/drover/drover/cluster/pki"
)

// roles are what runs on this machine: the server's share (servers only) and the node
// agent (every machine).
type roles struct {
	server *serverRole
	agent  *agentRole
}

// stop stops the agent (its pods keep running on the engine) and then the server.
func (r *roles) stop() {
	if r.agent != nil {
		r.agent.stop()
	}
	if r.server != nil {
		r.server.stop()
	}
}

// startRoles starts what a membership on disk says this machine runs.
func (m *Manager) startRoles(ctx context.Context, mb *membership) (*roles, error) {
	r := &roles{}
	if mb.Role == RoleServer {
		s, err := m.startServer(ctx, mb, false, nil)
		if err != nil {
			return nil, err
		}
		r.server = s
	}
	a, err := m.startAgent(ctx, mb)
	if err != nil {
		r.stop()
		return nil, err
	}
	r.agent = a
	return r, nil
}

// agentRole runs the node agent, which drives this machine's engine.
type agentRole struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (a *agentRole) stop() {
	a.cancel()
	<-a.done
}

// startAgent starts the node agent with the node's certificate, talking to whichever
// server answers.
func (m *Manager) startAgent(ctx context.Context, mb *membership) (*agentRole, error) {
	kp, err := pki.ReadKeyPair(m.pkiDir(), "node")
	if err != nil {
		return nil, err
	}
	caCert, err := readCACert(m.pkiDir())
	if err != nil {
		return nil, err
	}
	cert, err := kp.TLSCertificate()
	if err != nil {
		return nil, err
	}
	cs, err := apiClient(mb.Servers, caCert.Raw, kp)
	if err != nil {
		return nil, err
	}
	ag, err := agent.New(agent.Config{
		NodeName:    mb.NodeName,
		Engine:      client.New(m.cfg.EngineSocket),
		API:         cs,
		StateDir:    filepath.Join(m.cfg.StateDir, "agent"),
		Advertise:   mb.Advertise,
		ClusterCIDR: clusterCIDR,
		TLS:         pki.ServerTLS(caCert, cert),
		Labels:      roleLabels(mb.Role),
		Logger:      m.log.With("role", "agent"),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	a := &agentRole{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		if err := ag.Run(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("node agent stopped", "err", err)
		}
	}()
	return a, nil
}

// roleLabels mark servers as Kubernetes marks its control-plane nodes (kubectl's ROLES).
func roleLabels(role string) map[string]string {
	if role == RoleServer {
		return map[string]string{"node-role.kubernetes.io/control-plane": ""}
	}
	return nil
}

// apiClient is a clientset for the cluster API as the holder of kp, trying the servers
// in turn when one cannot be reached.
func apiClient(servers []string, caDER []byte, kp pki.KeyPair) (*kube.Clientset, error) {
	if len(servers) == 0 {
		return nil, errors.New("no cluster servers known")
	}
	cfg := &rest.Config{
		Host: "https://" + servers[0],
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   pki.EncodeCert(caDER),
			CertData: kp.CertPEM,
			KeyData:  kp.KeyPEM,
		},
		QPS:     200,
		Burst:   400,
		Timeout: 0,
	}
	if len(servers) > 1 {
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return &failover{servers: servers, next: rt}
		}
	}
	return kube.NewForConfig(cfg)
}

// failover sends each request to the server that answered last, and on to the next one
// when a connection cannot be made (nothing was sent, so any request may be retried).
type failover struct {
	servers []string
	cur     atomic.Int32
	next    http.RoundTripper
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	n := len(f.servers)
	start := int(f.cur.Load())
	var lastErr error
	for i := 0; i < n; i++ {
		idx := (start + i) % n
		r := req.Clone(req.Context())
		r.URL.Host = f.servers[idx]
		r.Host = f.servers[idx]
		if req.Body != nil && req.GetBody != nil && i > 0 {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r.Body = body
		}
		resp, err := f.next.RoundTrip(r)
		if err == nil {
			f.cur.Store(int32(idx))
			return resp, nil
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" || (req.Body != nil && req.GetBody == nil) {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

// serverClient is the leader's clientset for the scheduler and controllers: the local
// API, as this server (system:masters).
func (s *serverRole) serverClient() (*kube.Clientset, error) {
	kp, err := pki.ReadKeyPair(s.m.pkiDir(), "server")
	if err != nil {
		return nil, err
	}
	host := s.apiURL[len("https://"):]
	return apiClient([]string{host}, s.ca.Cert.Raw, kp)
}

// ensureNodeCert gives a server machine the node certificate its agent uses, issued by
// its own CA.
func (s *serverRole) ensureNodeCert(mb *membership) error {
	if _, err := pki.ReadKeyPair(s.m.pkiDir(), "node"); err == nil {
		return nil
	}
	kp, err := s.ca.NewKeyPair(pki.Request{
		CommonName: pki.NodeIdentity(mb.NodeName).CommonName, Organizations: pki.NodeIdentity(mb.NodeName).Organizations,
		DNSNames: []string{mb.NodeName}, IPs: ipsOf(mb.Advertise), Usage: pki.Both,
	})
	if err != nil {
		return err
	}
	return pki.WriteKeyPair(s.m.pkiDir(), "node", kp)
}

func ipsOf(addr string) []net.IP {
	if ip := net.ParseIP(addr); ip != nil {
		return []net.IP{ip}
	}
	return nil
}

func apiAddr(mb *membership) string {
	return net.JoinHostPort(mb.Advertise, strconv.Itoa(mb.APIPort))
}

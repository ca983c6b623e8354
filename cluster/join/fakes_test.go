package join

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover/drover/cluster/pki"
)

// tokens is a pki.TokenStore over a map.
type tokens struct {
	mu sync.Mutex
	m  map[string]pki.TokenRecord
}

func (s *tokens) Lookup(_ context.Context, id string) (pki.TokenRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[id]
	if !ok {
		return pki.TokenRecord{}, fmt.Errorf("token %s: %w", id, pki.ErrTokenNotFound)
	}
	return r, nil
}

// cluster is the Cluster a test server answers from.
type cluster struct {
	mu       sync.Mutex
	live     map[string]bool
	added    []string // "id@raftAddr"
	admitted []string // "name/role/serial"
}

func (c *cluster) Admit(_ context.Context, name string, role Role, cert *x509.Certificate) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.admitted = append(c.admitted, fmt.Sprintf("%s/%s/%s", name, role, cert.SerialNumber))
	return nil
}

func (c *cluster) LiveMember(_ context.Context, name string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live[name], nil
}

func (c *cluster) Servers(context.Context) ([]string, error) {
	return []string{"10.0.0.1:6443", "10.0.0.2:6443"}, nil
}

func (c *cluster) Leader(context.Context) (Leader, error) {
	return Leader{ID: "s1", RaftAddress: "10.0.0.1:6444", APIAddress: "10.0.0.1:6443"}, nil
}

func (c *cluster) AddServer(_ context.Context, id, raftAddr, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.added = append(c.added, id+"@"+raftAddr)
	return nil
}

func (c *cluster) setLive(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live[name] = true
}

// env is a running join server: CA, token store, cluster, and what it saw.
type env struct {
	ca       *pki.CA
	tokens   *tokens
	cluster  *cluster
	revoked  *pki.RevocationList
	addr     string
	requests atomic.Int32 // requests that reached the handler
	logMu    sync.Mutex
	logs     []string
}

func (e *env) log() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return strings.Join(e.logs, "\n")
}

// token makes a token of usage valid for ttl (negative: already expired).
func (e *env) token(t *testing.T, usage pki.TokenUsage, ttl time.Duration) string {
	t.Helper()
	text, rec, err := pki.NewToken(e.ca.Cert, time.Hour, usage)
	if err != nil {
		t.Fatal(err)
	}
	rec.Expires = time.Now().Add(ttl)
	e.tokens.mu.Lock()
	e.tokens.m[rec.ID] = rec
	e.tokens.mu.Unlock()
	return text
}

// serverPair issues a certificate for serving; id decides its identity.
func serverPair(t *testing.T, ca *pki.CA, id pki.Identity) pki.KeyPair {
	t.Helper()
	kp, err := ca.NewKeyPair(pki.Request{
		CommonName: id.CommonName, Organizations: id.Organizations, Usage: pki.Both,
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func tlsCert(t *testing.T, kp pki.KeyPair) tls.Certificate {
	t.Helper()
	c, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startEnv runs the join handler on loopback TLS as a server's API port
// would: serving a drover:servers certificate, client certificates optional
// and checked against the revocation list.
func startEnv(t *testing.T) *env {
	return startEnvServing(t, nil, pki.ServerIdentity("s1"))
}

// startEnvServing is startEnv with a chosen CA (nil: a new one) and serving
// identity.
func startEnvServing(t *testing.T, ca *pki.CA, serving pki.Identity) *env {
	t.Helper()
	if ca == nil {
		var err error
		if ca, err = pki.NewCA(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{
		ca:      ca,
		tokens:  &tokens{m: map[string]pki.TokenRecord{}},
		cluster: &cluster{live: map[string]bool{}},
		revoked: pki.NewRevocationList(),
	}
	h := Handler(Config{
		CA: ca, Tokens: e.tokens, Cluster: e.cluster, VerifyPeer: e.revoked.Check,
		Logf: func(format string, args ...any) {
			e.logMu.Lock()
			e.logs = append(e.logs, fmt.Sprintf(format, args...))
			e.logMu.Unlock()
		},
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	srv.TLS = pki.ServerTLS(ca.Cert, tlsCert(t, serverPair(t, ca, serving)),
		pki.WithOptionalClientCert(), pki.WithVerifyPeer(e.revoked.Check))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	e.addr = srv.Listener.Addr().String()
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func (c *cluster) addedList() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.added)
}

package join

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/drover/drover/cluster/pki"
)

// Cluster is what the handler needs of the running server.
type Cluster interface {
	// LiveMember reports whether a live member (node or server) of the
	// cluster already goes by name.
	LiveMember(ctx context.Context, name string) (bool, error)
	// Servers returns the API addresses (host:port) of the cluster's servers.
	Servers(ctx context.Context) ([]string, error)
	// Leader returns the current Raft leader.
	Leader(ctx context.Context) (Leader, error)
	// AddServer makes the server id, serving Raft at raftAddr and the API
	// at apiAddr, a voter, and returns once the configuration change has
	// committed (forwarding to the leader if need be).
	AddServer(ctx context.Context, id, raftAddr, apiAddr string) error
	// Admit records name as a member holding cert (its serial is what a
	// later removal revokes) before the certificate is handed out.
	Admit(ctx context.Context, name string, role Role, cert *x509.Certificate) error
}

// Config configures Handler.
type Config struct {
	CA     *pki.CA
	Tokens pki.TokenStore
	Cluster
	// VerifyPeer, if set, also vets a client certificate presented on the
	// join (re-join proof) and voter endpoints: the revocation list, at
	// least. The API port's tls.Config should be built with
	// pki.WithOptionalClientCert (else re-joiners cannot present one).
	VerifyPeer pki.VerifyPeer
	// CertTTL is the lifetime of issued certificates (pki.DefaultTTL if 0).
	CertTTL time.Duration
	// Now is the clock for token expiry (time.Now if nil).
	Now func() time.Time
	// Logf records each refusal with its reason, which the client is not
	// told in full (nil: no log).
	Logf func(format string, args ...any)
}

const (
	maxBody      = 64 << 10
	maxAddresses = 32
)

// Handler serves POST /join/v1 and POST /join/v1/voter. Mount it on the API
// port's mux at both paths (or as a fallback for /join/).
func Handler(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	mux := http.NewServeMux()
	h := &handler{cfg: cfg}
	mux.HandleFunc("POST "+Path, h.join)
	mux.HandleFunc("POST "+VoterPath, h.voter)
	return mux
}

type handler struct{ cfg Config }

// httpError is a failure with the status and code the client sees.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func fail(status int, code, format string, args ...any) *httpError {
	return &httpError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func (h *handler) join(w http.ResponseWriter, r *http.Request) {
	var req wireRequest
	if err := decode(w, r, &req); err != nil {
		h.reply(w, r, nil, err)
		return
	}
	resp, err := h.doJoin(r, &req)
	h.reply(w, r, resp, err)
}

func (h *handler) doJoin(r *http.Request, req *wireRequest) (*wireResponse, error) {
	ctx := r.Context()
	allowed, err := h.validate(req)
	if err != nil {
		return nil, err
	}
	tok, err := pki.ParseToken(req.Token)
	if err != nil {
		return nil, h.tokenError(req, err)
	}
	if tok.CAHash != h.cfg.CA.Hash() {
		return nil, h.tokenError(req, fmt.Errorf("%w: token %q is for CA %s", pki.ErrTokenInvalid, tok.ID, tok.CAHash))
	}
	rec, err := pki.VerifyToken(ctx, h.cfg.Tokens, req.Token, h.cfg.Now())
	if err != nil {
		return nil, h.tokenError(req, err)
	}
	if !rec.Allows(req.Role) {
		h.cfg.Logf("join %q: token %q (%s) may not join a %s", req.NodeName, rec.ID, rec.Usage, req.Role)
		return nil, fail(http.StatusForbidden, codeTokenRole,
			"this join token is for %ss and cannot join a %s: make a %s token with `drover cluster token create`", rec.Usage, req.Role, req.Role)
	}
	taken, err := h.cfg.LiveMember(ctx, req.NodeName)
	if err != nil {
		h.cfg.Logf("join %q: member lookup: %v", req.NodeName, err)
		return nil, fail(http.StatusServiceUnavailable, codeUnavailable, "the server cannot check node names right now; retry")
	}
	if taken {
		if err := h.sameMachine(r, req.NodeName); err != nil {
			h.cfg.Logf("join %q refused, name in use: %v", req.NodeName, err)
			return nil, fail(http.StatusConflict, codeNameTaken,
				"node name %q is in use by a live member: choose another name, or remove that node with `drover node rm %s` first (a machine re-joining under its own name must present its current certificate)",
				req.NodeName, req.NodeName)
		}
		h.cfg.Logf("join %q: the same machine re-joins (presented its certificate)", req.NodeName)
	}
	certPEM, err := h.cfg.CA.SignCSR([]byte(req.CSR), allowed)
	if err != nil {
		h.cfg.Logf("join %q refused: %v", req.NodeName, err)
		if errors.Is(err, pki.ErrRefused) {
			return nil, fail(http.StatusForbidden, codeRefused, "certificate request refused: %v", err)
		}
		return nil, fail(http.StatusBadRequest, codeBadRequest, "certificate request: %v", err)
	}
	leaf, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		return nil, fail(http.StatusInternalServerError, codeUnavailable, "parse the signed certificate: %v", err)
	}
	if err := h.cfg.Admit(ctx, req.NodeName, req.Role, leaf); err != nil {
		h.cfg.Logf("join %q: record the member: %v", req.NodeName, err)
		return nil, fail(http.StatusServiceUnavailable, codeUnavailable, "the server cannot record the new member right now; retry")
	}
	servers, err := h.cfg.Servers(ctx)
	if err != nil {
		h.cfg.Logf("join %q: list servers: %v", req.NodeName, err)
		return nil, fail(http.StatusServiceUnavailable, codeUnavailable, "the server cannot list the cluster's servers right now; retry")
	}
	resp := &wireResponse{CA: string(h.cfg.CA.CertPEM), Cert: string(certPEM), Servers: servers}
	if req.Role == RoleServer {
		leader, err := h.cfg.Leader(ctx)
		if err != nil {
			h.cfg.Logf("join %q: find leader: %v", req.NodeName, err)
			return nil, fail(http.StatusServiceUnavailable, codeUnavailable, "the cluster has no leader right now; retry")
		}
		resp.Leader = &leader
	}
	h.cfg.Logf("join %q as %s with token %q", req.NodeName, req.Role, rec.ID)
	return resp, nil
}

// validate checks the request's shape and returns what its CSR may ask for.
func (h *handler) validate(req *wireRequest) (pki.Request, error) {
	if errs := validation.IsDNS1123Subdomain(req.NodeName); len(errs) > 0 {
		return pki.Request{}, fail(http.StatusBadRequest, codeBadRequest, "node name %q: %s", req.NodeName, strings.Join(errs, "; "))
	}
	if req.CSR == "" {
		return pki.Request{}, fail(http.StatusBadRequest, codeBadRequest, "no certificate request")
	}
	if len(req.Addresses) > maxAddresses {
		return pki.Request{}, fail(http.StatusBadRequest, codeBadRequest, "more than %d addresses", maxAddresses)
	}
	dns, ips, err := splitAddresses(req.Addresses)
	if err != nil {
		return pki.Request{}, fail(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	var id pki.Identity
	switch req.Role {
	case RoleAgent:
		id = pki.NodeIdentity(req.NodeName)
	case RoleServer:
		if _, _, err := net.SplitHostPort(req.RaftAddress); err != nil {
			return pki.Request{}, fail(http.StatusBadRequest, codeBadRequest, "raft address %q: %v", req.RaftAddress, err)
		}
		id = pki.ServerIdentity(req.NodeName)
		// A server also answers on loopback (its own agent, local tools).
		dns = appendNew(dns, "localhost")
		if !slices.ContainsFunc(ips, net.IPv4(127, 0, 0, 1).Equal) {
			ips = append(ips, net.IPv4(127, 0, 0, 1))
		}
	default:
		return pki.Request{}, fail(http.StatusBadRequest, codeBadRequest, "role %q is not %q or %q", req.Role, RoleAgent, RoleServer)
	}
	return pki.Request{
		CommonName: id.CommonName, Organizations: id.Organizations,
		DNSNames: dns, IPs: ips, Usage: pki.Both, TTL: h.cfg.CertTTL,
	}, nil
}

// Identity is the identity a machine joining in role gets: the node agent's
// for an agent, the server's (with the drover:servers group) for a server.
func Identity(role Role, nodeName string) pki.Identity {
	if role == RoleServer {
		return pki.ServerIdentity(nodeName)
	}
	return pki.NodeIdentity(nodeName)
}

func splitAddresses(addrs []string) (dns []string, ips []net.IP, err error) {
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		if errs := validation.IsDNS1123Subdomain(a); len(errs) > 0 {
			return nil, nil, fmt.Errorf("address %q is neither an IP nor a DNS name", a)
		}
		dns = appendNew(dns, a)
	}
	return dns, ips, nil
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// tokenError maps a token failure to what the client sees: the same
// "invalid" for every kind of wrong token, "expired" only for the right
// secret (see pki.VerifyToken), and "unavailable" when the store failed.
func (h *handler) tokenError(req *wireRequest, err error) error {
	h.cfg.Logf("join %q refused: %v", req.NodeName, err)
	switch {
	case errors.Is(err, pki.ErrTokenExpired):
		return fail(http.StatusUnauthorized, codeTokenExpired, "join token expired")
	case errors.Is(err, pki.ErrTokenInvalid):
		return fail(http.StatusUnauthorized, codeTokenInvalid, "join token invalid")
	}
	return fail(http.StatusServiceUnavailable, codeUnavailable, "the server cannot check join tokens right now; retry")
}

// peerCert verifies the client certificate of the request against the CA
// and the VerifyPeer hook itself, whatever the listener's ClientAuth was.
func (h *handler) peerCert(r *http.Request) (*x509.Certificate, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, errors.New("no client certificate")
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: h.cfg.CA.Pool(), Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	if h.cfg.VerifyPeer != nil {
		if err := h.cfg.VerifyPeer(leaf); err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
	}
	return leaf, nil
}

// sameMachine reports (nil) whether the request proves it comes from the
// member called name: its TLS client certificate is that member's.
func (h *handler) sameMachine(r *http.Request, name string) error {
	leaf, err := h.peerCert(r)
	if err != nil {
		return err
	}
	if got, ok := pki.NodeName(leaf.Subject.CommonName); !ok || got != name {
		return fmt.Errorf("client certificate is %q, not node %q", leaf.Subject.CommonName, name)
	}
	return nil
}

func (h *handler) voter(w http.ResponseWriter, r *http.Request) {
	leaf, err := h.peerCert(r)
	if err != nil {
		h.cfg.Logf("add voter refused: %v", err)
		h.reply(w, r, nil, fail(http.StatusUnauthorized, codeUnauthorized, "a server certificate from this cluster is required: join with a server token first"))
		return
	}
	id := pki.Identity{CommonName: leaf.Subject.CommonName, Organizations: leaf.Subject.Organization}
	name, _ := pki.NodeName(id.CommonName)
	if !id.IsServer() {
		h.cfg.Logf("add voter refused: %q is not a server", id.CommonName)
		h.reply(w, r, nil, fail(http.StatusForbidden, codeUnauthorized, "%q is not a server certificate: join with a server token first", id.CommonName))
		return
	}
	var req voterRequest
	if err := decode(w, r, &req); err != nil {
		h.reply(w, r, nil, err)
		return
	}
	if _, _, err := net.SplitHostPort(req.RaftAddress); err != nil {
		h.reply(w, r, nil, fail(http.StatusBadRequest, codeBadRequest, "raft address %q: %v", req.RaftAddress, err))
		return
	}
	if err := h.cfg.AddServer(r.Context(), name, req.RaftAddress, req.APIAddress); err != nil {
		h.cfg.Logf("add voter %q at %s: %v", name, req.RaftAddress, err)
		h.reply(w, r, nil, fail(http.StatusServiceUnavailable, codeUnavailable, "add %s as a voter: %v", name, err))
		return
	}
	h.cfg.Logf("server %q at %s is a voter", name, req.RaftAddress)
	h.reply(w, r, struct{}{}, nil)
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return fail(http.StatusBadRequest, codeBadRequest, "decode request: %v", err)
	}
	return nil
}

func (h *handler) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			he = fail(http.StatusInternalServerError, codeUnavailable, "%v", err)
		}
		w.WriteHeader(he.status)
		json.NewEncoder(w).Encode(wireError{Code: he.code, Message: he.msg})
		return
	}
	json.NewEncoder(w).Encode(v)
}

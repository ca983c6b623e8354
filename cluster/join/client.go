package join

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drover/drover/cluster/pki"
)

// Errors Join returns (wrapped, with the address); each says what to do.
var (
	ErrTokenInvalid = errors.New("join token invalid: check it was copied whole, or make a new one with `drover cluster token create`")
	ErrTokenExpired = errors.New("join token expired: make a new one with `drover cluster token create`")
	ErrCAMismatch   = errors.New("the server's CA does not match the token: wrong address or a man in the middle")
	ErrNameTaken    = errors.New("node name taken")
	ErrRefused      = errors.New("join refused")
)

// Request is what a joining machine says about itself.
type Request struct {
	// NodeName is the machine's name in the cluster (a DNS-1123 subdomain);
	// for a server it is also its Raft server id.
	NodeName string
	Role     Role
	// Addresses (IPs or DNS names) the machine is reached at: the SANs of
	// its certificate.
	Addresses []string
	// RaftAddress (host:port) where a joining server will serve Raft.
	RaftAddress string
	// Existing is the machine's current key pair when it re-joins under its
	// own name; it is presented on the TLS connection as proof.
	Existing *pki.KeyPair
	// Timeout bounds the exchange when ctx has no deadline (30s if 0).
	Timeout time.Duration
}

// Result is what the machine keeps after joining.
type Result struct {
	// CAPEM is the cluster CA, already checked against the token's hash.
	CAPEM []byte
	// KeyPair is the new certificate and the locally generated key.
	KeyPair pki.KeyPair
	// Servers are the API addresses (host:port) of the cluster's servers.
	Servers []string
	// Leader is set for a server: the Raft leader to expect contact from.
	Leader *Leader
}

// Join asks the server at addr (host:port of its API) for a certificate.
// The server's certificate chain is checked against the CA hash in token
// before the token or anything else is sent.
func Join(ctx context.Context, addr, token string, req Request) (Result, error) {
	tok, err := pki.ParseToken(token)
	if err != nil {
		detail := strings.TrimPrefix(err.Error(), pki.ErrTokenInvalid.Error()+": ")
		return Result{}, fmt.Errorf("join %s: %w (%s)", addr, ErrTokenInvalid, detail)
	}
	key, err := pki.GenerateKey()
	if err != nil {
		return Result{}, fmt.Errorf("join %s: %w", addr, err)
	}
	dns, ips, err := splitAddresses(req.Addresses)
	if err != nil {
		return Result{}, fmt.Errorf("join %s: %w", addr, err)
	}
	csr, err := pki.NewCSR(key, Identity(req.Role, req.NodeName), dns, ips)
	if err != nil {
		return Result{}, fmt.Errorf("join %s: %w", addr, err)
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return Result{}, fmt.Errorf("join %s: %w", addr, err)
	}

	pin := &pinner{hash: tok.CAHash}
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain is checked by pin.verify against the token's CA hash:
		// there is no CA to trust before that.
		InsecureSkipVerify: true,
		VerifyConnection:   pin.verify,
	}
	if req.Existing != nil {
		c, err := req.Existing.TLSCertificate()
		if err != nil {
			return Result{}, fmt.Errorf("join %s: existing certificate: %w", addr, err)
		}
		tlsCfg.Certificates = []tls.Certificate{c}
	}
	body := wireRequest{
		Token: token, NodeName: req.NodeName, Role: req.Role, CSR: string(csr),
		Addresses: req.Addresses, RaftAddress: req.RaftAddress,
	}
	var resp wireResponse
	if err := post(ctx, tlsCfg, addr, Path, req.Timeout, body, &resp); err != nil {
		return Result{}, fmt.Errorf("join %s: %w", addr, explain(err, pin, req.Existing != nil))
	}

	// The answer must hold the pinned CA and a certificate for our key.
	ca, err := pki.ParseCertPEM([]byte(resp.CA))
	if err != nil {
		return Result{}, fmt.Errorf("join %s: answer: %w", addr, err)
	}
	if pki.CertHash(ca) != tok.CAHash {
		return Result{}, fmt.Errorf("join %s: %w (the answer's CA)", addr, ErrCAMismatch)
	}
	leaf, err := pki.ParseCertPEM([]byte(resp.Cert))
	if err != nil {
		return Result{}, fmt.Errorf("join %s: answer: %w", addr, err)
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return Result{}, fmt.Errorf("join %s: answer: the certificate is not for this machine's key", addr)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return Result{}, fmt.Errorf("join %s: answer: %w", addr, err)
	}
	if req.Role == RoleServer && resp.Leader == nil {
		return Result{}, fmt.Errorf("join %s: answer: no Raft leader for a joining server", addr)
	}
	return Result{
		CAPEM:   []byte(resp.CA),
		KeyPair: pki.KeyPair{CertPEM: []byte(resp.Cert), KeyPEM: keyPEM},
		Servers: resp.Servers,
		Leader:  resp.Leader,
	}, nil
}

// AddVoter is a joined server's second step: once its Raft is running at
// raftAddr, it asks the server at addr, over mutual TLS with the
// certificate Join returned, to add it as a voter. It returns when the
// change has committed.
func AddVoter(ctx context.Context, addr string, res Result, raftAddr, apiAddr string) error {
	ca, err := pki.ParseCertPEM(res.CAPEM)
	if err != nil {
		return fmt.Errorf("add voter via %s: %w", addr, err)
	}
	cert, err := res.KeyPair.TLSCertificate()
	if err != nil {
		return fmt.Errorf("add voter via %s: %w", addr, err)
	}
	cfg := pki.ClientTLS(ca, cert)
	// Servers are dialed by whatever address the operator gave, which the
	// certificate may not name: the chain and the drover:servers group,
	// checked here, are what make the peer a server.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyServerChain(ca, cs.PeerCertificates) }
	if err := post(ctx, cfg, addr, VoterPath, 0, voterRequest{RaftAddress: raftAddr, APIAddress: apiAddr}, &struct{}{}); err != nil {
		return fmt.Errorf("add voter via %s: %w", addr, err)
	}
	return nil
}

// verifyServerChain checks a served chain against ca (no host name check)
// and that the serving certificate is a cluster server's.
func verifyServerChain(ca *x509.Certificate, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("server presented no certificate")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	if !slices.Contains(chain[0].Subject.Organization, pki.GroupServers) {
		return fmt.Errorf("server certificate %q is not a cluster server's", chain[0].Subject.CommonName)
	}
	return nil
}

// pinner checks, during the handshake, that the server's chain carries the
// CA the token names and that its certificate is a server's under it.
type pinner struct {
	hash string
	mu   sync.Mutex
	last error
}

func (p *pinner) verify(cs tls.ConnectionState) error {
	var ca *x509.Certificate
	for _, c := range cs.PeerCertificates {
		if c.IsCA && pki.CertHash(c) == p.hash {
			ca = c
			break
		}
	}
	err := ErrCAMismatch
	if ca != nil {
		err = verifyServerChain(ca, cs.PeerCertificates)
		if err != nil {
			err = fmt.Errorf("%w: %v", ErrCAMismatch, err)
		}
	}
	p.mu.Lock()
	p.last = err
	p.mu.Unlock()
	return err
}

func (p *pinner) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// post sends one JSON request over a connection of its own and decodes the
// answer or the server's error.
func post(ctx context.Context, tlsCfg *tls.Config, addr, path string, timeout time.Duration, in, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	tr := &http.Transport{
		TLSClientConfig:   tlsCfg,
		DisableKeepAlives: true,
		// No proxy: the pinned connection must reach the server itself.
		Proxy:       nil,
		DialContext: (&net.Dialer{}).DialContext,
	}
	defer tr.CloseIdleConnections()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var we wireError
		if json.Unmarshal(body, &we) != nil || we.Code == "" {
			return fmt.Errorf("%w: %s", ErrRefused, resp.Status)
		}
		return wireErr(we)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// explain turns a transport failure into what the user should check.
func explain(err error, pin *pinner, presentedCert bool) error {
	if pinErr := pin.err(); pinErr != nil {
		return pinErr
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		return err
	}
	switch {
	case op.Op == "dial":
		return fmt.Errorf("cannot reach the server: check the address and that its API port is open: %w", err)
	case op.Op == "remote error" && presentedCert:
		// crypto/tls reports the server's TLS alert this way.
		return fmt.Errorf("the server refused this machine's current certificate (revoked or expired): remove the node with `drover node rm` and join without it: %w", err)
	}
	return err
}

// wireErr turns the server's error into the client's sentinel.
func wireErr(we wireError) error {
	switch we.Code {
	case codeTokenInvalid:
		return ErrTokenInvalid
	case codeTokenExpired:
		return ErrTokenExpired
	case codeNameTaken:
		return fmt.Errorf("%w: %s", ErrNameTaken, we.Message)
	}
	return fmt.Errorf("%w: %s", ErrRefused, we.Message)
}

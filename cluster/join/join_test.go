package join

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drover/drover/cluster/pki"
)

// mtlsEcho is a mutual-TLS server of the cluster (as every server and agent
// runs) that answers with the client's CommonName.
func mtlsEcho(t *testing.T, e *env) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, err := pki.PeerIdentity(r.TLS)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, id.CommonName)
	}))
	srv.TLS = pki.ServerTLS(e.ca.Cert, tlsCert(t, serverPair(t, e.ca, pki.ServerIdentity("s1"))), pki.WithVerifyPeer(e.revoked.Check))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// callAs does a GET with the joined machine's credentials.
func callAs(t *testing.T, res Result, url string) (string, error) {
	t.Helper()
	ca, err := pki.ParseCertPEM(res.CAPEM)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: pki.ClientTLS(ca, tlsCert(t, res.KeyPair)), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(resp.Status)
	}
	return string(b), nil
}

func TestJoinAgent(t *testing.T) {
	e := startEnv(t)
	res, err := Join(ctx(t), e.addr, e.token(t, pki.TokenAgent, time.Hour), Request{
		NodeName: "worker-1", Role: RoleAgent, Addresses: []string{"10.0.0.7", "worker-1.lan"},
	})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.ParseCertPEM(res.KeyPair.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	got := pki.Identity{CommonName: leaf.Subject.CommonName, Organizations: leaf.Subject.Organization}
	if !got.Equal(pki.NodeIdentity("worker-1")) {
		t.Errorf("identity %+v", got)
	}
	if !slices.Equal(leaf.DNSNames, []string{"worker-1.lan"}) || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "10.0.0.7" {
		t.Errorf("SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if string(res.CAPEM) != string(e.ca.CertPEM) || !slices.Equal(res.Servers, []string{"10.0.0.1:6443", "10.0.0.2:6443"}) || res.Leader != nil {
		t.Errorf("result: servers %v leader %v", res.Servers, res.Leader)
	}
	if strings.Contains(e.log(), "BEGIN EC PRIVATE KEY") {
		t.Error("a private key reached the server")
	}
	e.cluster.mu.Lock()
	admitted := slices.Clone(e.cluster.admitted)
	e.cluster.mu.Unlock()
	if want := fmt.Sprintf("worker-1/agent/%s", leaf.SerialNumber); !slices.Equal(admitted, []string{want}) {
		t.Errorf("admitted %v, want [%s]", admitted, want)
	}

	// The certificate opens the cluster's mutual-TLS servers...
	url := mtlsEcho(t, e)
	if cn, err := callAs(t, res, url); err != nil || cn != "system:node:worker-1" {
		t.Fatalf("mutual TLS with the joined certificate: %q, %v", cn, err)
	}
	// ...until it is revoked: then the handshake fails.
	e.revoked.Revoke(leaf)
	if cn, err := callAs(t, res, url); err == nil {
		t.Fatalf("revoked certificate accepted as %q", cn)
	}
}

func TestJoinRefusals(t *testing.T) {
	e := startEnv(t)
	other, err := pki.NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := e.token(t, pki.TokenAgent, time.Hour)
	tok, _ := pki.ParseToken(good)
	wrongSecret := pki.Token{CAHash: tok.CAHash, ID: tok.ID, Secret: strings.Repeat("x", len(tok.Secret))}.String()
	otherCA := pki.Token{CAHash: other.Hash(), ID: tok.ID, Secret: tok.Secret}.String()
	e.cluster.setLive("taken")

	tests := []struct {
		name    string
		token   string
		req     Request
		want    error
		inLog   string // the server's log tells the cause apart
		reached bool   // the request reached the handler
	}{
		{"wrong secret", wrongSecret, Request{NodeName: "a", Role: RoleAgent}, ErrTokenInvalid, "wrong secret", true},
		{"expired", e.token(t, pki.TokenAgent, -time.Minute), Request{NodeName: "a", Role: RoleAgent}, ErrTokenExpired, "expired at", true},
		{"malformed token", "drv1.nope", Request{NodeName: "a", Role: RoleAgent}, ErrTokenInvalid, "", false},
		{"token pins another CA", otherCA, Request{NodeName: "a", Role: RoleAgent}, ErrCAMismatch, "", false},
		{"agent token for a server", good, Request{NodeName: "a", Role: RoleServer, RaftAddress: "127.0.0.1:1"}, ErrRefused, "may not join a server", true},
		{"name taken", good, Request{NodeName: "taken", Role: RoleAgent}, ErrNameTaken, "name in use", true},
		{"bad node name", good, Request{NodeName: "Not_A_Name", Role: RoleAgent}, ErrRefused, "", true},
		{"bad role", good, Request{NodeName: "a", Role: "admin"}, ErrRefused, "", true},
		{"server without raft address", e.token(t, pki.TokenServer, time.Hour), Request{NodeName: "a", Role: RoleServer}, ErrRefused, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.requests.Load()
			_, err := Join(ctx(t), e.addr, tt.token, tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if reached := e.requests.Load() > before; reached != tt.reached {
				t.Errorf("request reached the handler: %v, want %v", reached, tt.reached)
			}
			if tt.inLog != "" && !strings.Contains(e.log(), tt.inLog) {
				t.Errorf("server log lacks %q:\n%s", tt.inLog, e.log())
			}
			if strings.Contains(err.Error(), tok.Secret) {
				t.Error("error shows the secret")
			}
		})
	}
	// The messages the user sees say what to do.
	for _, err := range []error{ErrTokenExpired, ErrTokenInvalid} {
		if !strings.Contains(err.Error(), "drover cluster token create") {
			t.Errorf("%q does not say how to make a token", err)
		}
	}
}

// A server of the right CA whose certificate is not a server's (an agent's
// stolen certificate, say) is not trusted with the token.
func TestJoinRefusesNonServerCertificate(t *testing.T) {
	e := startEnvServing(t, nil, pki.NodeIdentity("impostor"))
	_, err := Join(ctx(t), e.addr, e.token(t, pki.TokenAgent, time.Hour), Request{NodeName: "a", Role: RoleAgent})
	if !errors.Is(err, ErrCAMismatch) {
		t.Fatalf("err = %v, want ErrCAMismatch", err)
	}
	if e.requests.Load() != 0 {
		t.Error("the token was sent to a non-server")
	}
}

// The CSR is untrusted: a joiner asking for more than its role allows is
// refused, whatever its token.
func TestJoinRefusesPrivilegedCSR(t *testing.T) {
	e := startEnv(t)
	key, err := pki.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	agentTok := e.token(t, pki.TokenAgent, time.Hour)
	serverTok := e.token(t, pki.TokenServer, time.Hour)
	tests := []struct {
		name  string
		token string
		role  Role
		id    pki.Identity
	}{
		{"agent asks for system:masters", agentTok, RoleAgent, pki.Identity{CommonName: "system:node:a", Organizations: []string{pki.GroupNodes, pki.GroupMasters}}},
		{"agent asks to be admin", agentTok, RoleAgent, pki.AdminIdentity()},
		{"agent asks for a server identity", agentTok, RoleAgent, pki.ServerIdentity("a")},
		{"agent asks for another node", agentTok, RoleAgent, pki.NodeIdentity("b")},
		{"server asks to be admin", serverTok, RoleServer, pki.AdminIdentity()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := pki.NewCSR(key, tt.id, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			pin := &pinner{hash: e.ca.Hash()}
			cfg := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, VerifyConnection: pin.verify}
			var resp wireResponse
			err = post(ctx(t), cfg, e.addr, Path, 0, wireRequest{
				Token: tt.token, NodeName: "a", Role: tt.role, CSR: string(csr), RaftAddress: "127.0.0.1:7000",
			}, &resp)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("err = %v, want a refusal", err)
			}
			if resp.Cert != "" {
				t.Error("a certificate came back")
			}
		})
	}
}

func TestRejoinSameMachine(t *testing.T) {
	e := startEnv(t)
	token := e.token(t, pki.TokenAgent, time.Hour)
	first, err := Join(ctx(t), e.addr, token, Request{NodeName: "n1", Role: RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	e.cluster.setLive("n1")
	other, err := Join(ctx(t), e.addr, token, Request{NodeName: "n2", Role: RoleAgent})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := Join(ctx(t), e.addr, token, Request{NodeName: "n1", Role: RoleAgent}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("re-join without proof: %v, want ErrNameTaken", err)
	}
	if _, err := Join(ctx(t), e.addr, token, Request{NodeName: "n1", Role: RoleAgent, Existing: &other.KeyPair}); !errors.Is(err, ErrNameTaken) {
		t.Errorf("re-join with another node's certificate: %v, want ErrNameTaken", err)
	}
	again, err := Join(ctx(t), e.addr, token, Request{NodeName: "n1", Role: RoleAgent, Existing: &first.KeyPair})
	if err != nil {
		t.Fatalf("re-join with its own certificate: %v", err)
	}
	if string(again.KeyPair.KeyPEM) == string(first.KeyPair.KeyPEM) {
		t.Error("re-join reused the old key")
	}
	// A removed machine's certificate proves nothing: it no longer passes
	// the handshake.
	leaf, _ := pki.ParseCertPEM(again.KeyPair.CertPEM)
	e.revoked.Revoke(leaf)
	_, err = Join(ctx(t), e.addr, token, Request{NodeName: "n1", Role: RoleAgent, Existing: &again.KeyPair})
	if err == nil || !strings.Contains(err.Error(), "refused this machine's current certificate") {
		t.Errorf("re-join with a revoked certificate: %v, want the handshake refused", err)
	}
}

func TestJoinServerAndAddVoter(t *testing.T) {
	e := startEnv(t)
	res, err := Join(ctx(t), e.addr, e.token(t, pki.TokenServer, time.Hour), Request{
		NodeName: "s2", Role: RoleServer, Addresses: []string{"10.0.0.2"}, RaftAddress: "10.0.0.2:6444",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Leader == nil || res.Leader.ID != "s1" || res.Leader.RaftAddress != "10.0.0.1:6444" {
		t.Errorf("leader %+v", res.Leader)
	}
	leaf, err := pki.ParseCertPEM(res.KeyPair.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if id := (pki.Identity{CommonName: leaf.Subject.CommonName, Organizations: leaf.Subject.Organization}); !id.Equal(pki.ServerIdentity("s2")) {
		t.Errorf("identity %+v", id)
	}
	if !slices.Contains(leaf.DNSNames, "localhost") || len(leaf.IPAddresses) != 2 {
		t.Errorf("server SANs %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if len(e.cluster.addedList()) != 0 {
		t.Fatal("AddServer called before the new server asked")
	}

	if err := AddVoter(ctx(t), e.addr, res, "10.0.0.2:6444", "10.0.0.2:6443"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.cluster.addedList(), []string{"s2@10.0.0.2:6444"}) {
		t.Errorf("AddServer calls %v", e.cluster.addedList())
	}

	// An agent's certificate cannot make itself a voter.
	agent, err := Join(ctx(t), e.addr, e.token(t, pki.TokenAgent, time.Hour), Request{NodeName: "w", Role: RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	if err := AddVoter(ctx(t), e.addr, agent, "10.0.0.9:6444", ""); !errors.Is(err, ErrRefused) {
		t.Errorf("agent as voter: %v, want refused", err)
	}
	if len(e.cluster.addedList()) != 1 {
		t.Errorf("AddServer calls %v", e.cluster.addedList())
	}

	// The new server's certificate serves joins itself: another machine
	// pins it through the same token format.
	e2 := startEnvServingPair(t, e, res.KeyPair)
	if _, err := Join(ctx(t), e2, e.token(t, pki.TokenAgent, time.Hour), Request{NodeName: "w2", Role: RoleAgent}); err != nil {
		t.Errorf("join through the new server: %v", err)
	}
}

// startEnvServingPair serves e's handler with the given key pair and
// returns its address.
func startEnvServingPair(t *testing.T, e *env, kp pki.KeyPair) string {
	t.Helper()
	h := Handler(Config{CA: e.ca, Tokens: e.tokens, Cluster: e.cluster})
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = pki.ServerTLS(e.ca.Cert, tlsCert(t, kp), pki.WithOptionalClientCert())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestJoinUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tok := pki.Token{CAHash: strings.Repeat("0", 64), ID: "aaaaaaaa", Secret: strings.Repeat("a", 32)}.String()
	_, err = Join(ctx(t), addr, tok, Request{NodeName: "a", Role: RoleAgent})
	if err == nil || !strings.Contains(err.Error(), "cannot reach the server") {
		t.Errorf("err = %v, want a hint about reaching the server", err)
	}
}

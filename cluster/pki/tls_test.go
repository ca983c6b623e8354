package pki

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// mtlsServer serves the verified client's CommonName over ServerTLS.
func mtlsServer(t *testing.T, ca *CA, opts ...TLSOption) *httptest.Server {
	t.Helper()
	srvPair := issuePair(t, ca, ServerIdentity("s1"), Both)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _, err := PeerIdentity(r.TLS)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, id.CommonName)
	}))
	srv.TLS = ServerTLS(ca.Cert, tlsCert(t, srvPair), opts...)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// get does one request on a fresh connection (resumption still possible
// through cfg's session cache) and returns the body.
func get(cfg *tls.Config, url string) (string, *tls.ConnectionState, error) {
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", resp.TLS, errors.New(resp.Status + ": " + string(b))
	}
	return string(b), resp.TLS, nil
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	srv := mtlsServer(t, ca)
	tests := []struct {
		name   string
		client *tls.Config
		wantCN string // "" means the request must fail
	}{
		{"node client cert", ClientTLS(ca.Cert, tlsCert(t, issuePair(t, ca, NodeIdentity("n1"), Client))), "system:node:n1"},
		{"admin both-usage cert", ClientTLS(ca.Cert, tlsCert(t, issuePair(t, ca, AdminIdentity(), Both))), "drover-admin"},
		{"cert from another CA", ClientTLS(ca.Cert, tlsCert(t, issuePair(t, other, NodeIdentity("n1"), Client))), ""},
		{"no client cert", &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool()}, ""},
		{"server-only cert as client", ClientTLS(ca.Cert, tlsCert(t, issuePair(t, ca, NodeIdentity("n1"), Server))), ""},
		{"client trusting another CA", ClientTLS(other.Cert, tlsCert(t, issuePair(t, ca, NodeIdentity("n1"), Client))), ""},
		{"TLS 1.2 client", func() *tls.Config {
			c := ClientTLS(ca.Cert, tlsCert(t, issuePair(t, ca, NodeIdentity("n1"), Client)))
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return c
		}(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _, err := get(tt.client, srv.URL)
			if tt.wantCN == "" {
				if err == nil {
					t.Fatalf("request succeeded as %q, want a handshake failure", body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if body != tt.wantCN {
				t.Errorf("server saw %q, want %q", body, tt.wantCN)
			}
		})
	}
}

func TestRevokedCertRefusedAtHandshake(t *testing.T) {
	ca := newTestCA(t)
	revoked := NewRevocationList()
	srv := mtlsServer(t, ca, WithVerifyPeer(revoked.Check))
	pair := issuePair(t, ca, NodeIdentity("gone"), Client)
	leaf, err := ParseCertPEM(pair.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	client := ClientTLS(ca.Cert, tlsCert(t, pair))
	client.ClientSessionCache = tls.NewLRUClientSessionCache(8)

	if _, _, err := get(client, srv.URL); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	_, cs, err := get(client, srv.URL)
	if err != nil {
		t.Fatalf("before revocation, second connection: %v", err)
	}
	if !cs.DidResume {
		t.Fatal("second connection did not resume: the resumed-handshake check below would prove nothing")
	}

	revoked.Revoke(leaf)
	// The cached session would resume; the check must still run.
	if body, _, err := get(client, srv.URL); err == nil {
		t.Fatalf("revoked certificate accepted (server saw %q)", body)
	}
	fresh := ClientTLS(ca.Cert, tlsCert(t, pair))
	if _, _, err := get(fresh, srv.URL); err == nil {
		t.Fatal("revoked certificate accepted on a full handshake")
	}
	// Another node is unaffected.
	if _, _, err := get(ClientTLS(ca.Cert, tlsCert(t, issuePair(t, ca, NodeIdentity("kept"), Client))), srv.URL); err != nil {
		t.Errorf("unrevoked certificate refused: %v", err)
	}
	// The list as the server reloads it from the store: empty again.
	if err := revoked.UnmarshalJSON([]byte(`{"revoked":[]}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(fresh, srv.URL); err != nil {
		t.Errorf("after un-revoking: %v", err)
	}
}

func TestClientChecksServer(t *testing.T) {
	ca := newTestCA(t)
	srv := mtlsServer(t, ca)
	pair := tlsCert(t, issuePair(t, ca, NodeIdentity("n1"), Client))
	srvLeaf := srv.TLS.Certificates[0].Leaf
	if srvLeaf == nil {
		var err error
		if srvLeaf, err = ParseCertPEM(EncodeCert(srv.TLS.Certificates[0].Certificate[0])); err != nil {
			t.Fatal(err)
		}
	}
	revoked := NewRevocationList()
	revoked.Revoke(srvLeaf)
	tests := []struct {
		name string
		opts []TLSOption
		ok   bool
	}{
		{"no checks", nil, true},
		{"server in drover:servers", []TLSOption{WithVerifyPeer(RequireGroup(GroupServers))}, true},
		{"server not in group", []TLSOption{WithVerifyPeer(RequireGroup("other"))}, false},
		{"server revoked", []TLSOption{WithVerifyPeer(revoked.Check)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := get(ClientTLS(ca.Cert, pair, tt.opts...), srv.URL)
			if tt.ok != (err == nil) {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !tt.ok && !strings.Contains(err.Error(), "peer certificate") {
				t.Errorf("error %q does not come from the peer check", err)
			}
		})
	}
}

func TestOptionalClientCert(t *testing.T) {
	ca := newTestCA(t)
	revoked := NewRevocationList()
	srv := mtlsServer(t, ca, WithOptionalClientCert(), WithVerifyPeer(revoked.Check))
	anon := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: ca.Pool()}
	if _, _, err := get(anon, srv.URL); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("anonymous client: %v, want the handler's 401", err)
	}
	pair := issuePair(t, ca, NodeIdentity("n1"), Client)
	if body, _, err := get(ClientTLS(ca.Cert, tlsCert(t, pair)), srv.URL); err != nil || body != "system:node:n1" {
		t.Errorf("client with cert: %q, %v", body, err)
	}
	if _, _, err := get(ClientTLS(ca.Cert, tlsCert(t, issuePair(t, newTestCA(t), NodeIdentity("n1"), Client))), srv.URL); err == nil {
		t.Error("a certificate from another CA was accepted when optional")
	}
	leaf, _ := ParseCertPEM(pair.CertPEM)
	revoked.Revoke(leaf)
	if _, _, err := get(ClientTLS(ca.Cert, tlsCert(t, pair)), srv.URL); err == nil {
		t.Error("a revoked certificate was accepted when optional")
	}
}

func TestRequireMember(t *testing.T) {
	ca := newTestCA(t)
	members := map[string]bool{"n1": true, "s1": true}
	srv := mtlsServer(t, ca, WithVerifyPeer(RequireMember(func(name string) bool { return members[name] })))
	tests := []struct {
		id Identity
		ok bool
	}{
		{NodeIdentity("n1"), true},
		{ServerIdentity("s1"), true},
		{NodeIdentity("removed"), false},
		{ServerIdentity("removed"), false},
		{AdminIdentity(), true},
	}
	for _, tt := range tests {
		_, _, err := get(ClientTLS(ca.Cert, tlsCert(t, issuePair(t, ca, tt.id, Client))), srv.URL)
		if tt.ok != (err == nil) {
			t.Errorf("%s: err = %v, want ok=%v", tt.id.CommonName, err, tt.ok)
		}
	}
	if err := RequireMember(func(string) bool { return false })(&x509.Certificate{Subject: pkix.Name{CommonName: "system:node:x"}}); !errors.Is(err, ErrNotMember) {
		t.Errorf("err = %v, want ErrNotMember", err)
	}
}

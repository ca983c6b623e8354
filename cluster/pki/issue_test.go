package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

func TestIssueUsage(t *testing.T) {
	ca := newTestCA(t)
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		usage Usage
		want  []x509.ExtKeyUsage
	}{
		{Server, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{Client, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		{Both, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{0, nil},
		{Both | 8, nil},
	}
	for _, tt := range tests {
		pemCert, err := ca.Issue(Request{CommonName: "x", Usage: tt.usage, PublicKey: &key.PublicKey, TTL: time.Hour})
		if tt.want == nil {
			if err == nil {
				t.Errorf("usage %d: issued, want error", tt.usage)
			}
			continue
		}
		if err != nil {
			t.Errorf("usage %d: %v", tt.usage, err)
			continue
		}
		c, err := ParseCertPEM(pemCert)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.ExtKeyUsage, tt.want) {
			t.Errorf("usage %d: ext key usage %v, want %v", tt.usage, c.ExtKeyUsage, tt.want)
		}
		if c.IsCA {
			t.Errorf("usage %d: leaf is a CA", tt.usage)
		}
		if d := c.NotAfter.Sub(time.Now()); d > time.Hour || d < 59*time.Minute {
			t.Errorf("usage %d: lifetime %v, want 1h", tt.usage, d)
		}
	}
}

func TestIssueNeedsExactlyOneKey(t *testing.T) {
	ca := newTestCA(t)
	key, _ := GenerateKey()
	csr, err := NewCSR(key, NodeIdentity("n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue(Request{CommonName: "x", Usage: Client}); err == nil {
		t.Error("issued without a key")
	}
	if _, err := ca.Issue(Request{CommonName: "x", Usage: Client, PublicKey: &key.PublicKey, CSR: csr}); err == nil {
		t.Error("issued with both a key and a CSR")
	}
	if _, err := ca.Issue(Request{CommonName: "x", Usage: Client, CSR: csr}); err != nil {
		t.Errorf("issue from CSR: %v", err)
	}
}

// csrWith builds a CSR from a template, signed by key.
func csrWith(t *testing.T, tmpl *x509.CertificateRequest, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der})
}

func TestSignCSR(t *testing.T) {
	ca := newTestCA(t)
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	node := NodeIdentity("worker-1")
	allowed := Request{
		CommonName: node.CommonName, Organizations: node.Organizations, Usage: Both,
		DNSNames: []string{"worker-1"}, IPs: []net.IP{net.ParseIP("10.0.0.5")},
	}
	tampered := csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: node.CommonName, Organization: node.Organizations}}, key)
	{
		b, _ := pem.Decode(tampered)
		b.Bytes[len(b.Bytes)-5] ^= 0xff // inside the signature
		tampered = pem.EncodeToMemory(b)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	subject := pkix.Name{CommonName: node.CommonName, Organization: node.Organizations}
	tests := []struct {
		name    string
		csr     []byte
		refused bool // wraps ErrRefused; otherwise any error (or none if ok)
		ok      bool
	}{
		{"exact subject", csrWith(t, &x509.CertificateRequest{Subject: subject}, key), false, true},
		{"subset of SANs", csrWith(t, &x509.CertificateRequest{Subject: subject, DNSNames: []string{"worker-1"}}, key), false, true},
		{"groups in another order", mustCSR(t, key, Identity{node.CommonName, []string{GroupNodes, GroupNodes}}), false, true},
		{"asks for system:masters", mustCSR(t, key, Identity{node.CommonName, []string{GroupNodes, GroupMasters}}), true, false},
		{"asks for admin", mustCSR(t, key, AdminIdentity()), true, false},
		{"another node's name", mustCSR(t, key, NodeIdentity("worker-2")), true, false},
		{"no groups", mustCSR(t, key, Identity{CommonName: node.CommonName}), true, false},
		{"extra OU", csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: node.CommonName, Organization: node.Organizations, OrganizationalUnit: []string{"x"}}}, key), true, false},
		{"extra name attribute", csrWith(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: node.CommonName, Organization: node.Organizations, ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: "uid"}}}}, key), true, false},
		{"SAN not allowed", csrWith(t, &x509.CertificateRequest{Subject: subject, DNSNames: []string{"api.example.com"}}, key), true, false},
		{"IP not allowed", csrWith(t, &x509.CertificateRequest{Subject: subject, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}, key), true, false},
		{"email SAN", csrWith(t, &x509.CertificateRequest{Subject: subject, EmailAddresses: []string{"a@b.c"}}, key), true, false},
		{"RSA key", csrWith(t, &x509.CertificateRequest{Subject: subject}, rsaKey), true, false},
		{"P-224 key", csrWith(t, &x509.CertificateRequest{Subject: subject}, p224), true, false},
		{"bad signature", tampered, false, false},
		{"not PEM", []byte("hello"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, err := ca.SignCSR(tt.csr, allowed)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				c, err := ParseCertPEM(certPEM)
				if err != nil {
					t.Fatal(err)
				}
				got := Identity{c.Subject.CommonName, c.Subject.Organization}
				if !got.Equal(node) {
					t.Errorf("subject %+v, want %+v", got, node)
				}
				if !slices.Equal(c.DNSNames, allowed.DNSNames) || len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(allowed.IPs[0]) {
					t.Errorf("SANs %v %v, want the allowed ones", c.DNSNames, c.IPAddresses)
				}
				return
			}
			if err == nil {
				t.Fatal("signed, want refusal")
			}
			if tt.refused && !errors.Is(err, ErrRefused) {
				t.Errorf("error %v does not wrap ErrRefused", err)
			}
		})
	}
}

func mustCSR(t *testing.T, key *ecdsa.PrivateKey, id Identity) []byte {
	t.Helper()
	csr, err := NewCSR(key, id, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func TestIdentities(t *testing.T) {
	tests := []struct {
		id       Identity
		cn       string
		groups   []string
		server   bool
		nodeName string
	}{
		{AdminIdentity(), "drover-admin", []string{"system:masters"}, false, ""},
		{NodeIdentity("a"), "system:node:a", []string{"system:nodes"}, false, "a"},
		{ServerIdentity("s1"), "system:drover-server:s1", []string{"system:masters", "drover:servers"}, true, "s1"},
	}
	for _, tt := range tests {
		if tt.id.CommonName != tt.cn || !slices.Equal(tt.id.Organizations, tt.groups) {
			t.Errorf("identity %+v, want CN %q O %q", tt.id, tt.cn, tt.groups)
		}
		if tt.id.IsServer() != tt.server {
			t.Errorf("%q IsServer=%v", tt.cn, !tt.server)
		}
		name, ok := NodeName(tt.cn)
		if name != tt.nodeName || ok != (tt.nodeName != "") {
			t.Errorf("NodeName(%q) = %q, %v", tt.cn, name, ok)
		}
	}
}

package pki

import (
	"crypto/tls"
	"net"
	"testing"
)

func newTestCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// issuePair issues a key pair for id with usage; server pairs get the
// loopback SANs.
func issuePair(t testing.TB, ca *CA, id Identity, usage Usage) KeyPair {
	t.Helper()
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	req := Request{CommonName: id.CommonName, Organizations: id.Organizations, Usage: usage, PublicKey: &key.PublicKey}
	if usage&Server != 0 {
		req.DNSNames = []string{"localhost"}
		req.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	certPEM, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}
}

func tlsCert(t testing.TB, kp KeyPair) tls.Certificate {
	t.Helper()
	c, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

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
	req := Request{CommonName: id.CommonName, Organizations: id.Organizations, Usage: usage}
	if usage&Server != 0 {
		req.DNSNames = []string{"localhost"}
		req.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	kp, err := ca.NewKeyPair(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp.TLSCertificate(); err != nil {
		t.Fatal(err)
	}
	return kp
}

func tlsCert(t testing.TB, kp KeyPair) tls.Certificate {
	t.Helper()
	c, err := kp.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

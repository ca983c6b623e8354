package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"
)

// Usage says what a certificate may be used for in TLS.
type Usage int

const (
	// Server certificates authenticate a listener.
	Server Usage = 1 << iota
	// Client certificates authenticate a dialer.
	Client
	// Both: a server that also dials its peers (Raft, forwarding).
	Both = Server | Client
)

// DefaultTTL is a leaf certificate's lifetime when the request names none.
const DefaultTTL = 365 * 24 * time.Hour

// clockSkew backdates NotBefore so a peer whose clock runs a little behind
// still accepts a certificate issued a moment ago.
const clockSkew = 5 * time.Minute

// ErrRefused is wrapped by SignCSR when the request asks for more than the
// caller allows.
var ErrRefused = errors.New("certificate request refused")

// Request describes a leaf certificate.
type Request struct {
	CommonName    string
	Organizations []string
	DNSNames      []string
	IPs           []net.IP
	Usage         Usage
	// The subject's public key: either PublicKey or a PEM CSR (whose
	// signature is checked and whose key is used). Not both.
	PublicKey crypto.PublicKey
	CSR       []byte
	// TTL is the lifetime (DefaultTTL if zero), cut at the CA's own expiry.
	TTL time.Duration
}

// Issue signs a certificate for r. It trusts r's subject: callers that take
// a subject from a remote party use SignCSR.
func (ca *CA) Issue(r Request) ([]byte, error) {
	pub := r.PublicKey
	switch {
	case pub != nil && r.CSR != nil:
		return nil, errors.New("issue certificate: give a public key or a CSR, not both")
	case r.CSR != nil:
		csr, err := ParseCSR(r.CSR)
		if err != nil {
			return nil, fmt.Errorf("issue certificate for %q: %w", r.CommonName, err)
		}
		pub = csr.PublicKey
	case pub == nil:
		return nil, errors.New("issue certificate: no public key or CSR")
	}
	if err := checkKey(pub); err != nil {
		return nil, fmt.Errorf("issue certificate for %q: %w", r.CommonName, err)
	}
	if r.CommonName == "" {
		return nil, errors.New("issue certificate: empty common name")
	}
	var ext []x509.ExtKeyUsage
	if r.Usage&Server != 0 {
		ext = append(ext, x509.ExtKeyUsageServerAuth)
	}
	if r.Usage&Client != 0 {
		ext = append(ext, x509.ExtKeyUsageClientAuth)
	}
	if len(ext) == 0 || r.Usage&^Both != 0 {
		return nil, fmt.Errorf("issue certificate for %q: invalid usage %d", r.CommonName, r.Usage)
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	now := time.Now()
	notAfter := now.Add(ttl)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %q: %w", r.CommonName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: r.CommonName, Organization: slices.Clone(r.Organizations)},
		DNSNames:              slices.Clone(r.DNSNames),
		IPAddresses:           slices.Clone(r.IPs),
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           ext,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %q: %w", r.CommonName, err)
	}
	return EncodeCert(der), nil
}

// SignCSR signs a certificate request from an untrusted party. The CSR's
// signature must verify, its subject must be exactly allowed's CommonName
// and Organizations (no other attributes), and every SAN it asks for must be
// among allowed's. The certificate carries allowed's subject, SANs, usage
// and TTL: the caller decides, the CSR only proves possession of the key.
func (ca *CA) SignCSR(csrPEM []byte, allowed Request) ([]byte, error) {
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if err := checkCSR(csr, allowed); err != nil {
		return nil, fmt.Errorf("sign certificate request for %q: %w", allowed.CommonName, err)
	}
	allowed.CSR, allowed.PublicKey = nil, csr.PublicKey
	return ca.Issue(allowed)
}

var (
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}
)

func checkCSR(csr *x509.CertificateRequest, allowed Request) error {
	got := Identity{CommonName: csr.Subject.CommonName, Organizations: csr.Subject.Organization}
	want := Identity{CommonName: allowed.CommonName, Organizations: allowed.Organizations}
	if !got.Equal(want) {
		return fmt.Errorf("%w: subject CN=%q O=%q, allowed CN=%q O=%q", ErrRefused,
			got.CommonName, got.Organizations, want.CommonName, want.Organizations)
	}
	for _, n := range csr.Subject.Names {
		if !n.Type.Equal(oidCommonName) && !n.Type.Equal(oidOrganization) {
			return fmt.Errorf("%w: subject attribute %s not allowed", ErrRefused, n.Type)
		}
	}
	for _, d := range csr.DNSNames {
		if !slices.Contains(allowed.DNSNames, d) {
			return fmt.Errorf("%w: DNS name %q not allowed", ErrRefused, d)
		}
	}
	for _, ip := range csr.IPAddresses {
		if !slices.ContainsFunc(allowed.IPs, ip.Equal) {
			return fmt.Errorf("%w: IP address %s not allowed", ErrRefused, ip)
		}
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return fmt.Errorf("%w: email or URI names not allowed", ErrRefused)
	}
	return nil
}

// checkKey accepts the key types TLS 1.3 peers all handle well; anything
// else (RSA, small curves) is refused rather than signed.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve %s not supported (use P-256)", ErrRefused, k.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("%w: key type %T not supported (use ECDSA P-256)", ErrRefused, pub)
}

// NewKeyPair generates a key here and issues r for it: for the CA's own
// host (the first server's certificate, the admin's kubeconfig), where no
// CSR needs to travel.
func (ca *CA) NewKeyPair(r Request) (KeyPair, error) {
	key, err := GenerateKey()
	if err != nil {
		return KeyPair{}, err
	}
	r.PublicKey, r.CSR = &key.PublicKey, nil
	certPEM, err := ca.Issue(r)
	if err != nil {
		return KeyPair{}, err
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Files of the CA in its directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// CACommonName is the subject of the cluster CA.
const CACommonName = "drover-ca"

// CALifetime is how long a new CA is valid.
const CALifetime = 10 * 365 * 24 * time.Hour

// ErrCAExists is returned by NewCA when dir already holds a CA.
var ErrCAExists = errors.New("a cluster CA already exists")

// CA is the cluster's certificate authority.
type CA struct {
	// Cert is the CA certificate; CertPEM is the same, encoded.
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
}

// NewCA creates a self-signed CA (ECDSA P-256, ten years) and writes it to
// dir/ca.crt and dir/ca.key (0600). It refuses to replace an existing CA:
// every certificate of the cluster hangs off it.
func NewCA(dir string) (*CA, error) {
	keyPath, certPath := filepath.Join(dir, CAKeyFile), filepath.Join(dir, CACertFile)
	for _, p := range []string{keyPath, certPath} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("create CA in %s: %w (load it instead, or remove %s to start a new cluster)", dir, ErrCAExists, dir)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create CA in %s: %w", dir, err)
		}
	}
	key, err := GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: CACommonName, Organization: []string{"drover"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// The CA signs leaves only: no intermediate CAs below it.
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	if err := WriteFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	certPEM := EncodeCert(der)
	if err := WriteFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// LoadCA reads the CA NewCA wrote to dir.
func LoadCA(dir string) (*CA, error) {
	kp, err := ReadKeyPair(dir, "ca")
	if err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	cert, err := ParseCertPEM(kp.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	key, err := ParseKey(kp.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA from %s: %w", dir, err)
	}
	if !cert.IsCA || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("load CA from %s: ca.crt is not a CA certificate for ca.key", dir)
	}
	return &CA{Cert: cert, CertPEM: kp.CertPEM, key: key}, nil
}

// Pool is a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Hash is the hex SHA-256 of the CA certificate's DER, the value a join
// token pins.
func (ca *CA) Hash() string { return CertHash(ca.Cert) }

// CertHash is the hex SHA-256 of a certificate's DER encoding.
func CertHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// newSerial returns a random positive 128-bit serial number: unique without
// any counter to keep, and unguessable.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

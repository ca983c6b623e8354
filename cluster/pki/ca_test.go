package pki

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNewCAWritesFilesAndLoads(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode %v, want 0600", st.Mode().Perm())
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != CACommonName {
		t.Errorf("CA cert: IsCA=%v CN=%q", ca.Cert.IsCA, ca.Cert.Subject.CommonName)
	}
	if ca.Cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA key algorithm %v, want ECDSA", ca.Cert.PublicKeyAlgorithm)
	}
	life := ca.Cert.NotAfter.Sub(time.Now())
	if life < CALifetime-time.Hour || life > CALifetime {
		t.Errorf("CA lifetime %v, want about %v", life, CALifetime)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temp files left behind: %v", leftovers)
	}

	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) || loaded.Hash() != ca.Hash() {
		t.Error("loaded CA differs from the created one")
	}
	// The loaded CA signs certificates the original's pool verifies.
	kp := issuePair(t, loaded, NodeIdentity("n1"), Client)
	leaf, err := ParseCertPEM(kp.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("leaf from loaded CA does not verify: %v", err)
	}

	if _, err := NewCA(dir); !errors.Is(err, ErrCAExists) {
		t.Errorf("second NewCA: %v, want ErrCAExists", err)
	}
}

func TestLoadCARejectsMismatchedKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewCA(dir); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := NewCA(other); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(other, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, CAKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(dir); err == nil {
		t.Error("LoadCA accepted a key that is not the certificate's")
	}
	if _, err := LoadCA(t.TempDir()); err == nil {
		t.Error("LoadCA of an empty directory succeeded")
	}
}

func TestKeyPairFiles(t *testing.T) {
	ca := newTestCA(t)
	kp := issuePair(t, ca, AdminIdentity(), Client)
	dir := filepath.Join(t.TempDir(), "pki")
	if err := WriteKeyPair(dir, "admin", kp); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"admin.key": 0o600, "admin.crt": 0o644} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", name, st.Mode().Perm(), want)
		}
	}
	got, err := ReadKeyPair(dir, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.CertPEM) != string(kp.CertPEM) || string(got.KeyPEM) != string(kp.KeyPEM) {
		t.Error("read key pair differs from the written one")
	}
	// A certificate with someone else's key is refused.
	other := issuePair(t, ca, AdminIdentity(), Client)
	if err := WriteFileAtomic(filepath.Join(dir, "admin.key"), other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyPair(dir, "admin"); err == nil {
		t.Error("ReadKeyPair accepted a mismatched key")
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	for _, data := range []string{"first", "second, longer"} {
		if err := WriteFileAtomic(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != data {
			t.Errorf("content %q, want %q", got, data)
		}
	}
	if err := WriteFileAtomic(filepath.Join(t.TempDir(), "missing", "f"), nil, 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
